"""PgBouncer admin console rows, mapped by column name into records.

Columns differ between PgBouncer versions (docs/reference/pgbouncer-console.md):
unknown ones are kept in `extra`, missing ones become None and are named, so the UI can
say "this PgBouncer lacks X" instead of guessing.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any, Generic, TypeVar

from pgtop.model.pooler_records import (
    Pool,
    PoolerClient,
    PoolerDatabase,
    PoolerServer,
    PoolerStats,
)

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
# the version that brought the newest of them (docs/reference/pgbouncer-console.md). `id` (1.24)
# is not listed: without it pgtop falls back to ptr and loses nothing it shows.
SOCKET_COLUMNS = {
    "CLIENTS": ("addr", "port", "ptr", "link", "application_name"),
    "SERVERS": ("local_addr", "local_port", "ptr", "link", "remote_pid", "application_name"),
}
ADMIN_DATABASE = "pgbouncer"  # the console's pseudo-database: pgtop's own connection


def int_column(row: Row, key: str, default: int | None = 0) -> int | None:
    value = row.get(key)
    if value is None or value == "":
        return default
    try:
        return int(value)
    except (TypeError, ValueError):
        return default


def pool_from_row(row: Row) -> Pool:
    maxwait = (int_column(row, "maxwait") or 0) + (int_column(row, "maxwait_us") or 0) / 1_000_000
    return Pool(
        database=str(row.get("database", "")),
        user=str(row.get("user", "")),
        cl_active=int_column(row, "cl_active") or 0,
        cl_waiting=int_column(row, "cl_waiting") or 0,
        sv_active=int_column(row, "sv_active") or 0,
        sv_idle=int_column(row, "sv_idle") or 0,
        sv_used=int_column(row, "sv_used") or 0,
        sv_tested=int_column(row, "sv_tested") or 0,
        sv_login=int_column(row, "sv_login") or 0,
        maxwait=maxwait,
        pool_mode=str(row.get("pool_mode") or ""),
        extra={k: v for k, v in row.items() if k not in _POOL_FIELDS},
    )


def stats_from_row(row: Row) -> PoolerStats:
    return PoolerStats(
        database=str(row.get("database", "")),
        total_xact_count=int_column(row, "total_xact_count") or 0,
        total_query_count=int_column(row, "total_query_count") or 0,
        total_wait_time=int_column(row, "total_wait_time") or 0,
        total_xact_time=int_column(row, "total_xact_time") or 0,
        total_query_time=int_column(row, "total_query_time") or 0,
        total_received=int_column(row, "total_received") or 0,
        total_sent=int_column(row, "total_sent") or 0,
    )


def database_from_row(row: Row) -> PoolerDatabase:
    reserve = int_column(row, "reserve_pool_size", None)  # 1.24 renamed reserve_pool
    if reserve is None:
        reserve = int_column(row, "reserve_pool", None)
    return PoolerDatabase(
        name=str(row.get("name", "")),
        host=row.get("host") or None,
        port=int_column(row, "port", None),
        database=str(row.get("database") or ""),
        pool_size=int_column(row, "pool_size", None),
        min_pool_size=int_column(row, "min_pool_size", None),
        reserve_pool=reserve,
        pool_mode=row.get("pool_mode") or None,
        max_connections=int_column(row, "max_connections", None),
        current_connections=int_column(row, "current_connections", None),
        paused=bool(int_column(row, "paused")),
        disabled=bool(int_column(row, "disabled")),
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
    return _parse_time(value)


@lru_cache(maxsize=4096)  # a client's connect_time repeats every tick
def _parse_time(value: str) -> datetime | None:
    # fromisoformat, not strptime: strptime was a tenth of pgtop's CPU at 500 clients.
    stamp, _, zone = value.rpartition(" ")
    try:
        if zone in ("UTC", "GMT", "Z"):
            return datetime.fromisoformat(stamp).replace(tzinfo=UTC)
        if zone[:1] in "+-" and zone[1:].isdigit():
            return datetime.fromisoformat(f"{stamp}{zone}")
    except ValueError:
        return None
    return None


R = TypeVar("R")


class RowRecords(Generic[R]):
    """Records of one SHOW command, poll after poll: a row unchanged since the last poll
    keeps its record. Most clients and servers do not change between ticks, and building
    every SHOW CLIENTS record anew each tick cost a fifth of pgtop's CPU at 500 clients."""

    def __init__(self, build: Callable[[Row], R]) -> None:
        self._build = build
        self._columns: list[str] = []
        self._last: dict[tuple[Any, ...], R] = {}

    def records(self, columns: list[str], rows: Iterable[tuple[Any, ...]]) -> tuple[R, ...]:
        """`rows` as the console sent them, in `columns` order."""
        if columns != self._columns:  # another PgBouncer answers since the last poll
            self._columns, self._last = columns, {}
        fresh: dict[tuple[Any, ...], R] = {}
        out = []
        for row in rows:
            record = self._last.get(row)
            if record is None:
                record = self._build(dict(zip(columns, row, strict=False)))
            fresh[row] = record
            out.append(record)
        self._last = fresh
        return tuple(out)


def _wait_s(row: Row) -> float:
    return (int_column(row, "wait") or 0) + (int_column(row, "wait_us") or 0) / 1_000_000


def client_from_row(row: Row) -> PoolerClient:
    """One SHOW CLIENTS row; a column this PgBouncer lacks becomes None."""
    return PoolerClient(
        database=str(row.get("database", "")),
        user=str(row.get("user", "")),
        state=str(row.get("state") or ""),
        addr=_text(row, "addr"),
        port=int_column(row, "port", None),
        connect_time=pgbouncer_time(row.get("connect_time")),
        request_time=pgbouncer_time(row.get("request_time")),
        wait_s=_wait_s(row),
        ptr=str(row.get("ptr") or ""),
        link=_text(row, "link"),
        id=int_column(row, "id", None),
        # Present but empty means "the client set none"; absent means "cannot know".
        application_name=(
            str(row["application_name"] or "") if "application_name" in row else None
        ),
    )


def server_from_row(row: Row) -> PoolerServer:
    """One SHOW SERVERS row; a column this PgBouncer lacks becomes None."""
    remote_pid = int_column(row, "remote_pid", None)
    return PoolerServer(
        database=str(row.get("database", "")),
        user=str(row.get("user", "")),
        state=str(row.get("state") or ""),
        addr=_text(row, "addr"),
        port=int_column(row, "port", None),
        local_addr=_text(row, "local_addr"),
        local_port=int_column(row, "local_port", None),
        connect_time=pgbouncer_time(row.get("connect_time")),
        request_time=pgbouncer_time(row.get("request_time")),
        remote_pid=remote_pid or None,  # 0: not known (yet), e.g. still logging in
        ptr=str(row.get("ptr") or ""),
        link=_text(row, "link"),
        id=int_column(row, "id", None),
        application_name=(
            str(row["application_name"] or "") if "application_name" in row else None
        ),
        close_needed=bool(int_column(row, "close_needed")),
    )


def missing_columns(command: str, columns: list[str]) -> tuple[str, ...]:
    """The join columns `SHOW <command>` did not send, worded for the UI."""
    have = set(columns)
    return tuple(
        f"{name} in SHOW {command}" for name in SOCKET_COLUMNS[command] if name not in have
    )
