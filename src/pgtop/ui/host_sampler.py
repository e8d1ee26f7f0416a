"""Host figures of one server screen: load, memory and disk in the header; per-backend
CPU, memory and I/O columns on `h` — only when pgtop runs on the database host.

A HostSampler belongs to one ServerScreen (one connection) and is the one writer of its
fields and of the header's `host`. Whether pgtop runs there is decided once
(collect/host.is_local_backend); remotely the columns are absent, not zero. Sampling
reads /proc of the visible rows only, in a thread, after each poll.
"""

from __future__ import annotations

import asyncio
import time
from typing import TYPE_CHECKING

from textual.screen import Screen

from pgtop.monitor.feed import Feed
from pgtop.ui.widgets.header_lines import HeaderState
from pgtop.ui.widgets.sessions_table import SessionsTable

HEADER_ONLY_EVERY = 5.0  # seconds between host samples while no per-backend column shows

if TYPE_CHECKING:
    from pgtop.collect.host import HostCollector
    from pgtop.model.host import HostStats, ProcessStats


class HostSampler:
    def __init__(
        self, screen: Screen[object], feed: Feed, header: HeaderState, table: SessionsTable
    ) -> None:
        self.screen = screen
        self.feed = feed
        self.header = header
        self.table = table
        self.host: HostCollector | None = None
        self.checked = False  # locality is checked once per connection
        self.columns = False  # the user asked for per-backend figures (h)
        self.stats: HostStats | None = None
        self._sampled_at = float("-inf")

    def sample(self) -> None:
        """After each poll: check locality once, then sample in a thread."""
        postgres = self.feed.postgres
        if not self.feed.samples_host or postgres is None:
            return
        if not self.checked:
            own = postgres.own_backend
            if own is None:
                return
            self.checked = True
            self.screen.run_worker(self._check_locality(*own), group="host", exclusive=True)
            return
        if self.host is None:
            return
        now = time.monotonic()
        if not self.columns and now - self._sampled_at < HEADER_ONLY_EVERY:
            return  # load, memory and disk alone move slowly: spare a thread per tick
        self._sampled_at = now
        pids = self.table.visible_pids() if self.columns else []
        self.screen.run_worker(self._sample(self.host, pids), group="host", exclusive=True)

    async def _check_locality(self, pid: int, started: object, data_dir: str | None) -> None:
        from pgtop.collect.host import HostCollector, is_local_backend  # psutil: not at start

        local = await asyncio.to_thread(is_local_backend, pid, started)  # type: ignore[arg-type]
        if local:
            self.host = HostCollector(data_dir)

    async def _sample(self, host: HostCollector, pids: list[int]) -> None:
        try:
            stats, procs = await asyncio.to_thread(host.sample, pids)
        except Exception as exc:  # /proc vanished under us: say so once, stop sampling
            self.screen.notify(f"host figures stopped: {exc}", severity="warning")
            self.host = None
            return
        self._show(stats, procs)

    def _show(self, stats: HostStats, procs: dict[int, ProcessStats]) -> None:
        if not self.table.is_attached:  # the sample outlived the screen
            return
        first = self.stats is None
        self.stats = stats
        self.header.host = stats
        self.table.set_procs(procs if self.columns else None)
        if first:  # later samples show with the next frame, a second away at most:
            # a repaint of its own every few seconds cost ~2 % of the CPU at 1,000 sessions
            self.screen.query_one("#header").refresh()

    def toggle_columns(self) -> None:
        """`h` on the sessions pane."""
        if self.host is None:
            where = self.feed.address
            self.screen.notify(
                f"host figures need pgtop on the database host; {where} is not this machine",
                severity="warning",
            )
            return
        self.columns = not self.columns
        if not self.columns:
            self.table.set_procs(None)
        self.screen.notify(
            "per-backend CPU, memory and I/O shown" if self.columns else "host columns hidden",
            timeout=1.5,
        )
        self.sample()
