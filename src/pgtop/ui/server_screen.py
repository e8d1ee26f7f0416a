"""One server's screen: its feed and state, the frames it publishes, and its panes.

Who owns what: the server's data is its MonitorState (pgtop/monitor/), written only by
its feed, which this screen builds and closes; each change is a frozen Frame that the
screen publishes once on `frames` (header, tabs, panes and the inspect screen subscribe
and draw it). The screen owns the header's HeaderState (it writes `notes`; the sessions
pane writes the view's fields, the HostSampler `host`), the pane switching keys, the
sessions pane (view, filter, marks: see widgets/sessions_pane.py), the host figures
(host_sampler.py) and its Acting (acting.py), which runs every act on this server.
A profile switch replaces the whole screen (app.py).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

from textual import events
from textual.app import ComposeResult
from textual.binding import ActiveBinding, Binding
from textual.containers import Horizontal, Vertical
from textual.css.query import NoMatches
from textual.geometry import Size
from textual.screen import Screen
from textual.signal import Signal, SignalError
from textual.widgets import ContentSwitcher

from pgtop import gc_pause
from pgtop.model.records import Session, Snapshot
from pgtop.monitor.feed import Feed, Update
from pgtop.monitor.frame import Frame
from pgtop.monitor.live import LiveFeed
from pgtop.monitor.state import MonitorState
from pgtop.target import Target
from pgtop.ui.acting import Acting, PoolerCommand, SignalSessions
from pgtop.ui.early_screen import WIDE_SIZE
from pgtop.ui.host_sampler import HostSampler
from pgtop.ui.key_order import add_bindings, in_key_order
from pgtop.ui.messages import FeedUpdated
from pgtop.ui.widgets.header import StatusHeader
from pgtop.ui.widgets.header_lines import HeaderState
from pgtop.ui.widgets.keys_footer import KeysFooter
from pgtop.ui.widgets.pane_tabs import PaneTabs
from pgtop.ui.widgets.sessions_pane import SessionsPane
from pgtop.ui.widgets.tab_line import PANES

if TYPE_CHECKING:
    from pgtop.collect.postgres import PostgresCollector
    from pgtop.collect.record import Recorder
    from pgtop.collect.replay import Recording
    from pgtop.ui.screens.inspect import InspectScreen
    from pgtop.ui.widgets.databases_pane import DatabasesPane
    from pgtop.ui.widgets.findings_pane import FindingsPane
    from pgtop.ui.widgets.limits_pane import LimitsPane
    from pgtop.ui.widgets.pooler_pane import PoolerPane

PANE_IDS = {
    "sessions", "databases", "limits", "pooler", "findings", "side-databases", "side-pooler"
}  # fmt: skip
# A first connection that fails is a typo or a wrong setting far more often than an
# outage: exit with the one-line reason (as --once does) rather than retry forever.
FATAL_AT_START = {"auth", "usage", "privilege", "connect", "timeout"}
# A fleet member's screen: back to the fleet (esc that the pane had nothing to clear
# with), or on to the next or previous server of the fleet's lines (app.py).
FLEET_KEYS = [
    Binding("escape", "app.fleet_back", "Back to fleet", id="back"),
    Binding("right_square_bracket", "app.fleet_step(1)", "Next server", id="next-server"),
    Binding("left_square_bracket", "app.fleet_step(-1)", "Prev server", show=False,
            id="previous-server"),
]  # fmt: skip


class KeysAfterPaintFooter(KeysFooter):
    """The keys footer (one rebuild per change of keys) listing its keys only once
    `show_keys` is called: after the first paint. Its keys are the costliest widgets of
    the screen to start, ~25 ms of the first screen at start-up, for one line that can
    come a frame later. The footer's row is there from the start, so nothing moves when
    they come."""

    def __init__(self) -> None:
        super().__init__()
        self._showing = False
        self._changed_on: Screen[object] | None = None  # keys changed before show_keys

    def bindings_changed(self, screen: Screen[object]) -> None:
        if self._showing:
            super().bindings_changed(screen)
        else:
            self._changed_on = screen

    def show_keys(self) -> None:
        self._showing = True
        if self._changed_on is not None:  # in the footer's own context, as a signal does
            self.call_later(super().bindings_changed, self._changed_on)


class ServerScreen(Screen[None]):
    BINDINGS = [
        # Priority: the app runs it before it passes the next key on, so "/cron" arriving
        # in one read (a paste, a laggy SSH link) types "cron" instead of acting on c, r...
        Binding("slash", "open_filter", "Filter", id="filter", priority=True),
        Binding("1", "show_pane('sessions')", "Sessions", show=False, id="pane-sessions"),
        Binding("2", "show_pane('databases')", "Databases", show=False, id="pane-databases"),
        Binding("3", "show_pane('limits')", "Limits", show=False, id="pane-limits"),
        Binding("4", "show_pane('pooler')", "Pooler", show=False, id="pane-pooler"),
        Binding("5", "show_pane('findings')", "Findings", show=False, id="pane-findings"),
        Binding("tab", "next_pane", "Next pane", show=False, priority=True, id="next-pane"),
        Binding(
            "shift+tab", "previous_pane", "Prev pane", show=False, priority=True, id="previous-pane"
        ),
    ]

    def __init__(
        self,
        target: Target,
        *,
        password: str | None = None,
        snapshot_source: Callable[[], Awaitable[Snapshot]] | None = None,
        recorder: Recorder | None = None,
        replay: Recording | None = None,
        head_start: tuple[PostgresCollector, Awaitable[Snapshot]] | None = None,
        filter_text: str = "",
        on_fatal: Callable[[str], None] | None = None,
        member: Feed | None = None,
    ) -> None:
        """See PgTopApp for the arguments; `filter_text` is a filter kept across a
        profile switch, `on_fatal(reason)` ends pgtop when the first connection fails.
        `member`: a fleet member's feed (monitor/fleet.py), which the fleet starts and
        closes; the screen then has esc, ] and [ to leave it, and no profile switch."""
        super().__init__()
        self.in_fleet = member is not None
        self.target = target
        self.password = password
        self.recorder = recorder
        self._on_fatal = on_fatal
        self.header_state = HeaderState.for_target(target, filter_text=filter_text)
        self.frames: Signal[Frame] = Signal(self, "frame")  # the server's, as they come
        self.feed: Feed = member or self._make_feed(snapshot_source, replay, head_start)
        self.state: MonitorState = self.feed.state  # written by the feed alone
        self.header_state.connections = self.state.connections  # the header draws trends
        self.header_state.tps = self.state.tps
        self.sessions = SessionsPane(
            self.header_state,
            self._refresh_header,
            self.open_inspect,
            lambda: self.host.toggle_columns(),
            has_server=self.feed.has_server,
            read_only=target.read_only,
            id="sessions-pane",
        )
        self.host = HostSampler(self, self.feed, self.header_state, self.sessions.table)
        self.acting = Acting(self, target, self.feed, password, self.state.snapshot)
        if self.in_fleet:
            add_bindings(self, FLEET_KEYS)
        elif self.feed.has_server:  # a recording has no connection to leave
            switch = Binding("o", "app.switch_profile", "Profiles", show=False, id="profiles")
            add_bindings(self, [switch])
        self.panes_ready = False  # the non-session panes mount when first shown
        self._panes_mounting = False
        self._panes_mounted = asyncio.Event()
        self._shut = False
        self._close_lock = asyncio.Lock()

    def _make_feed(
        self,
        source: Callable[[], Awaitable[Snapshot]] | None,
        replay: Recording | None,
        head_start: tuple[PostgresCollector, Awaitable[Snapshot]] | None,
    ) -> Feed:
        def post(update: Update) -> None:
            self.post_message(FeedUpdated(update))

        if replay is not None:
            from pgtop.monitor.replay import ReplayFeed  # only when replaying

            address = self.target.postgres.describe()
            feed = ReplayFeed(replay, address, self.target.refresh, post, self._feed_notice)
            # The status carries the frame's time and line 1 says read-only: name the file.
            self.header_state.notes[:] = [f"replay of {replay.path.name}"]
            self.header_state.replaying = True
            return feed
        feed = LiveFeed(
            self.target, post, password=self.password, source=source, head_start=head_start
        )
        feed.state.hold_findings()  # the first screen sooner: see _after_first_frame
        return feed

    def _feed_notice(self, text: str, severity: str, timeout: float | None) -> None:
        self.notify(text, severity=severity, timeout=timeout)  # type: ignore[arg-type]

    # -- keys ---------------------------------------------------------------------------

    @property
    def active_bindings(self) -> dict[str, ActiveBinding]:
        """pgtop's keys in their usual order (key_order.py). While another screen is on
        top (a dialog, inspect), this screen's keys do not work: the footer it leaves
        visible lists the app's alone."""
        bindings = self.listed_bindings()
        if self.app.screen is not self:
            bindings = {k: b for k, b in bindings.items() if b.node is self.app}
        return bindings

    def listed_bindings(self) -> dict[str, ActiveBinding]:
        """This screen's keys as they work when it is on top (for help and palette, which
        list them from a screen of their own)."""
        return in_key_order(super().active_bindings)

    def current_pane(self) -> str:
        """The pane that has the focus (a side pane on a wide screen counts as its own)."""
        if self.focused is not None:
            for node in self.focused.ancestors_with_self:
                if node.id in PANE_IDS:
                    return node.id.removeprefix("side-")
        try:
            return self.query_one(ContentSwitcher).current or "sessions"
        except NoMatches:  # not composed yet
            return "sessions"

    def feed_control(self, control: str, *args: object) -> None:
        """A key for the feed itself (pause, interval, playback), which offers it."""
        getattr(self.feed, control)(*args)
        self._publish()

    def replay_jump(self) -> None:
        from pgtop.ui.screens.jump import JumpScreen

        def chosen(text: str | None) -> None:
            if not text or not text.strip():
                return
            try:
                self.feed_control("jump", text)
            except ValueError as exc:
                self.notify(str(exc), severity="warning")

        self.app.push_screen(JumpScreen(), callback=chosen)

    # -- layout -------------------------------------------------------------------------

    def compose(self) -> ComposeResult:
        yield StatusHeader(self.header_state, self.frames, id="header")
        yield PaneTabs(self.frames, id="tabs")
        with ContentSwitcher(initial="sessions", id="panes"), Vertical(id="sessions"):
            yield self.sessions
            yield Horizontal(id="wide-extras")
        yield KeysAfterPaintFooter()

    def on_mount(self) -> None:
        self.sessions.table.focus()
        self._apply_layout_class(self.app.size)
        pane = self.sessions
        self.frames.subscribe(
            self, lambda f: pane.take_frame(f, on_screen=self._pane_on_screen("sessions"))
        )
        # The other panes mount when first shown (a key, a tab, or a wide terminal, which
        # shows two of them below the sessions): until then they would cost ~2 MB and
        # ~50 ms at 1,000 sessions, for panes many runs never open.
        self.set_timer(2.0, gc_pause.resume)  # normally done after the first data is drawn
        self._after_paint(self.query_one(KeysAfterPaintFooter).show_keys)
        if not self.in_fleet:  # a member's feed runs from the fleet's start, not a screen's
            self.feed.start(
                lambda work, group: self.run_worker(work, group=group, exit_on_error=False)
            )
        elif self.state.snapshot() is not None:
            self.call_after_refresh(self._took_postgres, first_data=True)  # what it has
        else:
            self.call_after_refresh(self._publish)  # a member that is down says why at once

    def on_resize(self, event: events.Resize) -> None:
        self._apply_layout_class(event.size)

    def _apply_layout_class(self, size: Size) -> None:
        wide = size.width >= WIDE_SIZE[0] and size.height >= WIDE_SIZE[1]
        self.set_class(wide, "-wide")
        if wide and not self._panes_mounting:  # the side panes show: after the first paint
            self._after_paint(self._mount_other_panes)

    def _refresh_header(self) -> None:
        with contextlib.suppress(NoMatches):  # not composed yet
            self.query_one(StatusHeader).refresh()

    # -- frames -------------------------------------------------------------------------

    def on_feed_updated(self, message: FeedUpdated) -> None:
        with contextlib.suppress(NoMatches):  # a poll result that lands while closing
            self._took(message.update)

    def _took(self, update: Update) -> None:
        if update.source in ("status", "pooler"):
            self._publish()
        elif update.error is None:
            self._took_postgres(first_data=update.first)
        else:
            self._postgres_failed(update)

    def _publish(self) -> None:
        """The state's latest frame to everything that draws it."""
        if self._shut:
            return
        self.frames.publish(self.state.frame)

    def _took_postgres(self, *, first_data: bool) -> None:
        if self.recorder is not None:
            self._record()
        self.sessions.table.set_stale(False)
        self._publish()
        if first_data:
            self._after_paint(self._after_first_frame)
        else:
            self.host.sample()

    def _after_paint(self, callback: Callable[[], object]) -> None:
        """Run `callback` once what is pending is on the terminal.

        `call_after_refresh` alone is not enough at start-up: the app holds a batch update
        (no painting) until its own start-up is over, and a screen runs its after-refresh
        callbacks at once while that batch is held, so the other panes mounted and the
        collector froze (~0.1 s at 1,000 sessions) before the first frame was painted.
        The app reads its own messages only once that batch is over: going through them
        first puts the callback after the paint; it then runs on this screen, as before."""
        self.app.call_later(self.call_later, self.call_after_refresh, callback)

    def _after_first_frame(self) -> None:
        gc_pause.resume()
        if self._shut:
            return
        # The first frame was drawn without findings (importing their code and indexing
        # every session would delay it): they follow now, a moment later.
        if self.state.release_findings():
            self._publish()
        self.host.sample()  # its locality check (psutil, a thread) would delay the frame

    def _postgres_failed(self, update: Update) -> None:
        error = update.error
        assert error is not None
        if not self.state.had_data and error.kind in FATAL_AT_START and self._on_fatal:
            self._on_fatal(error.message)
            return
        self.sessions.table.set_stale(True)
        self._publish()

    def _record(self) -> None:
        """Each PostgreSQL snapshot while `--record` is on (the pooler's merged in)."""
        recorder = self.recorder
        snap = self.state.snapshot()
        if recorder is None or snap is None:
            return
        note = f"rec {recorder.path.name}"
        error = recorder.record(snap)
        notes = self.header_state.notes
        if error is not None:
            self.notify(error, severity="error", timeout=10)
        if recorder.recording and note not in notes:
            notes.append(note)
        elif not recorder.recording and note in notes:
            notes.remove(note)

    # -- panes --------------------------------------------------------------------------

    def _pane_on_screen(self, pane_id: str) -> bool:
        """A side pane shows below the sessions on a wide screen; the others when chosen."""
        current = self.query_one(ContentSwitcher).current
        if pane_id.startswith("side-"):
            return current == "sessions" and self.has_class("-wide")
        return current == pane_id

    def _follow_frames(self, pane: DatabasesPane | LimitsPane | PoolerPane) -> None:
        """The pane draws each published frame while it is on screen; a hidden one
        draws nothing (it catches up when shown: show_pane publishes again)."""

        def take(frame: Frame) -> None:
            if frame.snapshot is not None and pane.id and self._pane_on_screen(pane.id):
                pane.update_snapshot(frame.snapshot, frame.rates)

        # Held by the screen, which runs already: a pane in a hidden container may not yet.
        self.frames.subscribe(self, take, immediate=True)

    async def _mount_other_panes(self) -> None:
        if self._panes_mounting:  # asked by keys and a wide terminal: once is enough
            return
        self._panes_mounting = True
        with contextlib.suppress(NoMatches, SignalError):  # the app may be closing already
            await self._mount_panes()

    async def _mount_panes(self) -> None:
        from pgtop.ui.widgets.databases_pane import DatabasesPane
        from pgtop.ui.widgets.findings_pane import FindingsPane
        from pgtop.ui.widgets.limits_pane import LimitsPane
        from pgtop.ui.widgets.pooler_pane import PoolerPane

        acts = {"has_server": self.feed.has_server, "read_only": self.target.read_only}
        switcher = self.query_one(ContentSwitcher)
        panes = (
            DatabasesPane(id="databases", **acts),
            LimitsPane(id="limits"),
            PoolerPane(id="pooler", **acts),
        )
        findings = FindingsPane(id="findings")
        for pane in (*panes, findings):
            await switcher.add_content(pane)
        side = (DatabasesPane(id="side-databases", **acts), PoolerPane(id="side-pooler", **acts))
        await self.query_one("#wide-extras").mount(*side)
        for pane in (*panes, *side):
            self._follow_frames(pane)
        self.frames.subscribe(
            self,
            lambda f: findings.take_frame(f) if self._pane_on_screen("findings") else None,
            immediate=True,
        )
        self.panes_ready = True
        self._panes_mounted.set()
        self._publish()

    async def action_show_pane(self, pane: str) -> None:
        if pane != "sessions" and not self.panes_ready:
            await self._mount_other_panes()  # a key pressed before they were mounted
            await self._panes_mounted.wait()
        self.show_pane(pane)

    def show_pane(self, pane: str) -> None:
        self.query_one(ContentSwitcher).current = pane
        self.query_one(PaneTabs).select(pane)
        if pane == "sessions":
            # Now, not via focus(), which is deferred: keys queued behind the one that came
            # here, such as "cron" behind "/", must reach the table.
            self.set_focus(self.sessions.table)
        else:
            self.query_one(f"#{pane}").focus()  # a pane may hand focus to its own table
        self._publish()  # the pane shown draws the latest frame

    async def on_pane_tabs_chosen(self, message: PaneTabs.Chosen) -> None:
        await self.action_show_pane(message.pane)

    async def _step_pane(self, step: int) -> None:
        names = [name for name, _ in PANES]
        current = self.query_one(ContentSwitcher).current or names[0]
        await self.action_show_pane(names[(names.index(current) + step) % len(names)])

    async def action_next_pane(self) -> None:
        await self._step_pane(1)

    async def action_previous_pane(self) -> None:
        await self._step_pane(-1)

    def on_findings_pane_jump(self, message: FindingsPane.Jump) -> None:
        """Enter on a finding: its sessions, filtered, or its pool (finding_jump.py)."""
        from pgtop.ui.widgets.finding_jump import jump
        from pgtop.ui.widgets.pooler_pane import PoolerPane

        pooler = self.query("#pooler").first(PoolerPane) if self.panes_ready else None
        jump(message.finding, self.sessions, self.show_pane, pooler)

    def action_open_filter(self) -> None:
        """From any pane: the filter applies to the sessions, so they come back."""
        if self.query_one(ContentSwitcher).current != "sessions":
            self.show_pane("sessions")
        self.sessions.open_filter()

    def on_pooler_pane_show_backend(self, message: PoolerPane.ShowBackend) -> None:
        """From the pool detail screen: select the backend a client holds, and inspect it."""
        self.show_pane("sessions")
        self.sessions.show_backend(message.pid)

    # -- inspect and act ----------------------------------------------------------------

    def open_inspect(self, pid: int, session: Session | None = None) -> None:
        """Push an inspect screen for `pid` (also over another one: esc goes back to it);
        `session` pins the backend chosen, else the one holding `pid` now."""
        from pgtop.ui.screens.inspect import InspectScreen  # first use loads it: start-up

        snap = self.state.snapshot()
        if snap is None:
            return
        under = self.feed.watch_locks_of(pid, now=True)  # the screen below gets them back
        screen = InspectScreen(
            pid, snap, self.frames, self.feed, self, read_only=self.target.read_only,
            session=session,
        )  # fmt: skip
        self.app.push_screen(screen, callback=lambda _: self.feed.watch_locks_of(under))

    def on_inspect_screen_open_session(self, message: InspectScreen.OpenSession) -> None:
        """A blocker or waiter chosen on the inspect screen: inspect it in turn."""
        self.open_inspect(message.pid)

    def on_signal_sessions(self, message: SignalSessions) -> None:
        message.stop()
        self.acting.signal_sessions(message)

    def on_pooler_command(self, message: PoolerCommand) -> None:
        message.stop()
        self.acting.pooler_command(message)

    # -- shutdown -----------------------------------------------------------------------

    async def close(self) -> None:
        """Stop the feed (its workers and connections) and the action connection."""
        self._shut = True
        async with self._close_lock:  # unmount and app shutdown may both ask: both wait
            await self.acting.close()
            if not self.in_fleet:  # the fleet closes its members
                await self.feed.close()

    async def on_unmount(self) -> None:
        await self.close()
