"""Live data for PgTopApp: the polling workers, their messages, and pause/interval keys.

One Poller per server (collect/poller.py) runs as a Textual worker and posts each
result as a message; these handlers keep the latest snapshots, compute rates and ask
the app to redraw. No handler awaits the network.
"""

from __future__ import annotations

import contextlib
import dataclasses
from collections.abc import Awaitable, Callable
from functools import wraps
from typing import TYPE_CHECKING, TypeVar

from textual.css.query import NoMatches

from pgtop import gc_pause
from pgtop.collect.errors import CollectError
from pgtop.collect.pgbouncer import PgBouncerCollector
from pgtop.collect.poller import Poller
from pgtop.collect.postgres import PostgresCollector
from pgtop.model.derive import Rates, compute_rates, pooler_rates
from pgtop.model.pooler_join import link_sessions
from pgtop.model.records import PoolerSnapshot, Snapshot
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

    @_unless_closing
    def on_postgres_ready(self, message: PostgresReady) -> None:
        new = message.snapshot
        if self.pg_snapshot is not None:
            self.rates = compute_rates(self.pg_snapshot, new)
        self.pg_snapshot = new
        first_data, self._had_data = not self._had_data, True
        if self.recorder is not None:
            self.record_snapshot()
        self.query_one(SessionsTable).set_stale(False)
        hs = self.header_state
        if self.replay is not None:
            hs.status = self.replay_status()
        else:
            hs.status = "paused" if self.pg_poller.paused else "live"
        hs.reason = ""
        hs.last_good = new.server.snapshot_time  # what the data is as of, by the server
        hs.connections.add(float(new.limits.client_connections))
        hs.tps.add(self.rates.transactions if self.rates else None)
        self._render_all()
        if first_data:
            self.call_after_refresh(self._after_first_frame)
        else:
            self.sample_host()

    def _after_first_frame(self) -> None:
        gc_pause.resume()
        with contextlib.suppress(NoMatches):  # the app may be closing already
            self.sample_host()  # its locality check (psutil, a thread) would delay the frame

    @_unless_closing
    def on_postgres_failed(self, message: PostgresFailed) -> None:
        error: CollectError = message.error
        if not self._had_data and error.kind in FATAL_AT_START:
            self.exit_message = error.message
            self.exit()
            return
        hs = self.header_state
        hs.status = "reconnecting"
        hs.reason = error.message
        self.query_one(SessionsTable).set_stale(True)
        self.query_one(StatusHeader).refresh()

    @_unless_closing
    def on_pooler_ready(self, message: PoolerReady) -> None:
        if self.pooler_snapshot is not None:
            self._pooler_rates = pooler_rates(self.pooler_snapshot, message.snapshot)
        self.pooler_snapshot = message.snapshot
        self.pooler_error = None
        # The sessions table takes the new links at the next PostgreSQL poll, one refresh
        # at most: re-sorting and redrawing it on both ticks was a tenth of pgtop --pooler's
        # CPU. The header, the badges and the pooler panes follow now.
        self._render_all(sessions=False)

    @_unless_closing
    def on_pooler_failed(self, message: PoolerFailed) -> None:
        self.pooler_error = message.error.message
        # Old pools would read as current; the pane keeps its last table dimmed itself.
        self.pooler_snapshot = None
        self._pooler_rates = (None, None, None)
        self._render_all()

    def current_snapshot(self) -> Snapshot | None:
        if self.pg_snapshot is None:
            return None
        inputs = (self.pg_snapshot, self.pooler_snapshot, self.pooler_error)
        if self._linked is not None and all(
            a is b for a, b in zip(self._linked[0], inputs, strict=True)
        ):
            return self._linked[1]
        snap = self.pg_snapshot
        if self.pooler_poller is not None:  # else no pooler, or a source that brings its own
            snap = dataclasses.replace(
                snap, pooler=self.pooler_snapshot, pooler_error=self.pooler_error
            )
        # Sessions PgBouncer opened get their pool and client (model/pooler_join.py).
        self._linked = (inputs, link_sessions(snap, self._link_memo))
        return self._linked[1]

    def current_rates(self) -> Rates | None:
        if self.rates is None or self.pooler_poller is None:  # else compute_rates has them
            return self.rates
        pt, pq, pw = self._pooler_rates
        return dataclasses.replace(
            self.rates, pooler_transactions=pt, pooler_queries=pq, pooler_avg_wait_ms=pw
        )

    def action_toggle_pause(self) -> None:
        if self.replay is not None:
            self.replay_toggle_pause()
            return
        pollers = [p for p in (self.pg_poller, self.pooler_poller) if p is not None]
        pause = not self.pg_poller.paused
        for poller in pollers:
            poller.pause() if pause else poller.resume()
        self.header_state.status = "paused" if pause else "live"
        self.query_one(StatusHeader).refresh()

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
