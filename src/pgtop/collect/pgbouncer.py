"""The PgBouncer collector: SHOW commands on the admin console through psycopg.

The admin console speaks only the simple query protocol, which asyncpg cannot read, so
this uses psycopg 3's `AsyncClientCursor`. Columns are read by name: they differ between
PgBouncer versions (see docs/reference/pgbouncer-console.md), unknown ones are kept in
`extra`, missing ones become None.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from pgtop.collect.errors import CollectError
from pgtop.collect.pgbouncer_rows import (
    ADMIN_DATABASE,
    Row,
    RowRecords,
    client_from_row,
    database_from_row,
    int_column,
    missing_columns,
    pool_from_row,
    server_from_row,
    stats_from_row,
)
from pgtop.model.pooler_records import POOLER_LIMIT_KEYS, PoolerSnapshot
from pgtop.target import redact

if TYPE_CHECKING:
    import psycopg

CONFIG_EVERY = 30.0  # SHOW CONFIG rarely changes


def describe_pooler_error(
    exc: BaseException, where: str, conninfo: str | None = None
) -> CollectError:
    """One line for people; libpq may quote the URI back, so its password is masked."""
    import psycopg

    if isinstance(exc, CollectError):
        return exc
    if isinstance(exc, TimeoutError):
        return CollectError(f"pooler {where}: no answer (timed out)", "timeout")
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    text = redact(text, conninfo)
    if isinstance(exc, psycopg.OperationalError):
        # libpq prefixes 'connection to server at "h" (addr), port N failed:'; keep the reason.
        text = text.rsplit(" failed: ", 1)[-1].removeprefix("FATAL:").strip()
        low = text.lower()
        if "not allowed" in low:
            return CollectError(
                f"pooler {where}: {text} — add the user to stats_users or admin_users", "auth"
            )
        if "password" in low or "authentication" in low:
            return CollectError(
                f"pooler {where}: {text} — check the password in the pooler URI, "
                "PGPASSWORD or ~/.pgpass",
                "auth",
            )
        return CollectError(f"cannot connect to pooler {where}: {text}", "connect")
    return CollectError(f"pooler {where}: {text}", "server")


class PgBouncerCollector:
    def __init__(
        self, conninfo: str, *, connect_timeout: float = 5.0, poll_timeout: float = 10.0
    ) -> None:
        self.conninfo = conninfo
        self.connect_timeout = connect_timeout
        self.poll_timeout = poll_timeout
        self._conn: psycopg.AsyncConnection[Any] | None = None
        self._version = ""
        self._config: dict[str, str] = {}
        self._config_at = 0.0
        self.address = describe_conninfo(conninfo)
        self._clients = RowRecords(client_from_row)
        self._servers = RowRecords(server_from_row)

    @property
    def connected(self) -> bool:
        return self._conn is not None and not self._conn.closed

    async def connect(self) -> None:
        import psycopg

        await self.close()
        try:
            conn = await asyncio.wait_for(
                psycopg.AsyncConnection.connect(
                    self.conninfo,
                    autocommit=True,  # the console has no transactions
                    cursor_factory=psycopg.AsyncClientCursor,
                    connect_timeout=max(1, round(self.connect_timeout)),
                ),
                self.connect_timeout + 1,
            )
        except Exception as exc:
            raise describe_pooler_error(exc, self.address, self.conninfo) from None
        self._conn = conn
        try:
            await self._check_console()
        except Exception:
            await self.close()
            raise

    async def _check_console(self) -> None:
        """Refuse a URI that reaches PostgreSQL (or a normal pooled db) instead of the console."""
        try:
            rows = await self._show("VERSION")
        except CollectError:
            raise CollectError(
                f"{self.address} is not a PgBouncer admin console — connect to database "
                "'pgbouncer' as a user in admin_users or stats_users",
                "usage",
            ) from None
        self._version = str(rows[0].get("version", "")) if rows else ""
        self._version = self._version.removeprefix("PgBouncer ").strip() or "unknown"
        self._config_at = 0.0

    async def close(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None and not conn.closed:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(conn.close(), 2)

    async def _show(self, what: str) -> list[Row]:
        names, rows = await self._show_columns(what)
        return [dict(zip(names, r, strict=False)) for r in rows]

    async def _show_columns(self, what: str) -> tuple[list[str], list[tuple[Any, ...]]]:
        """Column names (known even with no rows) and the rows as sent."""
        import psycopg

        assert self._conn is not None
        try:
            async with self._conn.cursor() as cur:
                await cur.execute(f"SHOW {what}")
                if cur.description is None:
                    return [], []
                return [d.name for d in cur.description], await cur.fetchall()
        except psycopg.Error as exc:
            raise describe_pooler_error(exc, self.address, self.conninfo) from None

    async def poll(self) -> PoolerSnapshot:
        return await self._polled(self._poll)

    async def poll_pools(self) -> PoolerSnapshot:
        """SHOW POOLS alone (one statement): what the fleet needs of a pooler that is not
        on screen. The snapshot has pools and a client count, nothing else."""
        return await self._polled(self._poll_pools)

    async def _polled(self, body: Callable[[], Awaitable[PoolerSnapshot]]) -> PoolerSnapshot:
        if not self.connected:
            await self.connect()
        try:
            return await asyncio.wait_for(body(), self.poll_timeout)
        except TimeoutError:
            conn, self._conn = self._conn, None
            if conn is not None:
                asyncio.get_running_loop().create_task(_close_quietly(conn))
            raise CollectError(
                f"pooler {self.address}: no answer in {self.poll_timeout:g} s", "timeout"
            ) from None
        except CollectError:
            if self._conn is not None and self._conn.closed:
                self._conn = None
            raise
        except Exception as exc:
            if self._conn is not None and self._conn.closed:
                self._conn = None
            raise describe_pooler_error(exc, self.address, self.conninfo) from None

    async def _poll_pools(self) -> PoolerSnapshot:
        rows = await self._show("POOLS")
        pools = tuple(pool_from_row(r) for r in rows if r.get("database") != "pgbouncer")
        return PoolerSnapshot(
            version=self._version,
            address=self.address,
            pools=pools,
            stats=(),
            databases=(),
            config=dict(self._config),
            clients=sum(p.cl_active + p.cl_waiting for p in pools),
            servers=sum(
                p.sv_active + p.sv_idle + p.sv_used + p.sv_tested + p.sv_login for p in pools
            ),
            polled_at=datetime.now(UTC),
        )

    async def _poll(self) -> PoolerSnapshot:
        pools = await self._show("POOLS")
        stats = await self._show("STATS")
        databases = await self._show("DATABASES")
        lists = {str(r.get("list")): int_column(r, "items") or 0 for r in await self._show("LISTS")}
        # Two commands, so not one moment: model.pooler_join trusts only a link that the
        # client row and the server row both report.
        server_cols, servers = await self._show_columns("SERVERS")
        client_cols, clients = await self._show_columns("CLIENTS")
        if time.monotonic() - self._config_at > CONFIG_EVERY:
            self._config = {
                str(r["key"]): str(r["value"])
                for r in await self._show("CONFIG")
                if r.get("key") in POOLER_LIMIT_KEYS
            }
            self._config_at = time.monotonic()
        return PoolerSnapshot(
            version=self._version,
            address=self.address,
            # The console's own pseudo-pool is pgtop's connection, not a real pool.
            pools=tuple(pool_from_row(r) for r in pools if r.get("database") != "pgbouncer"),
            stats=tuple(stats_from_row(r) for r in stats if r.get("database") != "pgbouncer"),
            databases=tuple(
                database_from_row(r) for r in databases if r.get("name") != "pgbouncer"
            ),
            config=dict(self._config),
            clients=max(0, lists.get("used_clients", 0) - 1),  # minus our admin connection
            servers=lists.get("used_servers", 0),
            polled_at=datetime.now(UTC),
            client_list=tuple(
                c
                for c in self._clients.records(client_cols, clients)
                if c.database != ADMIN_DATABASE
            ),
            server_list=self._servers.records(server_cols, servers),
            missing=missing_columns("CLIENTS", client_cols)
            + missing_columns("SERVERS", server_cols),
        )


async def _close_quietly(conn: Any) -> None:
    with contextlib.suppress(Exception):
        await asyncio.wait_for(conn.close(), 2)


def describe_conninfo(conninfo: str) -> str:
    """host:port of a pooler conninfo, without user or password."""
    try:
        from psycopg.conninfo import conninfo_to_dict

        params = conninfo_to_dict(conninfo)
    except Exception:
        return "pooler"
    host = params.get("host") or "local"
    port = params.get("port") or "6432"
    return f"{host}:{port}"
