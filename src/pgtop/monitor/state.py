"""What one server's screen shows, kept without a terminal: one `MonitorState` per server.

Its one writer is that server's feed (monitor/live.py or monitor/replay.py): the poll
results and failures it delivers (and its pause or replay position) come in through
the `take_*`, `*_failed` and `set_*` methods below, and each such change leaves a new
frozen `Frame` in `frame` for the screen; everything else only reads. The pooler join,
rates and histories are derived here once per change, so a screen (or a fleet line,
or a headless recorder) reads the same figures.
"""

from __future__ import annotations

import threading
from datetime import datetime
from typing import TYPE_CHECKING

from pgtop.model.derive import (
    Rates,
    SummaryFollower,
    compute_rates,
    known_summary,
    pooler_rates,
    remember_summary,
)
from pgtop.model.history import History
from pgtop.model.pooler_join import LinkMemo, link_sessions
from pgtop.model.records import Snapshot
from pgtop.model.thresholds import DEFAULT_THRESHOLDS, Thresholds
from pgtop.monitor.frame import Frame

if TYPE_CHECKING:  # the findings are imported at the first derivation (hold_findings)
    from pgtop.model.findings import Finding, FindingHistory
    from pgtop.model.pooler_records import PoolerSnapshot

NO_POOLER_RATES: tuple[float | None, float | None, float | None] = (None, None, None)


