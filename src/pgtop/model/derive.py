"""Pure functions over records: counts, rates, ages. No I/O, no Textual, no state."""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime

from pgtop.model.records import (
    ACTIVE,
    CLIENT_BACKEND,
    IDLE,
    IDLE_IN_TRANSACTION,
    IDLE_IN_TRANSACTION_ABORTED,
    ConnLimit,
    PoolerSnapshot,
    ServerInfo,
    Session,
    Snapshot,
    StateCounts,
)


def _counts(by_state: dict[str, int], waiting: int) -> StateCounts:
    active, idle = by_state.get(ACTIVE, 0), by_state.get(IDLE, 0)
    in_tx = by_state.get(IDLE_IN_TRANSACTION, 0)
    aborted = by_state.get(IDLE_IN_TRANSACTION_ABORTED, 0)
    total = sum(by_state.values())
    return StateCounts(
        active=active,
        idle=idle,
        idle_in_transaction=in_tx,
        idle_in_transaction_aborted=aborted,
        other=total - active - idle - in_tx - aborted,
        waiting_on_lock=waiting,
        total=total,
    )


def count_states(sessions: Iterable[Session]) -> StateCounts:
    """Counts of client sessions by state; background workers are not connections.

    One plain pass: at 1,000 sessions it takes ~0.08 ms, a quarter of what keeping the
    counts per session object between polls cost (measured; that memo was removed)."""
    by_state: dict[str, int] = {}
    waiting = 0
    for s in sessions:  # attributes, not the properties: this runs over every session
        if s.backend_type != CLIENT_BACKEND:
            continue
        state = s.state or ""
        by_state[state] = by_state.get(state, 0) + 1
        if s.wait_event_type == "Lock":
            waiting += 1
    return _counts(by_state, waiting)


def group_sessions(
    sessions: Iterable[Session], key: Callable[[Session], str | None]
) -> dict[str, list[Session]]:
    """Client sessions grouped by `key` (database, user, application, client host...)."""
    groups: dict[str, list[Session]] = defaultdict(list)
    for s in sessions:
        if s.backend_type == CLIENT_BACKEND:  # is_client, without a property call per session
            groups[key(s) or ""].append(s)
    return dict(groups)


def counts_by(
    sessions: Iterable[Session], key: Callable[[Session], str | None]
) -> dict[str, StateCounts]:
    return {name: count_states(group) for name, group in group_sessions(sessions, key).items()}


def client_host(s: Session) -> str:
    return s.client_addr or ("local" if s.client_port == -1 else "")


GROUPINGS: dict[str, Callable[[Session], str | None]] = {
    "database": lambda s: s.database,
    "user": lambda s: s.user,
    "application": lambda s: s.application,
    "client": client_host,
}


def limit_usage(limits: dict[str, int], current: Counter[str]) -> tuple[ConnLimit, ...]:
    return tuple(
        ConnLimit(name=name, limit=limit, current=current.get(name, 0))
        for name, limit in sorted(limits.items())
    )


def seconds_between(start: datetime | None, now: datetime) -> float | None:
    if start is None:
        return None
    return max(0.0, (now - start).total_seconds())


def uptime(server: ServerInfo) -> float | None:
    return seconds_between(server.start_time, server.snapshot_time)


@dataclass(frozen=True, slots=True)
class SessionAges:
    backend: float | None
    xact: float | None
    query: float | None
    state: float | None


def session_ages(s: Session, now: datetime) -> SessionAges:
    return SessionAges(
        backend=seconds_between(s.backend_start, now),
        xact=seconds_between(s.xact_start, now),
        query=seconds_between(s.query_start, now),
        state=seconds_between(s.state_change, now),
    )


@dataclass(frozen=True, slots=True)
class Rates:
    """Per-second rates between two snapshots; None where a counter went backwards."""

    interval: float
    transactions: float | None
    commits: float | None
    rollbacks: float | None
    pooler_transactions: float | None = None
    pooler_queries: float | None = None
    pooler_avg_wait_ms: float | None = None  # mean wait for a server, per transaction


def _rate(new: int, old: int, seconds: float) -> float | None:
    if seconds <= 0 or new < old:  # a reset (stats reset, restart) is not a negative rate
        return None
    return (new - old) / seconds


def compute_rates(old: Snapshot, new: Snapshot) -> Rates:
    seconds = (new.server.snapshot_time - old.server.snapshot_time).total_seconds()
    old_c = sum(d.xact_commit for d in old.databases)
    new_c = sum(d.xact_commit for d in new.databases)
    old_r = sum(d.xact_rollback for d in old.databases)
    new_r = sum(d.xact_rollback for d in new.databases)
    commits = _rate(new_c, old_c, seconds)
    rollbacks = _rate(new_r, old_r, seconds)
    transactions = None if commits is None or rollbacks is None else commits + rollbacks
    pt = pq = pw = None
    if old.pooler and new.pooler:
        pt, pq, pw = pooler_rates(old.pooler, new.pooler)
    return Rates(seconds, transactions, commits, rollbacks, pt, pq, pw)


def pooler_rates(
    old: PoolerSnapshot, new: PoolerSnapshot
) -> tuple[float | None, float | None, float | None]:
    seconds = (new.polled_at - old.polled_at).total_seconds()

    def total(p: PoolerSnapshot, attr: str) -> int:
        return sum(int(getattr(s, attr)) for s in p.stats)

    xacts = _rate(total(new, "total_xact_count"), total(old, "total_xact_count"), seconds)
    queries = _rate(total(new, "total_query_count"), total(old, "total_query_count"), seconds)
    # Like PgBouncer's avg_wait_time, but over our own interval rather than stats_period.
    waited = total(new, "total_wait_time") - total(old, "total_wait_time")
    new_x = total(new, "total_xact_count") - total(old, "total_xact_count")
    avg_wait = waited / new_x / 1000 if new_x > 0 and waited >= 0 else None
    return xacts, queries, avg_wait
