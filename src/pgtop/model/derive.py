"""Pure functions over records: counts, rates, ages. No I/O, no Textual. (client_summary
keeps the summaries of the last few tuples it was told or asked about: a memo, its
results are pure.)"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Callable, Iterable
from datetime import datetime
from itertools import compress, repeat
from operator import attrgetter, eq
from typing import TYPE_CHECKING, NamedTuple

from pgtop.model.changes import changes
from pgtop.model.records import ConnLimit, ServerInfo, Session, Snapshot, StateCounts
from pgtop.model.tally import SessionTally, client_sessions, state_counts

if TYPE_CHECKING:
    from pgtop.model.pooler_records import PoolerSnapshot

_STATE = attrgetter("state")
_WAIT_EVENT_TYPE = attrgetter("wait_event_type")
_XACT_START = attrgetter("xact_start")


class ClientSummary(NamedTuple):
    """What the header says of a listing's client sessions."""

    counts: StateCounts
    oldest_xact_start: datetime | None


# The last few listings summarized: the header asks once per line it draws, and a
# collector that keeps its counts from poll to poll (model/tally.py) tells them here. A
# few, not one: the replay's worker thread summarizes the next listing while the event
# loop still draws this one. Entries are replaced whole, never changed.
_KEEP = 4
_known: list[tuple[tuple[Session, ...], ClientSummary]] = []


def known_summary(sessions: tuple[Session, ...]) -> ClientSummary | None:
    """The summary of `sessions` if it is known without counting them."""
    for listed, summary in list(_known):  # a copy: another thread may replace the list
        if listed is sessions:
            return summary
    return None


def remember_summary(sessions: tuple[Session, ...], summary: ClientSummary) -> None:
    """`client_summary(sessions)` is `summary`, known without counting them again."""
    global _known
    kept = [k for k in _known if k[0] is not sessions][-(_KEEP - 1) :]
    _known = [*kept, (sessions, summary)]


def client_summary(sessions: tuple[Session, ...]) -> ClientSummary:
    """Counts by state and the oldest transaction start of the client sessions."""
    known = known_summary(sessions)
    if known is not None:
        return known
    clients = client_sessions(sessions)
    oldest = min(filter(None, map(_XACT_START, clients)), default=None)
    summary = ClientSummary(_count(clients), oldest)
    remember_summary(sessions, summary)
    return summary


class SummaryFollower:
    """client_summary for a sequence of listings no collector counted (the replay's
    frames), in the work of what changed: a SessionTally given the session objects that
    came and went since the listing before. Any order of listings is right (a diff, not a
    history). Written by one thread (the replay's worker)."""

    def __init__(self) -> None:
        self._tally = SessionTally()
        self._objs: dict[int, Session] = {}

    def summary(self, sessions: tuple[Session, ...]) -> ClientSummary:
        change = changes(self._objs, sessions)
        gone = [self._objs[i] for i in change.gone]
        came = [change.objs[i] for i in change.came]
        self._tally.update(came, gone)
        self._objs = change.objs
        return ClientSummary(self._tally.total(), self._tally.oldest_xact_start())


def count_states(sessions: Iterable[Session]) -> StateCounts:
    """Counts of client sessions by state; background workers are not connections."""
    if isinstance(sessions, tuple):
        return client_summary(sessions).counts
    return _count(client_sessions(sessions))


def _count(clients: list[Session]) -> StateCounts:
    waiting = list(map(_WAIT_EVENT_TYPE, clients)).count("Lock")
    return state_counts(Counter(map(_STATE, clients)), waiting)


def counts_by(
    sessions: Iterable[Session], key: Callable[[Session], str | None]
) -> dict[str, StateCounts]:
    """State counts per group of client sessions (`key` None groups as ""), in C."""
    clients = client_sessions(sessions)
    names = [k or "" for k in map(key, clients)]
    by_state: dict[str, Counter[str | None]] = defaultdict(Counter)
    for (name, state), n in Counter(zip(names, map(_STATE, clients), strict=True)).items():
        by_state[name][state] = n
    waiting = Counter(compress(names, map(eq, repeat("Lock"), map(_WAIT_EVENT_TYPE, clients))))
    return {name: state_counts(states, waiting[name]) for name, states in by_state.items()}


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


class SessionAges(NamedTuple):
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


class Rates(NamedTuple):
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
