"""Finding, reading and rewriting ``profiles.toml``.

Writes go through tomlkit so comments, key order, unknown keys and other tables survive.
A file that cannot be read or parsed is reported with its line and column and is never
written over. Nothing here prints: warnings are returned as strings for the CLI.
`save_profile` and `delete_profile` are the only writers of the file in pgtop.
"""

from __future__ import annotations

import os
import re
import stat
from collections.abc import Mapping, MutableMapping
from pathlib import Path
from typing import Any

import tomlkit
from tomlkit.exceptions import InvalidCharInStringError, TOMLKitError, UnexpectedCharError
from tomlkit.items import Table
from tomlkit.toml_document import TOMLDocument

from pgtop.profiles.atomic import atomic_write
from pgtop.profiles.comments import dumps_without, pop_trailing_trivia
from pgtop.profiles.paths import profiles_path
from pgtop.profiles.record import CONN_KEYWORDS, PROFILE_KEYS, Profile, ProfileError
from pgtop.profiles.schema import (
    check_name,
    profile_from_values,
    values_for_file,
    without_passwords,
)

SECTION = "profiles"

_LOCATION_SUFFIX = re.compile(r"\s+at line \d+ col \d+$")
_FIX_BY_HAND = "fix it by hand (pgtop will not overwrite it)"


def load_profiles(path: Path | None = None) -> tuple[dict[str, Profile], list[str]]:
    """All profiles in file order, plus warnings (loose permissions, unknown keys).

    A missing file is simply empty. Raises `ProfileError` for an unreadable or unparsable
    file, or a profile with a value of the wrong type.
    """
    path = path or profiles_path()
    doc, warnings = _read_document(path)
    section = _section(doc, path) if doc is not None else None
    profiles: dict[str, Profile] = {}
    if section is None:
        return profiles, warnings
    for name, table in section.items():
        if not isinstance(table, Mapping):
            raise ProfileError(f"{path}: profile {name!r} must be a table ([{SECTION}.{name}])")
        profiles[name] = profile_from_values(name, _unwrap(table), path, warnings)
    return profiles, warnings


def save_profile(
    profile: Profile, path: Path | None = None, *, allow_password: bool = False
) -> list[str]:
    """Create or replace one profile; returns warnings. Other content stays as it was.

    Replacing sets exactly the known keys ``profile`` sets (others are removed) and keeps
    unknown keys. Without ``allow_password`` any password (field, ``uri``, ``pooler``) is
    left out. Raises `ProfileError` if the file cannot be parsed or written.
    """
    path = path or profiles_path()
    check_name(profile.name)
    unknown = sorted(set(profile.conn) - set(CONN_KEYWORDS))
    if unknown:
        raise ProfileError(f"profile {profile.name!r}: unknown connection keyword(s) {unknown}")
    warnings: list[str] = []
    password_free, has_password = without_passwords(profile)
    if not allow_password:
        profile = password_free
        if has_password:
            warnings.append(
                f"password not saved in profile {profile.name!r}: pgtop will use .pgpass,"
                " PGPASSWORD, the service file or a password_command"
            )
    elif has_password:
        warnings.append(f"the password of profile {profile.name!r} is stored in plain text")
    else:  # say so: a "stored" warning here would make the user think it was
        warnings.append(
            f"no password given, so none stored in profile {profile.name!r}"
            " (--save-password keeps one given in the URI or conninfo)"
        )
    values = values_for_file(profile)
    profile_from_values(profile.name, values, path, [])  # refuse what loading would refuse

    doc, read_warnings = _read_document(path)  # raises, so a corrupt file is never replaced
    if read_warnings:
        warnings.append(f"{path}: permissions tightened to 0600")
    added = False
    if doc is None:
        doc = tomlkit.document()
    section = _section(doc, path)
    if section is None:
        section = tomlkit.table(is_super_table=True)
        doc[SECTION] = section
    existing = section.get(profile.name)
    if existing is None:
        table = tomlkit.table()
        for key, value in values.items():
            table[key] = value
        table.add(tomlkit.nl())  # a blank line before whatever table follows
        section[profile.name] = table
        added = True
    elif isinstance(existing, MutableMapping):
        # Update in place so the table keeps its position, comments and unknown keys.
        trailing = pop_trailing_trivia(existing) if isinstance(existing, Table) else []
        for key in PROFILE_KEYS:
            if key in values:
                existing[key] = values[key]
            elif key in existing:
                del existing[key]
        for item in trailing:
            existing.add(item)
    else:
        raise ProfileError(f"{path}: profile {profile.name!r} must be a table; fix it by hand")
    text = tomlkit.dumps(doc)
    if added:
        text = text.rstrip("\n") + "\n"  # the separator line is not wanted at end of file
    atomic_write(path, text)
    return warnings


