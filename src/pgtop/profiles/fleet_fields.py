"""The fleet keys of a profile (issue 17): ``env``, ``colour``, ``groups``, ``poolers``,
and choosing the profiles a fleet watches (``-P a -P b``, ``--fleet``, ``--fleet NAME``).

    [profiles.db1]
    host = "db1"
    env = "prod"                 # any word, shown beside the server's name
    colour = "red"               # a colour name Rich understands ("red", "#ff8800", ...)
    groups = ["eu", "billing"]   # pgtop --fleet eu
    pooler = "postgresql://pgbouncer@db1:6432/pgbouncer"
    poolers = ["postgresql://pgbouncer@db1:6433/pgbouncer"]  # more processes, same server

Pure checks on values read from the file; no state.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pgtop.profiles.record import FLEET_KEYS, Profile, ProfileError, parse_conninfo

_WORD_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,31}")

__all__ = ["FLEET_KEYS", "choose_fleet", "fleet_value", "fleet_values_for_file"]


def check_colour(colour: str) -> str:
    """`colour` if Rich can draw it; ProfileError otherwise."""
    from rich.color import Color, ColorParseError

    try:
        Color.parse(colour)
    except ColorParseError:
        raise ProfileError(
            f"unknown colour {colour!r} (try a name such as red or bright_blue, or #rrggbb)"
        ) from None
    return colour


def fleet_value(name: str, key: str, value: Any, path: Path) -> Any:
    """The checked value of fleet key `key` of profile `name`; ProfileError otherwise."""
    where = f"{path}: profile {name!r}: {key!r}"
    if key == "env":
        if not isinstance(value, str) or not _WORD_RE.fullmatch(value):
            raise ProfileError(f'{where} must be one word, e.g. "prod"')
        return value
    if key == "colour":
        if not isinstance(value, str):
            raise ProfileError(f'{where} must be a colour name, e.g. "red"')
        try:
            return check_colour(value)
        except ProfileError as exc:
            raise ProfileError(f"{where}: {exc}") from None
    if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
        raise ProfileError(f"{where} must be a list of strings")
    if key == "groups":
        bad = [v for v in value if not _WORD_RE.fullmatch(v)]
        if bad:
            raise ProfileError(f"{where}: {bad[0]!r} is not one word")
        return tuple(dict.fromkeys(value))
    for conninfo in value:  # poolers
        try:
            parse_conninfo(conninfo)
        except ProfileError:
            raise ProfileError(
                f"{where} holds something that is not a libpq URI or conninfo string"
            ) from None
    return tuple(value)


def fleet_values_for_file(profile: Profile) -> dict[str, Any]:
    """The fleet keys `profile` sets, as TOML values."""
    values: dict[str, Any] = {}
    if profile.env is not None:
        values["env"] = profile.env
    if profile.colour is not None:
        values["colour"] = profile.colour
    if profile.groups:
        values["groups"] = list(profile.groups)
    if profile.poolers:
        values["poolers"] = list(profile.poolers)
    return values


def choose_fleet(
    saved: Mapping[str, Profile], names: list[str], group: str | None
) -> list[Profile]:
    """The profiles a fleet watches, in the order asked (file order for --fleet).

    `names`: each -P; `group`: None without --fleet, "" for every profile, else the
    profiles whose groups list it. ProfileError names an unknown profile or group.
    """
    chosen: dict[str, Profile] = {}
    for name in names:
        if name not in saved:
            raise ProfileError(f"no profile named {name!r} — see pgtop --list-profiles")
        chosen[name] = saved[name]
    if group is not None:
        members = [p for p in saved.values() if group == "" or group in p.groups]
        if not members:
            if group == "":
                raise ProfileError("--fleet: no saved profiles — save some with --save-profile")
            known = sorted({g for p in saved.values() for g in p.groups})
            hint = f" (groups: {', '.join(known)})" if known else " (no profile lists groups)"
            raise ProfileError(f"--fleet: no profile is in group {group!r}{hint}")
        for profile in members:
            chosen.setdefault(profile.name, profile)
    return list(chosen.values())


assert set(FLEET_KEYS) == {"env", "colour", "groups", "poolers"}