class MonitorState:
    """One server: its latest snapshots, rates, trends and status."""

    def __init__(
        self,
        *,
        separate_pooler: bool = False,
        refresh: float = 2.0,
        thresholds: Thresholds = DEFAULT_THRESHOLDS,
    ) -> None:
        """`separate_pooler`: the pooler is polled on its own, and its snapshot is joined
        to PostgreSQL's here (else the PostgreSQL snapshot brings its own pooler data).
        `thresholds`: when findings are raised (a profile's [findings] table)."""
        self.separate_pooler = separate_pooler
        self.refresh = refresh  # seconds between polls (a recording's median interval)
        self.pg_snapshot: Snapshot | None = None
        self.pooler_snapshot: PoolerSnapshot | None = None
        self.pooler_error: str | None = None
        self.rates: Rates | None = None
        self.pooler_rates = NO_POOLER_RATES
        self.had_data = False  # some PostgreSQL data ever arrived
        self.status = "connecting"  # live, paused, reconnecting, or a replay position
        self.reason = ""  # why not live
        self.last_good: datetime | None = None  # what the data is as of, by the server
        self.connections = History()
        self.tps = History()
        # (inputs, result) of the last pooler join: joined once per snapshot, not per call.
        self._linked: tuple[tuple[object, ...], Snapshot] | None = None
        self._link_memo: LinkMemo = {}  # keeps linked sessions the same objects
        # Counts of the replay's listings, which no collector counted (prepare_postgres).
        self._summaries = SummaryFollower()
        self.thresholds = thresholds
        self._history: FindingHistory | None = None  # fed once per PostgreSQL snapshot
        self._findings_held = False  # hold_findings()
        # (snapshot, result) of the last derivation: findings once per joined snapshot.
        self._findings: tuple[Snapshot | None, tuple[Finding, ...]] = (None, ())
        # (PostgreSQL snapshot, joined, findings) worked out ahead by prepare_postgres on
        # the feed's worker thread; the lock keeps that and this thread's joins and
        # derivations (their memos: link memo, finding history) one at a time.
        self._prepared: tuple[Snapshot, Snapshot, tuple[Finding, ...]] | None = None
        self._deriving = threading.Lock()
        self.frame = Frame(refresh=refresh)  # what the screen shows now

    def _changed(self) -> None:
        """One new frame per change: the screen draws from it alone."""
        snap = self.snapshot()
        self.frame = Frame(
            snap,
            self.current_rates(),
            self.status,
            self.reason,
            self.last_good,
            self.refresh,
            self.findings(snap),
        )

    def hold_findings(self) -> None:
        """Frames carry no findings until `release_findings()`: a screen's first frame is
        drawn before the findings' code is imported and its index of every session built
        (~25 ms at 1,000 sessions, ten times that at 10,000), and gets them a moment later."""
        self._findings_held = True

    def release_findings(self) -> bool:
        """Derive what `hold_findings` held back; True when that made a new frame."""
        if not self._findings_held:
            return False
        self._findings_held = False
        if self.pg_snapshot is None:
            return False
        self._changed()
        return True

    def _derive(self, history_snap: Snapshot, joined: Snapshot) -> tuple[Finding, ...]:
        """The findings of `joined`, after the history has seen `history_snap`. Under
        self._deriving."""
        from pgtop.model.findings import FindingHistory, derive_findings

        if self._history is None:
            self._history = FindingHistory()
        self._history.observe(history_snap)
        return derive_findings(joined, self.thresholds, self._history)

    # -- writes (the feed) --------------------------------------------------------------

    def prepare_postgres(self, snap: Snapshot) -> None:
        """Join and derive the findings of `snap`, the PostgreSQL snapshot `take_postgres`
        gets next, ahead of time: safe from a worker thread, so that at many sessions
        this work does not hold the event loop. Nothing is shown or changed until
        `take_postgres(snap)`; a snapshot prepared but never taken costs nothing more.
        (The finding history sees `snap` now: at most one poll early.)"""
        if self.separate_pooler:  # the pooler's snapshot may change before it is taken
            return
        with self._deriving:
            if known_summary(snap.sessions) is None:  # the header's counts, off the loop
                remember_summary(snap.sessions, self._summaries.summary(snap.sessions))
            linked = link_sessions(snap, self._link_memo)
            self._prepared = (snap, linked, self._derive(snap, linked))

    def take_postgres(self, snap: Snapshot, status: str) -> bool:
        """A new PostgreSQL snapshot; True when it is the first data of this server."""
        if self.pg_snapshot is not None:
            self.rates = compute_rates(self.pg_snapshot, snap)
        self.pg_snapshot = snap
        first, self.had_data = not self.had_data, True
        self.status = status
        self.reason = ""
        self.last_good = snap.server.snapshot_time
        self.connections.add(float(snap.limits.client_connections))
        self.tps.add(self.rates.transactions if self.rates else None)
        self._changed()
        return first

    def postgres_failed(self, reason: str) -> None:
        """The last poll failed: the data shown is stale until the next good one."""
        self.status = "reconnecting"
        self.reason = reason
        self._changed()

    def take_pooler(self, snap: PoolerSnapshot) -> None:
        if self.pooler_snapshot is not None:
            self.pooler_rates = pooler_rates(self.pooler_snapshot, snap)
        self.pooler_snapshot = snap
        self.pooler_error = None
        self._changed()

    def pooler_failed(self, reason: str) -> None:
        # Old pools would read as current: drop them (the pane dims its last table itself).
        self.pooler_error = reason
        self.pooler_snapshot = None
        self.pooler_rates = NO_POOLER_RATES
        self._changed()

    def set_status(self, status: str) -> None:
        """Paused or live again, or where a replay stands."""
        self.status = status
        self._changed()

    def set_refresh(self, seconds: float) -> None:
        self.refresh = seconds
        self._changed()

    def restart_from(self, before: Snapshot | None) -> None:
        """A jump (replay): the next snapshot's rates come from `before`, not the last.
        No frame of its own: the snapshot jumped to follows at once."""
        self.pg_snapshot = before
        self.rates = None

    # -- reads --------------------------------------------------------------------------

    def snapshot(self) -> Snapshot | None:
        """The latest PostgreSQL snapshot with the pooler's data joined to its sessions."""
        if self.pg_snapshot is None:
            return None
        inputs = (self.pg_snapshot, self.pooler_snapshot, self.pooler_error)
        if self._linked is not None and all(
            a is b for a, b in zip(self._linked[0], inputs, strict=True)
        ):
            return self._linked[1]
        snap = self.pg_snapshot
        prepared = self._prepared
        if self.separate_pooler:
            snap = snap._replace(pooler=self.pooler_snapshot, pooler_error=self.pooler_error)
        elif prepared is not None and prepared[0] is snap:
            self._linked = (inputs, prepared[1])
            return prepared[1]
        # Sessions PgBouncer opened get their pool and client (model/pooler_join.py).
        with self._deriving:
            self._linked = (inputs, link_sessions(snap, self._link_memo))
        return self._linked[1]

    def findings(self, snap: Snapshot | None) -> tuple[Finding, ...]:
        """What `snap` (this state's joined snapshot) means; derived once per snapshot."""
        if snap is None or self._findings_held:
            return ()
        if self._findings[0] is not snap:
            prepared = self._prepared
            if prepared is not None and prepared[1] is snap:
                self._findings = (snap, prepared[2])
                return prepared[2]
            with self._deriving:
                found = self._derive(self.pg_snapshot or snap, snap)
            self._findings = (snap, found)
        return self._findings[1]

    def current_rates(self) -> Rates | None:
        """The PostgreSQL rates, with the pooler's when it is polled on its own."""
        if self.rates is None or not self.separate_pooler:  # else compute_rates has them
            return self.rates
        pt, pq, pw = self.pooler_rates
        return self.rates._replace(pooler_transactions=pt, pooler_queries=pq, pooler_avg_wait_ms=pw)
