"""A profile as pgtop holds it in memory, and the conninfo helpers that keep its passwords
out of messages, listings and reprs."""

from __future__ import annotations

from dataclasses import dataclass, field

from pgtop.profiles.errors import ProfileError
from pgtop.target import ConnSettings

# libpq keywords a profile may set, in the order pgtop writes them. Secrets other than the
# password (e.g. sslpassword) are deliberately absent: they have no safe place in this file.
CONN_KEYWORDS: tuple[str, ...] = (
    "service",
    "host",
    "hostaddr",
    "port",
    "user",
    "dbname",
    "sslmode",
    "sslrootcert",
    "sslcert",
    "sslkey",
    "passfile",
    "target_session_attrs",
)
OTHER_KEYS: tuple[str, ...] = ("password", "pooler", "refresh", "read_only", "password_command")
PROFILE_KEYS: tuple[str, ...] = ("uri", *CONN_KEYWORDS, *OTHER_KEYS)
# -- the fleet (issue 17; checked in profiles/fleet_fields.py) ------------------------------
# Written by hand, never by --save-profile: they are out of PROFILE_KEYS, so rewriting a
# profile keeps them as they are.
FLEET_KEYS: tuple[str, ...] = ("env", "colour", "groups", "poolers")


@dataclass(frozen=True)
class Profile:
    """One named set of connection settings; `None`/empty means "not set"."""

    name: str
    conn: dict[str, str] = field(default_factory=dict)  # libpq keywords from CONN_KEYWORDS
    uri: str | None = None
    pooler: str | None = None
    refresh: float | None = None
    read_only: bool = False
    password_command: str | None = None
    password: str | None = None  # only ever saved with allow_password=True
    # -- findings (issue 18): the profile's [findings] table, threshold -> number. Written
    # by hand only: pgtop never saves it, and an update in place keeps it.
    findings: dict[str, float] = field(default_factory=dict)
    # -- the fleet (FLEET_KEYS) --------------------------------------------------------
    env: str | None = None  # e.g. "prod": shown beside the server's name
    colour: str | None = None  # a colour name Rich understands
    groups: tuple[str, ...] = ()  # `pgtop --fleet NAME` watches the profiles listing NAME
    poolers: tuple[str, ...] = ()  # more PgBouncer consoles of this server, after `pooler`

    def __post_init__(self) -> None:
        # Copy so the caller's dict cannot change a frozen profile, and keep one home for
        # the password: a "password" keyword in conn moves to the password field.
        conn = dict(self.conn)
        password = conn.pop("password", None)
        object.__setattr__(self, "conn", conn)
        if self.password is None and password is not None:
            object.__setattr__(self, "password", password)

    def __repr__(self) -> str:
        parts = [f"name={self.name!r}", f"conn={self.conn!r}"]
        if self.uri is not None:
            parts.append(f"uri={redact_conninfo(self.uri)!r}")
        if self.pooler is not None:
            parts.append(f"pooler={redact_conninfo(self.pooler)!r}")
        parts += [f"refresh={self.refresh!r}", f"read_only={self.read_only!r}"]
        parts.append(f"password_command={self.password_command!r}")
        if self.password is not None:
            parts.append("password='***'")
        if self.env or self.colour or self.groups or self.poolers:
            parts += [f"env={self.env!r}", f"colour={self.colour!r}", f"groups={self.groups!r}"]
            parts.append(f"poolers={tuple(redact_conninfo(p) for p in self.poolers)!r}")
        return f"Profile({', '.join(parts)})"

    def conn_params(self) -> dict[str, str]:
        """libpq keywords for PostgreSQL: ``uri`` expanded, keywords on top, password last."""
        params = parse_conninfo(self.uri) if self.uri else {}
        params.update(self.conn)
        if self.password is not None:
            params["password"] = self.password
        return params

    def describe(self) -> str:
        """Password-free label of the PostgreSQL target, e.g. ``monitor@db1:5432/postgres``."""
        params = self.conn_params()
        params.pop("password", None)
        return ConnSettings(params).describe() if params else "(libpq defaults)"


def parse_conninfo(conninfo: str) -> dict[str, str]:
    """libpq keywords of a URI or ``key=value`` string; `ProfileError` if it does not parse."""
    try:
        from psycopg.conninfo import conninfo_to_dict  # libpq's parser; loads libpq

        parsed = conninfo_to_dict(conninfo)
    except Exception:
        # psycopg's message quotes the string, which may contain a password.
        raise ProfileError("not a valid libpq URI or conninfo string") from None
    return {key: str(value) for key, value in parsed.items() if value is not None}


def strip_password(conninfo: str) -> tuple[str, bool]:
    """``conninfo`` without its password, and whether there was one.

    Left untouched when it holds no password; otherwise rebuilt as ``key=value`` conninfo
    (libpq and psycopg accept both forms wherever a URI is accepted).
    """
    params = parse_conninfo(conninfo)
    if "password" not in params:
        return conninfo, False
    del params["password"]
    from psycopg.conninfo import make_conninfo

    return make_conninfo("", **params), True


def redact_conninfo(conninfo: str) -> str:
    """A display form of a URI or conninfo with any password removed."""
    try:
        return strip_password(conninfo)[0]
    except ProfileError:
        return "<invalid conninfo>"
