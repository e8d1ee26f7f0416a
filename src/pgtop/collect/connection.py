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
            error = CollectError(
                f"cannot connect to {settings.describe()}: the server asks for a password "
                "and none was given — use -W, PGPASSWORD or ~/.pgpass",
                "auth",
            )
            error.needs_password = True
        raise error from None


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
