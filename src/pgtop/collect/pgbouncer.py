"""The PgBouncer collector: SHOW commands on the admin console through psycopg.

The admin console speaks only the simple query protocol, which asyncpg cannot read, so
this uses psycopg 3's `AsyncClientCursor`. Columns are read by name: they differ between
PgBouncer versions (see shared/reference/pgbouncer-console.md), unknown ones are kept in
`extra`, missing ones become None.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from pgtop.collect.errors import CollectError
from pgtop.model.records import (
    POOLER_LIMIT_KEYS,
    Pool,
    PoolerClient,
    PoolerDatabase,
    PoolerServer,
    PoolerSnapshot,
    PoolerStats,
)

if TYPE_CHECKING:
    import psycopg

CONFIG_EVERY = 30.0  # SHOW CONFIG rarely changes

_POOL_FIELDS = {
    "database",
    "user",
    "cl_active",
    "cl_waiting",
    "sv_active",
    "sv_idle",
    "sv_used",
    "sv_tested",
    "sv_login",
    "maxwait",
    "maxwait_us",
    "pool_mode",
}

Row = dict[str, Any]

# Columns of SHOW CLIENTS / SHOW SERVERS that the pooler join and its display need, with
# the version that brought the newest of them (reference/pgbouncer-console.md). `id` (1.24)
# is not listed: without it pgtop falls back to ptr and loses nothing it shows.
SOCKET_COLUMNS = {
    "CLIENTS": ("addr", "port", "ptr", "link", "application_name"),
    "SERVERS": ("local_addr", "local_port", "ptr", "link", "remote_pid", "application_name"),
}
ADMIN_DATABASE = "pgbouncer"  # the console's pseudo-database: pgtop's own connection


def _int(row: Row, key: str, default: int | None = 0) -> int | None:
    value = row.get(key)
    if value is None or value == "":
        return default
    try:
        return int(value)
    except (TypeError, ValueError):
        return default


def pool_from_row(row: Row) -> Pool:
    maxwait = (_int(row, "maxwait") or 0) + (_int(row, "maxwait_us") or 0) / 1_000_000
    return Pool(
        database=str(row.get("database", "")),
        user=str(row.get("user", "")),
        cl_active=_int(row, "cl_active") or 0,
        cl_waiting=_int(row, "cl_waiting") or 0,
        sv_active=_int(row, "sv_active") or 0,
        sv_idle=_int(row, "sv_idle") or 0,
        sv_used=_int(row, "sv_used") or 0,
        sv_tested=_int(row, "sv_tested") or 0,
        sv_login=_int(row, "sv_login") or 0,
        maxwait=maxwait,
        pool_mode=str(row.get("pool_mode") or ""),
        extra={k: v for k, v in row.items() if k not in _POOL_FIELDS},
    )


def stats_from_row(row: Row) -> PoolerStats:
    return PoolerStats(
        database=str(row.get("database", "")),
        total_xact_count=_int(row, "total_xact_count") or 0,
        total_query_count=_int(row, "total_query_count") or 0,
        total_wait_time=_int(row, "total_wait_time") or 0,
        total_xact_time=_int(row, "total_xact_time") or 0,
        total_query_time=_int(row, "total_query_time") or 0,
        total_received=_int(row, "total_received") or 0,
        total_sent=_int(row, "total_sent") or 0,
    )


def database_from_row(row: Row) -> PoolerDatabase:
    reserve = _int(row, "reserve_pool_size", None)  # 1.24 renamed reserve_pool
    if reserve is None:
        reserve = _int(row, "reserve_pool", None)
    return PoolerDatabase(
        name=str(row.get("name", "")),
        host=row.get("host") or None,
        port=_int(row, "port", None),
        database=str(row.get("database") or ""),
        pool_size=_int(row, "pool_size", None),
        min_pool_size=_int(row, "min_pool_size", None),
        reserve_pool=reserve,
        pool_mode=row.get("pool_mode") or None,
        max_connections=_int(row, "max_connections", None),
        current_connections=_int(row, "current_connections", None),
        paused=bool(_int(row, "paused")),
        disabled=bool(_int(row, "disabled")),
    )


def _text(row: Row, key: str) -> str | None:
    """A text column; '' (PgBouncer's "none", e.g. an empty link) becomes None."""
    value = row.get(key)
    return None if value is None or value == "" else str(value)


def pgbouncer_time(value: object) -> datetime | None:
    """connect_time / request_time as PgBouncer prints them: '2026-11-25 23:50:20 UTC'.

    PgBouncer formats with its local time zone's abbreviation (strftime %Z); only UTC/GMT
    or a numeric offset can be read without guessing, anything else becomes None.
    """
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    if not isinstance(value, str) or len(value) < 19:
        return None
    stamp, _, zone = value.rpartition(" ")
    try:
        if zone in ("UTC", "GMT", "Z"):
            return datetime.strptime(stamp, "%Y-%m-%d %H:%M:%S").replace(tzinfo=UTC)
        if zone[:1] in "+-" and zone[1:].isdigit():
            return datetime.strptime(f"{stamp} {zone}", "%Y-%m-%d %H:%M:%S %z")
    except ValueError:
        return None
    return None


def _wait_s(row: Row) -> float:
    return (_int(row, "wait") or 0) + (_int(row, "wait_us") or 0) / 1_000_000


def client_from_row(row: Row) -> PoolerClient:
    """One SHOW CLIENTS row; a column this PgBouncer lacks becomes None."""
    return PoolerClient(
        database=str(row.get("database", "")),
        user=str(row.get("user", "")),
        state=str(row.get("state") or ""),
        addr=_text(row, "addr"),
        port=_int(row, "port", None),
        connect_time=pgbouncer_time(row.get("connect_time")),
        request_time=pgbouncer_time(row.get("request_time")),
        wait_s=_wait_s(row),
        ptr=str(row.get("ptr") or ""),
        link=_text(row, "link"),
        id=_int(row, "id", None),
        # Present but empty means "the client set none"; absent means "cannot know".
        application_name=(
            str(row["application_name"] or "") if "application_name" in row else None
        ),
    )


def server_from_row(row: Row) -> PoolerServer:
    """One SHOW SERVERS row; a column this PgBouncer lacks becomes None."""
    remote_pid = _int(row, "remote_pid", None)
    return PoolerServer(
        database=str(row.get("database", "")),
        user=str(row.get("user", "")),
        state=str(row.get("state") or ""),
        addr=_text(row, "addr"),
        port=_int(row, "port", None),
        local_addr=_text(row, "local_addr"),
        local_port=_int(row, "local_port", None),
        connect_time=pgbouncer_time(row.get("connect_time")),
        request_time=pgbouncer_time(row.get("request_time")),
        remote_pid=remote_pid or None,  # 0: not known (yet), e.g. still logging in
        ptr=str(row.get("ptr") or ""),
        link=_text(row, "link"),
        id=_int(row, "id", None),
        application_name=(
            str(row["application_name"] or "") if "application_name" in row else None
        ),
    )


def missing_columns(command: str, columns: list[str]) -> tuple[str, ...]:
    """The join columns `SHOW <command>` did not send, worded for the UI."""
    have = set(columns)
    return tuple(
        f"{name} in SHOW {command}" for name in SOCKET_COLUMNS[command] if name not in have
    )


def describe_pooler_error(exc: BaseException, where: str) -> CollectError:
    import psycopg

    if isinstance(exc, CollectError):
        return exc
    if isinstance(exc, TimeoutError):
        return CollectError(f"pooler {where}: no answer (timed out)", "timeout")
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
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
        self.address = _describe_conninfo(conninfo)

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
            raise describe_pooler_error(exc, self.address) from None
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
        return (await self._show_columns(what))[1]

    async def _show_columns(self, what: str) -> tuple[list[str], list[Row]]:
        """Column names (known even with no rows, unlike the dicts' keys) and rows."""
        import psycopg

        assert self._conn is not None
        try:
            async with self._conn.cursor() as cur:
                await cur.execute(f"SHOW {what}")
                if cur.description is None:
                    return [], []
                names = [d.name for d in cur.description]
                rows = [dict(zip(names, r, strict=False)) for r in await cur.fetchall()]
                return names, rows
        except psycopg.Error as exc:
            raise describe_pooler_error(exc, self.address) from None

    async def poll(self) -> PoolerSnapshot:
        if not self.connected:
            await self.connect()
        try:
            return await asyncio.wait_for(self._poll(), self.poll_timeout)
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
            raise describe_pooler_error(exc, self.address) from None

    async def _poll(self) -> PoolerSnapshot:
        pools = await self._show("POOLS")
        stats = await self._show("STATS")
        databases = await self._show("DATABASES")
        lists = {str(r.get("list")): _int(r, "items") or 0 for r in await self._show("LISTS")}
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
                client_from_row(r) for r in clients if r.get("database") != ADMIN_DATABASE
            ),
            server_list=tuple(server_from_row(r) for r in servers),
            missing=missing_columns("CLIENTS", client_cols)
            + missing_columns("SERVERS", server_cols),
        )


async def _close_quietly(conn: Any) -> None:
    with contextlib.suppress(Exception):
        await asyncio.wait_for(conn.close(), 2)


def _describe_conninfo(conninfo: str) -> str:
    """host:port of a pooler conninfo, without user or password."""
    try:
        from psycopg.conninfo import conninfo_to_dict

        params = conninfo_to_dict(conninfo)
    except Exception:
        return "pooler"
    host = params.get("host") or "local"
    port = params.get("port") or "6432"
    return f"{host}:{port}"
