"""Connection counts kept from poll to poll: by state, by database and by role, and the
oldest open transaction.

Every pass over 1,000 session records costs ~0.3 ms on a busy machine (the records are
cold in the CPU's caches by the next poll), and a poll's snapshot needs several such
counts. The collector adds the sessions that came or changed and removes those that went
or changed, so the counts cost what changed, not what exists. Owned and written by one
collector; read when it builds its snapshot. Only client backends are counted:
background workers are not connections.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from datetime import datetime
from itertools import compress, repeat
from operator import attrgetter, eq

from pgtop.model.records import (
    ACTIVE,
    CLIENT_BACKEND,
    IDLE,
    IDLE_IN_TRANSACTION,
    IDLE_IN_TRANSACTION_ABORTED,
    Session,
    StateCounts,
)

_TYPE = attrgetter("backend_type")
_COUNTED = attrgetter("database", "state", "wait_event_type", "user")
_XACT_START = attrgetter("xact_start")


def client_sessions(sessions: Iterable[Session]) -> list[Session]:
    """The client backends of `sessions`, filtered in C (this runs over every session
    several times per poll: a Python loop over 1,000 sessions cost ~1 ms)."""
    seq = sessions if isinstance(sessions, (list, tuple)) else list(sessions)
    return list(compress(seq, map(eq, repeat(CLIENT_BACKEND), map(_TYPE, seq))))


def state_counts(by_state: Counter[str | None], waiting: int) -> StateCounts:
    """StateCounts from a count of sessions per state and of those waiting on a lock."""
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


class SessionTally:
    """Client sessions counted by (database, state), lock waiters by database, sessions
    by role, and their transaction starts. `update` takes the very records added and
    removed since the last update (a changed session is removed as it was and added as it
    is)."""

    def __init__(self) -> None:
        self._states: Counter[tuple[str, str | None]] = Counter()
        self._waiting: Counter[str] = Counter()
        self.per_role: Counter[str] = Counter()
        self.per_database: Counter[str] = Counter()
        self._xact_starts: Counter[datetime] = Counter()
        self.clients = 0

    def update(self, added: Iterable[Session], removed: Iterable[Session]) -> None:
        self._count(added, 1)
        self._count(removed, -1)

    def _count(self, sessions: Iterable[Session], sign: int) -> None:
        # Under churn a poll changes a few hundred sessions: they are counted in C by what
        # the counts need of them (a Counter over attrgetter tuples: one pass, not one per
        # count), and only the few distinct keys are then looked at in Python.
        clients = client_sessions(sessions)
        if not clients:
            return
        states, waiting = self._states, self._waiting
        per_role, per_database = self.per_role, self.per_database
        for (db, state, wait_type, user), n in Counter(map(_COUNTED, clients)).items():
            db = db or ""
            n *= sign
            states[db, state] += n
            if wait_type == "Lock":
                waiting[db] += n
            per_role[user or ""] += n
            per_database[db] += n
        self.clients += sign * len(clients)
        starts = self._xact_starts
        for start, n in Counter(filter(None, map(_XACT_START, clients))).items():
            left = starts[start] + sign * n
            if left:
                starts[start] = left
            else:
                del starts[start]  # the oldest is a min() over the keys

    def by_database(self) -> dict[str, StateCounts]:
        """StateCounts per database with at least one client session."""
        states: dict[str, Counter[str | None]] = {}
        for (db, state), n in self._states.items():
            if n:
                states.setdefault(db, Counter())[state] = n
        return {db: state_counts(c, self._waiting[db]) for db, c in states.items()}

    def oldest_xact_start(self) -> datetime | None:
        return min(self._xact_starts, default=None)

    def total(self) -> StateCounts:
        by_state: Counter[str | None] = Counter()
        for (_, state), n in self._states.items():
            by_state[state] += n
        return state_counts(by_state, sum(self._waiting.values()))
