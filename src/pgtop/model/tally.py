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
from datetime import datetime

from pgtop.model.records import (
    ACTIVE,
    CLIENT_BACKEND,
    IDLE,
    IDLE_IN_TRANSACTION,
    IDLE_IN_TRANSACTION_ABORTED,
    Session,
    StateCounts,
)


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
    by role, and their transaction starts. `add` and `remove` take the very records
    added or removed."""

    def __init__(self) -> None:
        self._states: Counter[tuple[str, str | None]] = Counter()
        self._waiting: Counter[str] = Counter()
        self.per_role: Counter[str] = Counter()
        self.per_database: Counter[str] = Counter()
        self._xact_starts: Counter[datetime] = Counter()
        self.clients = 0

    def add(self, s: Session) -> None:
        self._count(s, 1)

    def remove(self, s: Session) -> None:
        self._count(s, -1)

    def _count(self, s: Session, sign: int) -> None:
        if s.backend_type != CLIENT_BACKEND:  # attributes, not properties: a hot path
            return
        db = s.database or ""
        self._states[db, s.state] += sign
        if s.wait_event_type == "Lock":
            self._waiting[db] += sign
        self.per_role[s.user or ""] += sign
        self.per_database[db] += sign
        self.clients += sign
        start = s.xact_start
        if start is not None:
            starts = self._xact_starts
            starts[start] += sign
            if not starts[start]:
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
