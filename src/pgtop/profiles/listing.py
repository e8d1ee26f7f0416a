"""The ``--list-profiles`` table."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from pgtop.model.format import visible
from pgtop.profiles.paths import profiles_path
from pgtop.profiles.record import Profile, ProfileError, parse_conninfo, strip_password
from pgtop.target import ConnSettings


def format_profile_list(profiles: Mapping[str, Profile], path: Path | None = None) -> str:
    """The ``--list-profiles`` table: name, password-free target, flags."""
    if not profiles:
        return f"no profiles in {path or profiles_path()}"
    rows = [("NAME", "TARGET", "FLAGS")]
    for name, profile in profiles.items():
        flags: list[str] = []
        if profile.read_only:
            flags.append("read-only")
        if profile.pooler:
            flags.append(f"pooler={_describe_conninfo(profile.pooler)}")
        if profile.refresh is not None:
            flags.append(f"refresh={profile.refresh:g}s")
        if profile.password_command:
            flags.append("password_command")
        if profile.password is not None or any(map(_has_password, (profile.uri, profile.pooler))):
            flags.append("saved-password")
        # The fleet's keys (issue 17).
        if profile.env:
            flags.append(f"env={profile.env}")
        if profile.groups:
            flags.append(f"groups={','.join(profile.groups)}")
        if profile.poolers:
            flags.append(f"+{len(profile.poolers)} pooler(s)")
        # A hand-edited file may hold escape characters: never send them to the terminal.
        rows.append((visible(name), visible(_describe_profile(profile)), visible(", ".join(flags))))
    width_name = max(len(row[0]) for row in rows)
    width_target = max(len(row[1]) for row in rows)
    lines = [f"{n:<{width_name}}  {t:<{width_target}}  {f}".rstrip() for n, t, f in rows]
    return "\n".join(lines)


def _describe_profile(profile: Profile) -> str:
    try:
        return profile.describe()
    except ProfileError:
        return "<invalid uri>"


def _describe_conninfo(conninfo: str) -> str:
    try:
        # describe() shows host, port, user, dbname or service: never the password.
        return ConnSettings(parse_conninfo(conninfo)).describe()
    except ProfileError:
        return "<invalid>"


def _has_password(conninfo: str | None) -> bool:
    if not conninfo:
        return False
    try:
        return strip_password(conninfo)[1]
    except ProfileError:
        return False
