"""libpq connection keywords turned into asyncpg's arguments: honoured, or refused.

Rule: pgtop connects as psql would or not at all. Every keyword psql accepts is either
handed to asyncpg with the same meaning (TLS files, host and port lists,
target_session_attrs ...), has no effect on what is checked (keepalives, application
name), or is refused in one line — never quietly dropped when it asks for a check.
"""

from __future__ import annotations

import shlex
from collections.abc import Mapping
from dataclasses import dataclass, field
from urllib.parse import urlencode

from pgtop.collect.pg_service import ServiceError, expand_service

# asyncpg reads these from a DSN's query string with libpq's meaning (and the matching
# PG* variables itself: PGSSLROOTCERT, PGSSLMODE, PGTARGETSESSIONATTRS, ...).
PASSED = (
    "host",
    "port",
    "dbname",
    "user",
    "passfile",
    "sslmode",
    "sslcert",
    "sslkey",
    "sslrootcert",
    "sslcrl",
    "sslpassword",
    "sslnegotiation",
    "ssl_min_protocol_version",
    "ssl_max_protocol_version",
    "target_session_attrs",
    "krbsrvname",
    "gsslib",
)
# Accepted, and without effect on what is checked: pgtop names itself and keeps asyncpg's
# socket defaults.
IGNORED = (
    "application_name",
    "fallback_application_name",
    "client_encoding",
    "keepalives",
    "keepalives_idle",
    "keepalives_interval",
    "keepalives_count",
    "tcp_user_timeout",
    "sslcompression",
    "sslsni",
    "load_balance_hosts",
    "connect_timeout",  # read by the command line (cli.build_target)
)
# Values that ask for nothing more than asyncpg does; any other value asks for a check
# or a feature asyncpg lacks, and is refused.
HARMLESS_VALUES = {
    "gssencmode": ("disable", "prefer"),
    "channel_binding": ("disable", "prefer"),
    "sslcertmode": ("disable", "allow"),
    "replication": ("0", "false", "off", "no"),
    "requiressl": ("0", "1"),
}
# PG* variables libpq reads that asyncpg does not; the keyword wins over the variable.
ENV_KEYWORDS = {
    "PGHOSTADDR": "hostaddr",
    "PGOPTIONS": "options",
    "PGREQUIREPEER": "requirepeer",
    "PGREQUIREAUTH": "require_auth",
    "PGGSSENCMODE": "gssencmode",
    "PGCHANNELBINDING": "channel_binding",
    "PGSSLCRLDIR": "sslcrldir",
    "PGSSLCERTMODE": "sslcertmode",
    "PGREQUIRESSL": "requiressl",
}


class ConnInfoError(Exception):
    """Settings pgtop cannot honour; the message is one line without secrets."""


@dataclass(frozen=True)
class AsyncpgArgs:
    """What `asyncpg.connect` gets: the password stays out of the DSN (and so of errors)."""

    dsn: str
    password: str | None
    server_settings: dict[str, str] = field(default_factory=dict)


def resolve(params: Mapping[str, str], environ: Mapping[str, str]) -> dict[str, str]:
    """Keywords after service expansion and the PG* variables asyncpg would not read."""
    try:
        out = expand_service(params, environ)
    except ServiceError as exc:
        raise ConnInfoError(str(exc)) from None
    for var, key in ENV_KEYWORDS.items():
        if environ.get(var) and key not in out:
            out[key] = environ[var]
    return {k: v for k, v in out.items() if v != ""}


def _options_settings(options: str) -> dict[str, str]:
    """`-c name=value` and `--name=value` from libpq's `options`, as startup settings."""
    words = shlex.split(options)
    settings: dict[str, str] = {}
    i = 0
    while i < len(words):
        word = words[i]
        if word == "-c" and i + 1 < len(words):
            pair, i = words[i + 1], i + 2
        elif (word.startswith("-c") and len(word) > 2) or (word.startswith("--") and "=" in word):
            pair, i = word[2:], i + 1
        else:
            raise ConnInfoError(
                f"options {options!r}: only -c name=value settings are supported by pgtop"
            )
        name, sep, value = pair.partition("=")
        if not sep or not name:
            raise ConnInfoError(f"options {options!r}: expected -c name=value")
        settings[name.replace("-", "_")] = value
    return settings


def asyncpg_args(params: Mapping[str, str], environ: Mapping[str, str]) -> AsyncpgArgs:
    """Translate libpq keywords (and their PG* variables) to asyncpg, or refuse them."""
    resolved = resolve(params, environ)
    query: dict[str, str] = {}
    settings: dict[str, str] = {}
    for key, value in resolved.items():
        if key in PASSED or key == "password" or key in IGNORED:
            continue
        if key in HARMLESS_VALUES:
            if value.lower() not in HARMLESS_VALUES[key]:
                raise ConnInfoError(f"{key}={value} is not supported by pgtop (asyncpg)")
        elif key == "options":
            settings = _options_settings(value)
        elif key != "hostaddr":
            raise ConnInfoError(f"connection keyword {key!r} is not supported by pgtop")
    query.update({k: resolved[k] for k in PASSED if k in resolved})
    if resolved.get("requiressl") == "1":
        query.setdefault("sslmode", "require")
    hostaddr = resolved.get("hostaddr")
    if hostaddr:
        # asyncpg has no hostaddr: connecting there is right only when no host name is
        # needed besides it (for verify-full or .pgpass).
        if "host" in resolved and resolved["host"] != hostaddr:
            raise ConnInfoError("hostaddr beside host is not supported by pgtop: give only host")
        query["host"] = hostaddr
    return AsyncpgArgs(
        dsn="postgresql://?" + urlencode(query) if query else "postgresql://",
        password=resolved.get("password"),
        server_settings=settings,
    )
