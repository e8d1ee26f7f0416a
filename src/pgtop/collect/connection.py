"""Opening and closing pgtop's own asyncpg connections, the same way for polls and actions."""

from __future__ import annotations

from typing import TYPE_CHECKING

from pgtop.collect.errors import describe_postgres_error
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

    kwargs = settings.asyncpg_kwargs()
    if password is not None:
        kwargs["password"] = password
    try:
        return await asyncpg.connect(
            **kwargs,
            timeout=timeout,
            server_settings={"application_name": APPLICATION_NAME, **(server_settings or {})},
        )
    except Exception as exc:
        raise describe_postgres_error(exc, settings.describe()) from None


async def close_connection(conn: asyncpg.Connection | None) -> None:
    """Close politely, or drop the socket if the server does not answer."""
    if conn is None or conn.is_closed():
        return
    try:
        await conn.close(timeout=2)
    except Exception:
        conn.terminate()
