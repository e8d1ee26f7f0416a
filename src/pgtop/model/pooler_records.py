"""Immutable records of one poll of PgBouncer's admin console, typed.

Beside model/records.py (PostgreSQL's records and the Snapshot that may carry these) and
the same in kind: built by the pooler collector (or read back from a recording), read by
the rest, never changed once built. Apart so that pgtop starts without creating them:
each frozen dataclass costs ~1 ms to create, and most runs watch no pooler.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime


@dataclass(frozen=True, slots=True)
class Pool:
    """One PgBouncer pool (a SHOW POOLS row)."""

    database: str
    user: str
    cl_active: int
    cl_waiting: int
    sv_active: int
    sv_idle: int
    sv_used: int
    sv_tested: int
    sv_login: int
    maxwait: float  # seconds the oldest waiting client has waited
    pool_mode: str
    extra: dict[str, object] = field(default_factory=dict, hash=False, compare=False)


@dataclass(frozen=True, slots=True)
class PoolerDatabase:
    """One PgBouncer database entry (a SHOW DATABASES row)."""

    name: str
    host: str | None
    port: int | None
    database: str
    pool_size: int | None
    min_pool_size: int | None
    reserve_pool: int | None  # reserve_pool (<=1.23) or reserve_pool_size (1.24+)
    pool_mode: str | None
    max_connections: int | None
    current_connections: int | None
    paused: bool
    disabled: bool


@dataclass(frozen=True, slots=True)
class PoolerStats:
    """Cumulative counters of SHOW STATS for one database (times in microseconds)."""

    database: str
    total_xact_count: int
    total_query_count: int
    total_wait_time: int
    total_xact_time: int
    total_query_time: int
    total_received: int
    total_sent: int


POOLER_LIMIT_KEYS = (
    "max_client_conn",
    "default_pool_size",
    "min_pool_size",
    "reserve_pool_size",
    "reserve_pool_timeout",
    "max_db_connections",
    "max_user_connections",
    "pool_mode",
    "query_wait_timeout",
    "query_timeout",
    "idle_transaction_timeout",
    "client_idle_timeout",
    "server_idle_timeout",
    "server_lifetime",
)


@dataclass(frozen=True, slots=True)
class PoolerClient:
    """One row of SHOW CLIENTS: an application connected to PgBouncer."""

    database: str
    user: str
    state: str  # active, waiting, active_cancel_req, waiting_cancel_req; idle from 1.25
    addr: str | None  # "unix" for a Unix socket
    port: int | None
    connect_time: datetime | None  # None when PgBouncer's time zone cannot be read
    request_time: datetime | None
    # wait + wait_us: for a waiting client, how long it has waited; for others PgBouncer
    # counts from the current query's start, which is not a wait.
    wait_s: float
    ptr: str  # the socket's address in PgBouncer's memory; what `link` points to
    link: str | None  # ptr of the server connection it holds, None when it holds none
    id: int | None = None  # 1.24+: unique, unlike ptr, which is reused after a disconnect
    application_name: str | None = None  # 1.18+; None = this PgBouncer lacks the column

    @property
    def address(self) -> str:
        if self.port is None or self.addr == "unix":
            return self.addr or ""
        return f"{self.addr}:{self.port}"


@dataclass(frozen=True, slots=True)
class PoolerServer:
    """One row of SHOW SERVERS: a connection PgBouncer holds to PostgreSQL."""

    database: str
    user: str
    state: str  # active, idle, used, tested, new, active_cancel, being_canceled
    addr: str | None  # PostgreSQL's address as PgBouncer reached it
    port: int | None
    local_addr: str | None  # PgBouncer's end: pg_stat_activity.client_addr
    local_port: int | None  # pg_stat_activity.client_port
    connect_time: datetime | None
    request_time: datetime | None
    remote_pid: int | None  # the backend pid, when PgBouncer talks straight to PostgreSQL
    ptr: str
    link: str | None  # ptr of the client it serves now
    id: int | None = None  # 1.24+
    application_name: str | None = None  # 1.18+
    close_needed: bool = False  # RECONNECT (or a config change) marked it: closed when released


@dataclass(frozen=True, slots=True)
class PoolerLink:
    """A backend that PgBouncer opened: its server connection and the client holding it."""

    server: PoolerServer
    client: PoolerClient | None  # None: nobody holds it at this snapshot (idle in the pool)

    @property
    def pool_database(self) -> str:
        return self.server.database  # PgBouncer's name, which may alias another database

    @property
    def pool_user(self) -> str:
        return self.server.user

    @property
    def server_state(self) -> str:
        return self.server.state


@dataclass(frozen=True, slots=True)
class PoolerSnapshot:
    """What one poll of PgBouncer's admin console read."""

    version: str
    address: str
    pools: tuple[Pool, ...]
    stats: tuple[PoolerStats, ...]
    databases: tuple[PoolerDatabase, ...]
    config: dict[str, str] = field(hash=False)
    clients: int  # client connections, pgtop's admin connection excluded
    servers: int
    polled_at: datetime
    # SHOW CLIENTS / SHOW SERVERS rows; admin console clients (database pgbouncer) excluded.
    client_list: tuple[PoolerClient, ...] = ()
    server_list: tuple[PoolerServer, ...] = ()
    # Columns this PgBouncer does not send, e.g. "application_name in SHOW CLIENTS", so the
    # UI can say so instead of showing a blank as if it were the value.
    missing: tuple[str, ...] = ()
