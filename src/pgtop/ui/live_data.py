"""Live data for PgTopApp: the polling workers, their messages, and pause/interval keys.

One Poller per server (collect/poller.py) runs as a Textual worker and posts each
result as a message; these handlers keep the latest snapshots, compute rates and ask
the app to redraw. No handler awaits the network.
"""

from __future__ import annotations

import contextlib
from collections.abc import Awaitable, Callable
from functools import wraps
from typing import TYPE_CHECKING, TypeVar

from textual.css.query import NoMatches

from pgtop import gc_pause
from pgtop.collect.errors import CollectError
from pgtop.collect.pgbouncer import PgBouncerCollector
from pgtop.collect.poller import Poller
from pgtop.collect.postgres import PostgresCollector
from pgtop.model.derive import Rates
from pgtop.model.records import PoolerSnapshot, Snapshot
from pgtop.monitor.state import MonitorState
from pgtop.ui.messages import PoolerFailed, PoolerReady, PostgresFailed, PostgresReady
from pgtop.ui.widgets.header import StatusHeader
from pgtop.ui.widgets.sessions_table import SessionsTable

if TYPE_CHECKING:
    from pgtop.ui.app import PgTopApp

    _Base = PgTopApp
else:
    _Base = object

# A first connection that fails is a typo or a wrong setting far more often than an
# outage: exit with the one-line reason (as --once does) rather than retry forever.
FATAL_AT_START = {"auth", "usage", "privilege", "connect", "timeout"}

M = TypeVar("M")


def _unless_closing(handler: Callable[[_Base, M], None]) -> Callable[[_Base, M], None]:
    """A poll result that lands while the app shuts down finds no widgets: drop it."""

    @wraps(handler)
    def wrapper(app: _Base, message: M) -> None:
        with contextlib.suppress(NoMatches):  # only ever raised once widgets are gone
            handler(app, message)

    return wrapper


class LiveData(_Base):
    """Mixed into PgTopApp."""

    def _start_polling(self) -> None:
        if self.replay is not None:
            self.start_replay()
            return
        self.run_worker(self.pg_poller.run(), group="poll-postgres", exit_on_error=False)
        if self.pooler_poller is not None:
            self.run_worker(self.pooler_poller.run(), group="poll-pooler", exit_on_error=False)

    def _make_pollers(self) -> None:
        t = self.target
        poll_timeout = max(5.0, t.refresh * 3)
        head_start, self.head_start = self.head_start, None  # only for the first target
        first: Awaitable[Snapshot] | None = None
        if head_start is not None:
            self.postgres, first = head_start
        else:
            self.postgres = PostgresCollector(
                t.postgres,
                connect_timeout=t.connect_timeout,
                poll_timeout=poll_timeout,
                password=self.password,
            )
        self.pg_poller: Poller[Snapshot] = Poller(
            self.snapshot_source or self.postgres.poll,
            first=first,
            interval=t.refresh,
            on_result=lambda s: self.post_message(PostgresReady(s)),
            on_error=lambda e: self.post_message(PostgresFailed(e)),
        )
        self.pooler: PgBouncerCollector | None = None
        self.pooler_poller: Poller[PoolerSnapshot] | None = None
        if t.pooler and self.snapshot_source is None:
            self.pooler = PgBouncerCollector(
                t.pooler, connect_timeout=t.connect_timeout, poll_timeout=poll_timeout
            )
            self.pooler_poller = Poller(
                self.pooler.poll,
                interval=t.refresh,
                on_result=lambda p: self.post_message(PoolerReady(p)),
                on_error=lambda e: self.post_message(PoolerFailed(e)),
            )
        self.state = MonitorState(separate_pooler=self.pooler_poller is not None)
        self.header_state.connections = self.state.connections  # the header draws its trends
        self.header_state.tps = self.state.tps

    @_unless_closing
    def on_postgres_ready(self, message: PostgresReady) -> None:
        if self.replay is not None:
            status = self.replay_status()
        else:
            status = "paused" if self.pg_poller.paused else "live"
        first_data = self.state.take_postgres(message.snapshot, status)
        if self.recorder is not None:
            self.record_snapshot()
        self.query_one(SessionsTable).set_stale(False)
        self._show_status(refresh=False)  # _render_all refreshes the header
        self._render_all()
        if first_data:
            self.call_after_refresh(self._after_first_frame)
        else:
            self.sample_host()

    def _show_status(self, *, refresh: bool = True) -> None:
        """The state's status into the header."""
        hs, st = self.header_state, self.state
        hs.status, hs.reason, hs.last_good = st.status, st.reason, st.last_good
        if refresh:
            self.query_one(StatusHeader).refresh()

    def _after_first_frame(self) -> None:
        gc_pause.resume()
        with contextlib.suppress(NoMatches):  # the app may be closing already
            self.sample_host()  # its locality check (psutil, a thread) would delay the frame

    @_unless_closing
    def on_postgres_failed(self, message: PostgresFailed) -> None:
        error: CollectError = message.error
        if not self.state.had_data and error.kind in FATAL_AT_START:
            self.exit_message = error.message
            self.exit()
            return
        self.state.postgres_failed(error.message)
        self.query_one(SessionsTable).set_stale(True)
        self._show_status()

    @_unless_closing
    def on_pooler_ready(self, message: PoolerReady) -> None:
        self.state.take_pooler(message.snapshot)
        # The sessions table takes the new links at the next PostgreSQL poll, one refresh
        # at most: re-sorting and redrawing it on both ticks was a tenth of pgtop --pooler's
        # CPU. The header, the badges and the pooler panes follow now.
        self._render_all(sessions=False)

    @_unless_closing
    def on_pooler_failed(self, message: PoolerFailed) -> None:
        self.state.pooler_failed(message.error.message)
        self._render_all()

    def current_snapshot(self) -> Snapshot | None:
        return self.state.snapshot()

    def current_rates(self) -> Rates | None:
        return self.state.current_rates()

    def action_toggle_pause(self) -> None:
        if self.replay is not None:
            self.replay_toggle_pause()
            return
        pollers = [p for p in (self.pg_poller, self.pooler_poller) if p is not None]
        pause = not self.pg_poller.paused
        for poller in pollers:
            poller.pause() if pause else poller.resume()
        self.state.set_status("paused" if pause else "live")
        self._show_status()

    def _set_interval(self, seconds: float) -> None:
        value = self.pg_poller.set_interval(seconds)
        if self.pooler_poller is not None:
            self.pooler_poller.set_interval(value)
        self.header_state.refresh = value
        self.query_one(StatusHeader).refresh()

    def action_slower(self) -> None:
        self._set_interval(self.pg_poller.interval + (0.5 if self.pg_poller.interval < 2 else 1))

    def action_faster(self) -> None:
        self._set_interval(self.pg_poller.interval - (0.5 if self.pg_poller.interval <= 2 else 1))

    def action_refresh_now(self) -> None:
        self.pg_poller.poll_now()
        if self.pooler_poller is not None:
            self.pooler_poller.poll_now()
