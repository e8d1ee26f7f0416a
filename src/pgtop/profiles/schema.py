"""What a profile table in the file may hold: checking values read from it, and the values
pgtop writes for a `Profile`. Loading and saving share these so both agree."""

from __future__ import annotations

import dataclasses
import math
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pgtop.model.thresholds import THRESHOLD_NAMES, thresholds_from
from pgtop.profiles.fleet_fields import fleet_value, fleet_values_for_file
from pgtop.profiles.record import (
    CONN_KEYWORDS,
    FLEET_KEYS,
    Profile,
    ProfileError,
    parse_conninfo,
    strip_password,
)
from pgtop.target import MIN_REFRESH

# Names become TOML keys and CLI arguments: keep them plain so headers stay unquoted
# (a dot is allowed; tomlkit then writes [profiles."a.b"]).
_NAME_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")


def check_name(name: str) -> None:
    if not _NAME_RE.fullmatch(name):
        raise ProfileError(
            f"invalid profile name {name!r}: use up to 64 letters, digits, '_', '-' or '.',"
            " starting with a letter or digit"
        )


def profile_from_values(
    name: str, values: Mapping[str, Any], path: Path, warnings: list[str]
) -> Profile:
    """Check types and build a Profile; unknown keys add a warning to ``warnings``."""

    def fail(key: str, wanted: str) -> ProfileError:
        # Name the type found, never the value: a misplaced password must not be echoed.
        found = type(values[key]).__name__
        return ProfileError(f"{path}: profile {name!r}: {key!r} must be {wanted} (got {found})")

    conn: dict[str, str] = {}
    fields: dict[str, Any] = {}
    for key, value in values.items():
        if key == "port" and isinstance(value, int) and not isinstance(value, bool):
            if not 0 < value < 65536:
                raise fail(key, "a port number between 1 and 65535")
            conn[key] = str(value)
        elif key in CONN_KEYWORDS:
            if not isinstance(value, str):
                raise fail(key, "a string")
            conn[key] = value
        elif key in ("uri", "pooler"):
            if not isinstance(value, str) or not value.strip():
                raise fail(key, "a non-empty libpq URI or conninfo string")
            try:
                parse_conninfo(value)
            except ProfileError:
                raise ProfileError(
                    f"{path}: profile {name!r}: {key!r} is not a valid libpq URI or conninfo string"
                ) from None
            fields[key] = value
        elif key == "refresh":
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise fail(key, "a number of seconds")
            if not math.isfinite(value) or value < MIN_REFRESH:
                raise ProfileError(
                    f"{path}: profile {name!r}: 'refresh' must be at least {MIN_REFRESH} seconds"
                )
            fields[key] = float(value)
        elif key == "read_only":
            if not isinstance(value, bool):
                raise fail(key, "true or false")
            fields[key] = value
        elif key in ("password", "password_command"):
            if not isinstance(value, str) or not value:
                raise fail(key, "a non-empty string")
            fields[key] = value
        elif key == "findings":
            fields[key] = _findings_table(name, value, path)
        elif key in FLEET_KEYS:  # the fleet's keys (issue 17), checked in fleet_fields.py
            fields[key] = fleet_value(name, key, value, path)
        else:
            warnings.append(f"{path}: profile {name!r}: unknown key {key!r} ignored")
    return Profile(name=name, conn=conn, **fields)


# -- findings (issue 18): the [findings] table of a profile -------------------------------


def _findings_table(name: str, value: object, path: Path) -> dict[str, float]:
    """A profile's `[profiles.NAME.findings]` table: thresholds as model/findings names
    them (e.g. `idle_in_transaction_s = 120`); a bad one is refused in one line."""
    if not isinstance(value, Mapping):
        raise ProfileError(f"{path}: profile {name!r}: 'findings' must be a table")
    try:
        thresholds_from(value)
    except ValueError as exc:
        known = ", ".join(THRESHOLD_NAMES)
        raise ProfileError(f"{path}: profile {name!r}: {exc} (known: {known})") from None
    return {str(k): v for k, v in value.items()}


def without_passwords(profile: Profile) -> tuple[Profile, bool]:
    """``profile`` with no password field and none in ``uri`` or ``pooler``; whether any was."""
    dropped = profile.password is not None
    stripped: dict[str, str | None] = {}
    try:
        for key in ("uri", "pooler"):
            conninfo = getattr(profile, key)
            if conninfo is not None:
                conninfo, found = strip_password(conninfo)
                dropped |= found
            stripped[key] = conninfo
        poolers = []
        for conninfo in profile.poolers:  # the fleet's extra consoles (issue 17)
            conninfo, found = strip_password(conninfo)
            dropped |= found
            poolers.append(conninfo)
    except ProfileError as exc:
        raise ProfileError(f"profile {profile.name!r}: {exc}") from None
    return dataclasses.replace(profile, password=None, poolers=tuple(poolers), **stripped), dropped


def values_for_file(profile: Profile) -> dict[str, Any]:
    """The keys and TOML values of ``profile``'s table, in the order pgtop writes them."""
    values: dict[str, Any] = {}
    if profile.uri is not None:
        values["uri"] = profile.uri
    for key in CONN_KEYWORDS:
        value = profile.conn.get(key)
        if value is None:
            continue
        # A single port reads better as a TOML integer; "5432,5433" must stay a string.
        values[key] = int(value) if key == "port" and value.isdigit() else value
    if profile.password is not None:
        values["password"] = profile.password
    if profile.pooler is not None:
        values["pooler"] = profile.pooler
    if profile.refresh is not None:
        values["refresh"] = float(profile.refresh)
    if profile.read_only:
        values["read_only"] = True
    if profile.password_command is not None:
        values["password_command"] = profile.password_command
    values.update(fleet_values_for_file(profile))
    return values
