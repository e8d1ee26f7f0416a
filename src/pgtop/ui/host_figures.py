"""Host figures for PgTopApp: load, memory and disk in the header; per-backend CPU,
memory and I/O columns on `h` — only when pgtop runs on the database host.

Its state (host, host_checked, host_columns, host_stats) is this mixin's alone.
Whether pgtop runs there is decided once per connection (collect/host.is_local_backend).
Remotely the columns are absent, not zero. Sampling reads /proc of the visible rows
only, in a thread, after each poll.
"""

from __future__ import annotations

import asyncio
import time
from typing import TYPE_CHECKING

from textual.css.query import NoMatches

from pgtop.ui.widgets.header import StatusHeader
from pgtop.ui.widgets.sessions_table import SessionsTable

HEADER_ONLY_EVERY = 5.0  # seconds between host samples while no per-backend column shows

if TYPE_CHECKING:
    from pgtop.collect.host import HostCollector
    from pgtop.model.host import HostStats, ProcessStats
    from pgtop.ui.app import PgTopApp

    _Base = PgTopApp
else:
    _Base = object


class HostFigures(_Base):
    """Mixed into PgTopApp."""

    host: HostCollector | None = None
    host_checked = False  # locality is checked once per connection
    host_columns = False  # the user asked for per-backend figures (h)
    host_stats: HostStats | None = None
    _host_sampled_at = float("-inf")

    def reset_host(self) -> None:
        """A new connection (profile switch): prove locality again."""
        self.host = None
        self.host_checked = False
        self.host_stats = None
        self.header_state.host = None
        self.query_one(SessionsTable).set_procs(None)

    def sample_host(self) -> None:
        """After each poll: check locality once, then sample in a thread."""
        postgres = self.feed.postgres
        if not self.feed.samples_host or postgres is None:
            return
        if not self.host_checked:
            own = postgres.own_backend
            if own is None:
                return
            self.host_checked = True
            self.run_worker(self._check_locality(*own), group="host", exclusive=True)
            return
        if self.host is None:
            return
        now = time.monotonic()
        if not self.host_columns and now - self._host_sampled_at < HEADER_ONLY_EVERY:
            return  # load, memory and disk alone move slowly: spare a thread per tick
        self._host_sampled_at = now
        pids = self.query_one(SessionsTable).visible_pids() if self.host_columns else []
        self.run_worker(self._sample(self.host, pids), group="host", exclusive=True)

    async def _check_locality(self, pid: int, started: object, data_dir: str | None) -> None:
        from pgtop.collect.host import HostCollector, is_local_backend  # psutil: not at start

        local = await asyncio.to_thread(is_local_backend, pid, started)  # type: ignore[arg-type]
        if local:
            self.host = HostCollector(data_dir)

    async def _sample(self, host: HostCollector, pids: list[int]) -> None:
        try:
            stats, procs = await asyncio.to_thread(host.sample, pids)
        except Exception as exc:  # /proc vanished under us: say so once, stop sampling
            self.notify(f"host figures stopped: {exc}", severity="warning")
            self.host = None
            return
        self._show_host(stats, procs)

    def _show_host(self, stats: HostStats, procs: dict[int, ProcessStats]) -> None:
        try:
            table, header = self.query_one(SessionsTable), self.query_one(StatusHeader)
        except NoMatches:  # the sample outlived the screen (quit while /proc was read)
            return
        self.host_stats = stats
        self.header_state.host = stats
        table.set_procs(procs if self.host_columns else None)
        header.refresh()

    def action_toggle_host(self) -> None:
        if self.host is None:
            where = self.feed.address
            self.notify(
                f"host figures need pgtop on the database host; {where} is not this machine",
                severity="warning",
            )
            return
        self.host_columns = not self.host_columns
        if not self.host_columns:
            self.query_one(SessionsTable).set_procs(None)
        self.notify(
            "per-backend CPU, memory and I/O shown" if self.host_columns else "host columns hidden",
            timeout=1.5,
        )
        self.sample_host()
