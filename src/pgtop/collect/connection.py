"""Opening and closing pgtop's own asyncpg connections, the same way for polls and actions."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

from pgtop.collect.conninfo import AsyncpgArgs, ConnInfoError, asyncpg_args
from pgtop.collect.errors import CollectError, describe_postgres_error
from pgtop.target import ConnSettings

if TYPE_CHECKING:
    import asyncpg

APPLICATION_NAME = "pgtop"


async def open_connection(
    settings: ConnSettings,
    *,
    password: str | None,
    timeout: float,
    server_settings: dict[str, str] | None = None,
) -> asyncpg.Connection:
    """Connect as libpq would (PG* variables, .pgpass, service file), named `pgtop`.

    Raises CollectError with one line that never holds the password.
    """
    import asyncpg  # deferred: keeps `pgtop --help` fast

    try:
        args = asyncpg_args(settings.params, os.environ)
    except ConnInfoError as exc:
        raise CollectError(f"bad connection settings: {exc}", "usage") from None
    given = password if password is not None else args.password
    # asyncpg would answer a password request with an empty password (a FATAL in the
    # server's log); libpq gives up quietly and says whether one was asked for.
    unknown = given is None and not password_known(args, os.environ)
    if unknown and await _libpq_wants_password(settings, timeout):
        raise _password_needed(settings)
    try:
        return await asyncpg.connect(
            args.dsn,
            password=given,
            timeout=timeout,
            server_settings={
                **args.server_settings,
                "application_name": APPLICATION_NAME,
                **(server_settings or {}),
            },
        )
    except Exception as exc:
        error = describe_postgres_error(exc, settings.describe())
        if error.kind == "auth" and given is None and not password_known(args, os.environ):
            error = _password_needed(settings)
        raise error from None


def _password_needed(settings: ConnSettings) -> CollectError:
    error = CollectError(
        f"cannot connect to {settings.describe()}: the server asks for a password "
        "and none was given — use -W, PGPASSWORD or ~/.pgpass",
        "auth",
    )
    error.needs_password = True
    return error


async def _libpq_wants_password(settings: ConnSettings, timeout: float) -> bool:
    """Ask libpq, as psql does (PQconnectionNeedsPassword), in a thread: it blocks.

    Only when no password is known; a server that lets pgtop in without one (trust,
    peer) costs one extra short connection at start-up.
    """
    import asyncio

    from psycopg import pq
    from psycopg.conninfo import make_conninfo

    conninfo = make_conninfo(
        "", **settings.params, application_name=APPLICATION_NAME,
        connect_timeout=str(max(2, round(timeout))),
    )  # fmt: skip

    def probe() -> bool:
        conn = pq.PGconn.connect(conninfo.encode())
        try:
            return conn.status == pq.ConnStatus.BAD and conn.needs_password
        finally:
            conn.finish()

    try:
        return await asyncio.to_thread(probe)
    except Exception:  # libpq refused the settings: asyncpg's attempt will say why
        return False


async def close_connection(conn: asyncpg.Connection | None) -> None:
    """Close politely, or drop the socket if the server does not answer."""
    if conn is None or conn.is_closed():
        return
    try:
        await conn.close(timeout=2)
    except Exception:
        conn.terminate()


def password_known(args: AsyncpgArgs, environ: os._Environ[str] | dict[str, str]) -> bool:
    """Whether libpq would have had a password to send: PGPASSWORD or a .pgpass line.

    psql prompts only when it had none; a wrong password from these is an error instead.
    """
    if args.password is not None or environ.get("PGPASSWORD"):
        return True
    try:  # asyncpg's own resolution (private API): the .pgpass lookup it just did
        from asyncpg import connect_utils

        _addrs, params = connect_utils._parse_connect_dsn_and_args(
            dsn=args.dsn, host=None, port=None, user=None, password=None, passfile=None,
            database=None, ssl=None, service=None, servicefile=None, direct_tls=None,
            server_settings=None, target_session_attrs=None, krbsrvname=None, gsslib=None,
        )  # fmt: skip
    except Exception:
        return True  # unsure: do not prompt for what may be a wrong stored password
    return params.password is not None
