"""What pgtop watches: connection settings for PostgreSQL and, optionally, PgBouncer.

A `Target` is built from the command line or a profile and handed to the collectors.
It holds libpq-style keywords (host, port, user, dbname, sslmode, service, ...), never
resolving environment variables itself: the drivers do that, as libpq would.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

DEFAULT_REFRESH = 2.0
MIN_REFRESH = 0.5
DEFAULT_CONNECT_TIMEOUT = 5.0

# libpq keywords that asyncpg understands directly, mapped to its argument names.
_ASYNCPG_KEYWORDS = {
    "host": "host",
    "hostaddr": "host",
    "port": "port",
    "user": "user",
    "dbname": "database",
    "password": "password",
    "passfile": "passfile",
    "service": "service",
    "sslmode": "ssl",
    "target_session_attrs": "target_session_attrs",
}


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

    def asyncpg_kwargs(self) -> dict[str, Any]:
        """Arguments for `asyncpg.connect`; unset ones fall back to PG* variables there."""
        kwargs: dict[str, Any] = {}
        for key, value in self.params.items():
            name = _ASYNCPG_KEYWORDS.get(key)
            if name is None or value == "":
                continue
            kwargs[name] = int(value) if key == "port" and value.isdigit() else value
        return kwargs

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

    def replace(self, **changes: Any) -> Target:
        return replace(self, **changes)
