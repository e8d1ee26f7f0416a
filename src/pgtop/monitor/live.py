"""The live feed of one server: a Poller for PostgreSQL and one for its PgBouncer.

Each poller runs as its own worker, so a stuck pooler never delays the PostgreSQL data.
Their callbacks are the one writer of the server's MonitorState; each then reports an
`Update`. The collectors come from collect/monitor.py, where every caller builds them.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

from pgtop.collect.errors import CollectError
from pgtop.collect.monitor import PoolerGroup, pooler_collector, postgres_collector
from pgtop.collect.poller import Poller
from pgtop.collect.postgres import PostgresCollector
from pgtop.model.records import Snapshot
from pgtop.monitor.feed import POOLER_GROUP, POSTGRES_GROUP, Spawn, Update
from pgtop.monitor.state import MonitorState
from pgtop.target import Target

if TYPE_CHECKING:
    from pgtop.collect.pgbouncer import PgBouncerCollector
    from pgtop.model.pooler_records import PoolerSnapshot


class LiveFeed:
    """Polls the target's server (and pooler) every refresh interval."""

    controls = frozenset({"toggle_pause", "slower", "faster", "refresh_now"})
    has_server = True

    def __init__(
        self,
        target: Target,
        on_update: Callable[[Update], None],
        *,
        password: str | None = None,
        source: Callable[[], Awaitable[Snapshot]] | None = None,
        head_start: tuple[PostgresCollector, Awaitable[Snapshot]] | None = None,
        retry_delay: Callable[[int], float] | None = None,
    ) -> None:
        """`source` replaces polling PostgreSQL and its pooler (tests); `head_start` is a
        collector and its first poll, begun while the UI was still importing (modes.py);
        `retry_delay` backs off from a server that keeps failing (the fleet, monitor/fleet.py)."""
        self._on_update = on_update
        first: Awaitable[Snapshot] | None = None
        if head_start is not None:
            self.postgres, first = head_start
        else:
            self.postgres = postgres_collector(target, password)
        self.samples_host = source is None
        self.pg_poller: Poller[Snapshot] = Poller(
            source or self.postgres.poll,
            first=first,
            interval=target.refresh,
            on_result=self._took_postgres,
            on_error=self._postgres_failed,
            retry_delay=retry_delay,
        )
        self.pooler: PgBouncerCollector | PoolerGroup | None = None
        self.pooler_poller: Poller[PoolerSnapshot] | None = None
        if source is None:
            self.pooler = pooler_collector(target)
        if self.pooler is not None:
            self.pooler_poller = Poller(
                self.pooler.poll,
                interval=target.refresh,
                on_result=self._took_pooler,
                on_error=self._pooler_failed,
                retry_delay=retry_delay,
            )
        self.state = MonitorState(
            separate_pooler=self.pooler_poller is not None,
            refresh=target.refresh,
            thresholds=target.findings,
        )

    # -- the pollers' callbacks: the state's one writer ---------------------------------

    def _took_postgres(self, snap: Snapshot) -> None:
        first = self.state.take_postgres(snap, "paused" if self.paused else "live")
        self._on_update(Update("postgres", first=first))

    def _postgres_failed(self, error: CollectError) -> None:
        self.state.postgres_failed(error.message)
        self._on_update(Update("postgres", error=error))

    def _took_pooler(self, snap: PoolerSnapshot) -> None:
        self.state.take_pooler(snap)
        self._on_update(Update("pooler"))

    def _pooler_failed(self, error: CollectError) -> None:
        self.state.pooler_failed(error.message)
        self._on_update(Update("pooler", error=error))

    @property
    def address(self) -> str:
        return self.postgres.address  # as connected: the collector learns it then

    # -- running ------------------------------------------------------------------------

    @property
    def _pollers(self) -> list[Poller[Snapshot] | Poller[PoolerSnapshot]]:
        return [p for p in (self.pg_poller, self.pooler_poller) if p is not None]

    def start(self, spawn: Spawn) -> None:
        spawn(self.pg_poller.run(), POSTGRES_GROUP)
        if self.pooler_poller is not None:
            spawn(self.pooler_poller.run(), POOLER_GROUP)

    async def close(self) -> None:
        await self.postgres.close()
        if self.pooler is not None:
            await self.pooler.close()

    @property
    def paused(self) -> bool:
        return self.pg_poller.paused

    def toggle_pause(self) -> None:
        pause = not self.paused
        for poller in self._pollers:
            poller.pause() if pause else poller.resume()
        self.state.set_status("paused" if pause else "live")

    def _set_interval(self, seconds: float) -> None:
        value = self.pg_poller.set_interval(seconds)
        if self.pooler_poller is not None:
            self.pooler_poller.set_interval(value)
        self.state.set_refresh(value)

    def slower(self) -> None:
        interval = self.pg_poller.interval
        self._set_interval(interval + (0.5 if interval < 2 else 1))

    def faster(self) -> None:
        interval = self.pg_poller.interval
        self._set_interval(interval - (0.5 if interval <= 2 else 1))

    def refresh_now(self) -> None:
        for poller in self._pollers:
            poller.poll_now()

    def watch_locks_of(self, pid: int | None, *, now: bool = False) -> int | None:
        before, self.postgres.inspect_pid = self.postgres.inspect_pid, pid
        if now:
            self.pg_poller.poll_now()
        return before

    def poll_now(self) -> None:
        """PostgreSQL again at once (after a signal: show its effect)."""
        self.pg_poller.poll_now()
