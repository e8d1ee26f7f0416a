"""One server of the headless recorder: its pollers, its MonitorState, its poll figures.

Polls as the live feed does (monitor/live.py): the collectors come from the builders in
collect/monitor.py, one Poller for PostgreSQL and one for its PgBouncer, and the pollers'
callbacks are the one writer of the MonitorState (the pooler's data joined there). Unlike
the live feed it times each PostgreSQL poll and counts failures, for the metrics, and it
logs a line when polling starts failing, fails differently, or recovers, never per poll.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterable

from pgtop.collect.errors import CollectError
from pgtop.collect.monitor import pooler_collector, postgres_collector
from pgtop.collect.poller import Poller
from pgtop.metrics.exposition import FindingLike, ServerMetrics
from pgtop.model.format import age
from pgtop.model.pooler_records import PoolerSnapshot
from pgtop.model.records import Snapshot
from pgtop.monitor.state import MonitorState
from pgtop.target import Target

Log = Callable[[str], None]


class Member:
    """Polls `target` under `name`; `on_change` is called after every poll result or
    failure, with the new PostgreSQL snapshot (the pooler's latest data joined) or None."""

    def __init__(
        self,
        name: str,
        target: Target,
        log: Log,
        on_change: Callable[[Member, Snapshot | None], None],
    ) -> None:
        self.name = name
        self.target = target
        self._log = log
        self._on_change = on_change
        self.postgres = postgres_collector(target)
        self.pooler = pooler_collector(target)
        self.state = MonitorState(
            separate_pooler=self.pooler is not None,
            refresh=target.refresh,
            thresholds=target.findings,
        )
        self.poll_seconds: float | None = None
        self.poll_errors = 0
        self.pooler_errors = 0
        self._pg_failing: str | None = None  # the message of the current run of failures
        self._pooler_failing: str | None = None
        self._pg_failed_polls = 0
        # Settings no retry can mend (a keyword pgtop refuses), before any data came.
        self.unusable: str | None = None
        self.pg_poller: Poller[Snapshot] = Poller(
            self._timed_poll,
            interval=target.refresh,
            on_result=self._took_postgres,
            on_error=self._postgres_failed,
        )
        self.pooler_poller: Poller[PoolerSnapshot] | None = None
        if self.pooler is not None:
            self.pooler_poller = Poller(
                self.pooler.poll,
                interval=target.refresh,
                on_result=self._took_pooler,
                on_error=self._pooler_failed,
            )

    async def _timed_poll(self) -> Snapshot:
        loop = asyncio.get_running_loop()
        started = loop.time()
        snap = await self.postgres.poll()
        self.poll_seconds = loop.time() - started
        return snap

    # -- the pollers' callbacks: the state's one writer ---------------------------------

    def _took_postgres(self, snap: Snapshot) -> None:
        self._note_restart(snap)
        self.state.take_postgres(snap, "live")
        if self._pg_failing is not None:
            self._log(
                f"{self.name}: PostgreSQL polls recovered after {self._pg_failed_polls} "
                f"failed ({self.postgres.address})"
            )
            self._pg_failing, self._pg_failed_polls = None, 0
        self._on_change(self, self.state.snapshot())

    def _note_restart(self, snap: Snapshot) -> None:
        """A restart between two polls fails no poll (the collector reconnects at once),
        yet it is the event of the night: say it when the server's start time moves."""
        before = self.state.pg_snapshot
        if before is None:
            return
        started, was = snap.server.start_time, before.server.start_time
        if started is not None and was is not None and started != was:
            up = age((before.server.snapshot_time - was).total_seconds())
            self._log(
                f"{self.name}: PostgreSQL restarted: up since {started:%Y-%m-%d %H:%M:%S %Z}"
                f" (it had been up {up})"
            )

    def _postgres_failed(self, error: CollectError) -> None:
        self.poll_errors += 1
        self._pg_failed_polls += 1
        self.state.postgres_failed(error.message)
        if error.kind == "usage" and not self.state.had_data:
            self.unusable = error.message
        if error.message != self._pg_failing:
            self._pg_failing = error.message
            self._log(f"{self.name}: PostgreSQL poll failed: {error.message}")
        self._on_change(self, None)

    def _took_pooler(self, snap: PoolerSnapshot) -> None:
        self.state.take_pooler(snap)
        if self._pooler_failing is not None:
            self._log(f"{self.name}: PgBouncer polls recovered")
            self._pooler_failing = None
        self._on_change(self, None)

    def _pooler_failed(self, error: CollectError) -> None:
        self.pooler_errors += 1
        self.state.pooler_failed(error.message)
        if error.message != self._pooler_failing:
            self._pooler_failing = error.message
            self._log(f"{self.name}: PgBouncer poll failed: {error.message}")
        self._on_change(self, None)

    # -- running ------------------------------------------------------------------------

    def start(self) -> list[asyncio.Task[None]]:
        tasks = [asyncio.create_task(self.pg_poller.run(), name=f"poll-{self.name}")]
        if self.pooler_poller is not None:
            tasks.append(asyncio.create_task(self.pooler_poller.run(), name=f"pool-{self.name}"))
        return tasks

    async def close(self) -> None:
        await self.postgres.close()
        if self.pooler is not None:
            await self.pooler.close()

    def metrics(self, findings: Iterable[FindingLike] | None = None) -> ServerMetrics:
        """What the metrics read of this server now (an immutable record); call it on the
        event loop, the state's thread."""
        return ServerMetrics(
            server=self.name,
            snapshot=self.state.snapshot(),
            up=self._pg_failing is None and self.state.pg_snapshot is not None,
            poll_seconds=self.poll_seconds,
            poll_errors=self.poll_errors,
            pooler_errors=self.pooler_errors,
            has_pooler=self.pooler is not None,
            findings=None if findings is None else tuple(findings),
        )
