"""Immutable records of one poll: what PostgreSQL and PgBouncer said, typed.

Collectors build these (or the replay reads them back from a recording); the UI and the
JSON output only read them. Nothing here does I/O, and nothing here changes once built.

They are NamedTuples, not frozen dataclasses: Python 3.11 builds each method of a
dataclass with exec (~1.5 ms a class on a slow machine, before the first screen), a
NamedTuple costs a fifth of that, and is built faster too. A changed copy is `._replace()`.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any, NamedTuple

if TYPE_CHECKING:  # the pooler's records load with the pooler's code (start-up time)
    from pgtop.model.pooler_records import PoolerLink, PoolerSnapshot

# pg_stat_activity.state values, spelled as the server spells them.
ACTIVE = "active"
IDLE = "idle"
IDLE_IN_TRANSACTION = "idle in transaction"
IDLE_IN_TRANSACTION_ABORTED = "idle in transaction (aborted)"
FASTPATH = "fastpath function call"
DISABLED = "disabled"
CLIENT_BACKEND = "client backend"


class ServerInfo(NamedTuple):
    """The server itself as of one poll: version, address, start, recovery, its clock."""

    version: str  # e.g. "15.18"
    version_num: int  # server_version_num, e.g. 150018
    host: str  # host:port as pgtop reached it
    start_time: datetime | None
    in_recovery: bool
    snapshot_time: datetime  # the server's clock when the poll ran
    max_connections: int = 0
    track_activity_query_size: int = 1024
    # Read pg_stat_activity as pg_monitor / pg_read_all_stats / superuser would.
    can_see_all: bool = True
    current_user: str = ""
    # The next transaction id (64-bit, epoch included) as of the poll: how old an xmin is.
    next_xid: int | None = None


class Session(NamedTuple):
    """One backend of pg_stat_activity as of one poll."""

    pid: int
    backend_start: datetime | None
    database: str | None
    user: str | None
    application: str
    client_addr: str | None
    client_port: int | None
    backend_type: str
    state: str | None
    wait_event_type: str | None
    wait_event: str | None
    xact_start: datetime | None
    query_start: datetime | None
    state_change: datetime | None
    query: str
    query_id: int | None = None
    backend_xid: str | None = None
    backend_xmin: str | None = None  # the snapshot horizon it holds, as text like backend_xid
    blocked_by: tuple[int, ...] = ()
    # Set by model.pooler_join when PgBouncer opened this backend; never by a collector.
    pooler: PoolerLink | None = None

    @property
    def waits_on_lock(self) -> bool:
        return self.wait_event_type == "Lock"

    @property
    def is_client(self) -> bool:
        return self.backend_type == CLIENT_BACKEND

    @property
    def client(self) -> str:
        """addr:port, or 'local' for a Unix socket, '' for background workers."""
        if self.client_addr is None:
            return "local" if self.client_port == -1 else ""
        if self.client_port is None or self.client_port < 0:
            return self.client_addr
        return f"{self.client_addr}:{self.client_port}"


# A collector builds a Session for each changed row of every poll (hundreds a second under
# churn, 1,000 for the first screen): a NamedTuple is built by tuple.__new__, where a
# frozen dataclass's __init__ set each of the 20 fields through object.__setattr__.
_SESSION_POSITION = {name: i for i, name in enumerate(Session._fields)}
_make_session = Session._make


def replace_session(s: Session, **changes: Any) -> Session:
    """s._replace(**changes), ~2.2 us not ~2.9 (a list, not a map over every field)."""
    values = list(s)
    for name, value in changes.items():
        values[_SESSION_POSITION[name]] = value
    return _make_session(values)


class StateCounts(NamedTuple):
    """How many client sessions are in each state."""

    active: int = 0
    idle: int = 0
    idle_in_transaction: int = 0
    idle_in_transaction_aborted: int = 0
    other: int = 0  # fastpath, disabled, or hidden by missing privilege
    waiting_on_lock: int = 0  # overlaps the states above
    total: int = 0


class DatabaseStat(NamedTuple):
    """One database: its connection limit, its sessions by state, its counters."""

    name: str
    connlimit: int  # -1 means no limit
    allow_connections: bool
    counts: StateCounts
    xact_commit: int
    xact_rollback: int


class ConnLimit(NamedTuple):
    """A role or database with its own connection limit and how many it uses now."""

    name: str
    limit: int  # -1 means no limit
    current: int


class Setting(NamedTuple):
    """One setting the limits pane shows (connections, reserved slots, timeouts)."""

    name: str
    value: str
    unit: str | None
    source: str
    pending_restart: bool


class Limits(NamedTuple):
    """The server's connection limits, and how many slots are in use."""

    max_connections: int
    superuser_reserved_connections: int
    reserved_connections: int | None  # PostgreSQL 16+
    client_connections: int  # client backends now, pgtop's own included: they use slots
    roles: tuple[ConnLimit, ...]
    databases: tuple[ConnLimit, ...]
    settings: tuple[Setting, ...]

    @property
    def available_to_ordinary_roles(self) -> int:
        return (
            self.max_connections
            - self.superuser_reserved_connections
            - (self.reserved_connections or 0)
        )

    def setting(self, name: str) -> Setting | None:
        return next((s for s in self.settings if s.name == name), None)


class Lock(NamedTuple):
    """One row of pg_locks for the session being inspected."""

    locktype: str
    mode: str
    granted: bool
    relation: str | None  # schema-qualified name where the server can resolve it
    detail: str  # transaction id, tuple, object: whatever identifies the locked thing


class Snapshot(NamedTuple):
    """What one poll of PostgreSQL read (the pooler's data joined in, when polled with it)."""

    server: ServerInfo
    sessions: tuple[Session, ...]  # every backend but pgtop's own
    databases: tuple[DatabaseStat, ...]
    limits: Limits
    own_pids: tuple[int, ...] = ()
    pooler: PoolerSnapshot | None = None
    pooler_error: str | None = None
    # Locks of one session, polled only while the inspect screen shows it.
    inspected_pid: int | None = None
    inspected_locks: tuple[Lock, ...] = ()
