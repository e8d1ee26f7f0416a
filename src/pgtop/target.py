"""What pgtop watches: connection settings for PostgreSQL and, optionally, PgBouncer.

A `Target` is built from the command line or a profile and handed to the collectors.
It holds libpq-style keywords (host, port, user, dbname, sslmode, service, ...), never
resolving environment variables itself: collect/conninfo.py does that when connecting.
Both records are immutable. pgtop.cli, profiles/target.py and the demo build them; a
changed target (a profile switch, a password from password_command) is a new one, made
with `Target.replace`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from typing import Any
from urllib.parse import unquote

from pgtop.model.thresholds import DEFAULT_THRESHOLDS, Thresholds

DEFAULT_REFRESH = 2.0
MIN_REFRESH = 0.5
DEFAULT_CONNECT_TIMEOUT = 5.0


# Where a password sits in a conninfo string, found textually: the string may be malformed.
# libpq ends a URI's user:password at the first '@' or '/'.
_PASSWORD_SPOTS = (
    re.compile(r"://[^:@/]*:([^@/]*)@"),
    re.compile(r"[?&]password=([^&#]*)"),
    re.compile(r"\bpassword\s*=\s*('(?:[^'\\]|\\.)*'?|\S+)"),
)


def pooler_uri_problem(uri: str) -> str | None:
    """Why libpq cannot parse a --pooler URI (its password shown as ***), or None.
    Imports psycopg: ~0.3 s on a slow machine, kept off the path to the first screen."""
    from psycopg.conninfo import conninfo_to_dict

    try:
        conninfo_to_dict(uri)
    except Exception as exc:
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else "cannot parse"
        return f"invalid --pooler URI: {redact(reason, uri)}"
    return None


def redact(message: str, conninfo: str | None) -> str:
    """`message` with every password of `conninfo` (as written or decoded) shown as ***.

    For errors about a connection string, which libpq quotes back in part or whole.
    """
    if not conninfo:
        return message
    secrets: set[str] = set()
    for spot in _PASSWORD_SPOTS:
        for found in spot.findall(conninfo):
            secrets.update({found, unquote(found), found.strip("'").replace("\\'", "'")})
    for secret in sorted(secrets - {""}, key=len, reverse=True):
        message = message.replace(secret, "***")
    return message


@dataclass(frozen=True, slots=True)
class ConnSettings:
    """libpq connection keywords; empty means 'libpq defaults and PG* variables'."""

    params: dict[str, str] = field(default_factory=dict)

    def __repr__(self) -> str:
        shown = {k: ("***" if k == "password" else v) for k, v in self.params.items()}
        return f"ConnSettings({shown!r})"

    def get(self, key: str) -> str | None:
        return self.params.get(key)

    def with_overrides(self, **overrides: str | None) -> ConnSettings:
        merged = dict(self.params)
        merged.update({k: v for k, v in overrides.items() if v is not None})
        return ConnSettings(merged)

    def without_password(self) -> ConnSettings:
        return ConnSettings({k: v for k, v in self.params.items() if k != "password"})

    def describe(self) -> str:
        """A short, password-free label such as `monitor@db1:5432/postgres`."""
        p = self.params
        if "service" in p and not p.get("host"):
            return f"service={p['service']}"
        host = p.get("host") or "local"
        port = p.get("port") or ""
        user = p.get("user")
        db = p.get("dbname")
        text = f"{user}@" if user else ""
        text += host + (f":{port}" if port else "")
        return text + (f"/{db}" if db else "")


@dataclass(frozen=True, slots=True)
class Target:
    """Everything a monitoring session needs to know about where to look."""

    postgres: ConnSettings = field(default_factory=ConnSettings)
    # libpq URI or conninfo of the PgBouncer admin console; may hold a password, so repr=False.
    pooler: str | None = field(default=None, repr=False)
    refresh: float = DEFAULT_REFRESH
    connect_timeout: float = DEFAULT_CONNECT_TIMEOUT
    read_only: bool = False
    password_command: str | None = None
    profile_name: str | None = None
    # --read-only given when pgtop started: it holds for the whole run, profile switches too.
    read_only_locked: bool = False
    # When findings are raised: defaults, or a profile's [findings] table.
    findings: Thresholds = DEFAULT_THRESHOLDS
    # -- the fleet (issue 17): set from a profile, shown beside the server's name --------
    env: str | None = None  # any word, e.g. "prod"
    colour: str | None = None  # a colour name Rich understands (checked by profiles)
    # More PgBouncer consoles of the same server (several processes, so_reuseport), after
    # `pooler`; their figures are added up. May hold passwords, so repr=False.
    poolers: tuple[str, ...] = field(default=(), repr=False)

    @property
    def pooler_consoles(self) -> tuple[str, ...]:
        """Every PgBouncer console of this server: `pooler` first, then `poolers`."""
        return ((self.pooler,) if self.pooler else ()) + self.poolers

    def replace(self, **changes: Any) -> Target:
        return replace(self, **changes)
