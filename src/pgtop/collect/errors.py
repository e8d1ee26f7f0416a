"""Turning driver exceptions into one line a DBA can act on."""

from __future__ import annotations

import asyncio
import socket
import ssl


class CollectError(Exception):
    """A poll or connection failure, worded for people.

    `kind` lets callers choose an exit code or a header badge:
    "connect" (unreachable, timeout), "auth", "privilege", "usage", "timeout", "server".
    """

    def __init__(self, message: str, kind: str = "server") -> None:
        super().__init__(message)
        self.message = message
        self.kind = kind
        # The server asked for a password and none was given: a terminal may prompt.
        self.needs_password = False

    def __str__(self) -> str:
        return self.message


def _first_line(text: str) -> str:
    line = text.strip().splitlines()[0] if text.strip() else ""
    return line.rstrip(".")


def pooler_not_postgres(where: str) -> CollectError:
    """pgtop pointed at PgBouncer's pooled port: its pids and SETs would not be the server's."""
    return CollectError(
        f"{where} is PgBouncer, not PostgreSQL: point pgtop at PostgreSQL and pass this "
        "address with --pooler",
        "connect",
    )


def describe_postgres_error(exc: BaseException, where: str) -> CollectError:
    """Map an asyncpg/OS exception raised while talking to `where` to a CollectError."""
    import asyncpg  # deferred: keeps `pgtop --help` fast

    if isinstance(exc, CollectError):
        return exc
    if isinstance(exc, asyncpg.TargetServerAttributeNotMatched):
        return CollectError(
            f"cannot connect to {where}: no server there matches target_session_attrs", "connect"
        )
    if isinstance(exc, asyncpg.ClientConfigurationError):
        return CollectError(f"bad connection settings: {_first_line(str(exc))}", "usage")
    if isinstance(exc, ssl.SSLCertVerificationError):
        reason = exc.verify_message or _first_line(str(exc))
        return CollectError(
            f"cannot connect to {where}: server certificate not accepted ({reason})"
            " — check sslrootcert and sslmode",
            "connect",
        )
    if isinstance(exc, ssl.SSLError):
        reason = exc.reason or _first_line(str(exc))
        return CollectError(f"cannot connect to {where}: TLS failed ({reason})", "connect")
    if isinstance(exc, asyncpg.ProtocolViolationError) and "unsupported startup parameter" in str(
        exc
    ):
        return pooler_not_postgres(where)  # PgBouncer's refusal of pgtop's startup settings
    if isinstance(exc, asyncio.TimeoutError | TimeoutError):
        return CollectError(f"cannot connect to {where}: no answer (timed out)", "connect")
    if isinstance(
        exc, asyncpg.InvalidPasswordError | asyncpg.InvalidAuthorizationSpecificationError
    ):
        detail = _first_line(str(exc))
        return CollectError(
            f"cannot connect to {where}: {detail} — check ~/.pgpass, PGPASSWORD or -W", "auth"
        )
    if isinstance(exc, asyncpg.InvalidCatalogNameError):
        return CollectError(f"cannot connect to {where}: {_first_line(str(exc))}", "connect")
    if isinstance(exc, asyncpg.InsufficientPrivilegeError):
        return CollectError(
            f"{where}: permission denied: {_first_line(str(exc))} — grant pg_monitor to this role",
            "privilege",
        )
    if isinstance(exc, asyncpg.QueryCanceledError):
        return CollectError(f"{where}: query cancelled by statement_timeout", "timeout")
    if isinstance(exc, asyncpg.TooManyConnectionsError | asyncpg.CannotConnectNowError):
        return CollectError(f"cannot connect to {where}: {_first_line(str(exc))}", "connect")
    if isinstance(exc, asyncpg.PostgresError):
        return CollectError(f"{where}: {_first_line(str(exc))}", "server")
    if isinstance(exc, asyncpg.InterfaceError | asyncpg.exceptions.ConnectionDoesNotExistError):
        return CollectError(f"{where}: connection lost ({_first_line(str(exc))})", "connect")
    if isinstance(exc, ConnectionRefusedError):
        return CollectError(f"cannot connect to {where}: connection refused", "connect")
    if isinstance(exc, socket.gaierror):
        return CollectError(f"cannot connect to {where}: unknown host", "connect")
    if isinstance(exc, OSError):
        reason = exc.strerror or _first_line(str(exc)) or type(exc).__name__
        return CollectError(f"cannot connect to {where}: {reason}", "connect")
    if isinstance(exc, ValueError):  # asyncpg rejects malformed DSNs with ValueError
        return CollectError(f"bad connection settings: {_first_line(str(exc))}", "usage")
    return CollectError(f"{where}: {type(exc).__name__}: {_first_line(str(exc))}", "server")