def delete_profile(name: str, path: Path | None = None) -> bool:
    """Remove a profile; False if there was none. Raises `ProfileError` like `save_profile`.

    Comments after the profile's last key, separated from it by a blank line, describe what
    follows and stay. A comment just above the removed header stays too: pgtop never
    guesses what to drop.
    """
    path = path or profiles_path()
    doc, _ = _read_document(path)
    if doc is None:
        return False
    section = _section(doc, path)
    if section is None or name not in section:
        return False
    original = tomlkit.dumps(doc)
    text = dumps_without(doc, SECTION, section, name)
    if text is None:  # the careful cut did not check out: plain removal, comments and all
        fresh = tomlkit.parse(original)
        del fresh[SECTION][name]
        text = tomlkit.dumps(fresh)
    atomic_write(path, text)
    return True


def _read_document(path: Path) -> tuple[TOMLDocument | None, list[str]]:
    """The parsed file (`None` if there is none) and permission warnings."""
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return None, []
    except OSError as exc:
        raise ProfileError(f"{path}: cannot read profiles file: {exc.strerror}") from None
    warnings = _permission_warnings(path)
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        col = exc.start - (data.rfind(b"\n", 0, exc.start) + 1) + 1
        raise ProfileError(
            f"{path}:{line}:{col}: profiles file is not valid UTF-8; {_FIX_BY_HAND}"
        ) from None
    try:
        return tomlkit.parse(text), warnings
    except TOMLKitError as exc:
        raise ProfileError(_parse_error_message(path, exc)) from None


def _parse_error_message(path: Path, exc: TOMLKitError) -> str:
    line, col = getattr(exc, "line", None), getattr(exc, "col", None)
    # These errors quote the offending character, which could be part of a secret.
    if isinstance(exc, UnexpectedCharError | InvalidCharInStringError):
        reason = "unexpected character"
    else:
        reason = _LOCATION_SUFFIX.sub("", str(exc)).rstrip(".") or "invalid TOML"
    reason = " ".join(reason.split())  # always one line
    # tomlkit counts columns from 0; editors and compilers count from 1.
    where = f"{path}:{line}:{col + 1}" if line is not None and col is not None else f"{path}"
    return f"{where}: cannot parse profiles file: {reason}; {_FIX_BY_HAND}"


def _permission_warnings(path: Path) -> list[str]:
    if os.name != "posix":
        return []
    try:
        mode = stat.S_IMODE(path.stat().st_mode)
    except OSError:
        return []
    if mode & 0o077:
        # Writable by others is worse than readable: password_command runs what it says.
        return [
            f"{path} is accessible by group/others (mode {mode:04o});"
            f" it may hold passwords and commands, run: chmod 600 {path}"
        ]
    return []


def _section(doc: MutableMapping[str, Any], path: Path) -> MutableMapping[str, Any] | None:
    section = doc.get(SECTION)
    if section is not None and not isinstance(section, MutableMapping):
        raise ProfileError(f"{path}: {SECTION!r} must be a table of profiles")
    return section


def _unwrap(table: Mapping[str, Any]) -> dict[str, Any]:
    unwrap = getattr(table, "unwrap", None)
    return unwrap() if callable(unwrap) else dict(table)
