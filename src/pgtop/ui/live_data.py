"""The server's feed in PgTopApp: built, started, stopped, and its updates drawn.

The feed (monitor/live.py polls, monitor/replay.py plays a recording) is the one writer
of the server's MonitorState, from its own workers; each change comes here as a
`FeedUpdated` message and is drawn from the state. No handler awaits the network.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from functools import wraps
from typing import TYPE_CHECKING, TypeVar

from textual.css.query import NoMatches

from pgtop import gc_pause
from pgtop.model.derive import Rates
from pgtop.model.records import Snapshot
from pgtop.monitor.feed import FEED_GROUPS, Feed, Update
from pgtop.monitor.live import LiveFeed
from pgtop.ui.messages import FeedUpdated
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

    def _make_feed(self) -> None:
        head_start, self.head_start = self.head_start, None  # only for the first target

        def post(update: Update) -> None:
            self.post_message(FeedUpdated(update))

        feed: Feed
        if self.replay is not None:
            from pgtop.monitor.replay import ReplayFeed  # only when replaying

            address = self.target.postgres.describe()
            feed = ReplayFeed(self.replay, address, self.target.refresh, post, self._feed_notice)
            # The status carries the frame's time and line 1 says read-only: name the file.
            self.header_state.notes[:] = [f"replay of {self.replay.path.name}"]
            self.header_state.replaying = True
        else:
            feed = LiveFeed(
                self.target,
                post,
                password=self.password,
                source=self.snapshot_source,
                head_start=head_start,
            )
        self.feed = feed
        self.state = feed.state
        self.header_state.connections = self.state.connections  # the header draws its trends
        self.header_state.tps = self.state.tps

    def _feed_notice(self, text: str, severity: str, timeout: float | None) -> None:
        self.notify(text, severity=severity, timeout=timeout)  # type: ignore[arg-type]

    def _start_feed(self) -> None:
        self.feed.start(lambda work, group: self.run_worker(work, group=group, exit_on_error=False))

    async def _stop_feed(self) -> None:
        for group in FEED_GROUPS:
            self.workers.cancel_group(self, group)
        await self.feed.close()

    @_unless_closing
    def on_feed_updated(self, message: FeedUpdated) -> None:
        update = message.update
        if update.source == "status":
            self._publish()
        elif update.source == "pooler":
            # The sessions table takes the new links at the next PostgreSQL poll, one
            # refresh at most: re-sorting and redrawing it on both ticks was a tenth of
            # pgtop --pooler's CPU. The header, badges and pooler panes follow now; after
            # a failure everything does (old pools would read as current).
            self._render_all(sessions=update.error is not None)
        elif update.error is None:
            self._took_postgres(first_data=update.first)
        else:
            self._postgres_failed(update)

    def _took_postgres(self, *, first_data: bool) -> None:
        if self.recorder is not None:
            self.record_snapshot()
        self.query_one(SessionsTable).set_stale(False)
        self._render_all()  # the frame with it
        if first_data:
            self.call_after_refresh(self._after_first_frame)
        else:
            self.sample_host()

    def _publish(self) -> None:
        """The state's latest frame to what draws it (the header subscribes)."""
        self.frames.publish(self.state.frame)

    def _after_first_frame(self) -> None:
        gc_pause.resume()
        with contextlib.suppress(NoMatches):  # the app may be closing already
            self.sample_host()  # its locality check (psutil, a thread) would delay the frame

    def _postgres_failed(self, update: Update) -> None:
        error = update.error
        assert error is not None
        if not self.state.had_data and error.kind in FATAL_AT_START:
            self.exit_message = error.message
            self.exit()
            return
        self.query_one(SessionsTable).set_stale(True)
        self._publish()

    def current_snapshot(self) -> Snapshot | None:
        return self.state.snapshot()

    def current_rates(self) -> Rates | None:
        return self.state.current_rates()

    def action_feed(self, control: str, *args: object) -> None:
        """A key for the feed itself (pause, interval, playback): the feed offers it or
        check_action leaves it out."""
        getattr(self.feed, control)(*args)
        self._publish()
