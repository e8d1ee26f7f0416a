"""The pgtop Textual app: one server's screen, fed by that server's feed.

Who owns what: the server's data is its MonitorState (pgtop/monitor/), written only by
its feed; each change is a frozen Frame that the app publishes once on `frames` (the
header subscribes). The view, filter, lock-tree toggle and the header's HeaderState
are the app's own, written by its key handlers; marks live in the sessions table.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

from textual import events
from textual.app import App, ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.css.query import NoMatches
from textual.geometry import Size
from textual.notifications import SeverityLevel
from textual.screen import Screen
from textual.signal import Signal, SignalError
from textual.widgets import ContentSwitcher, Footer

from pgtop import gc_pause
from pgtop.model.filter import SessionFilter
from pgtop.model.locks import waiters_behind
from pgtop.model.records import Snapshot
from pgtop.model.view import (
    SessionView,
    sort_descends,
    sort_label,
    visible_sessions,
)
from pgtop.monitor.feed import Feed
from pgtop.monitor.frame import Frame
from pgtop.monitor.state import MonitorState
from pgtop.target import Target
from pgtop.ui.filter_prompt import FilterPrompt
from pgtop.ui.host_figures import HostFigures
from pgtop.ui.keys_and_commands import KeysAndCommands
from pgtop.ui.live_data import LiveData
from pgtop.ui.lock_actions import LockActions
from pgtop.ui.profile_actions import ProfileActions
from pgtop.ui.replay_controls import REPLAY_BINDINGS, ReplayControls
from pgtop.ui.session_actions import SessionActions
from pgtop.ui.widgets.header import HeaderState, StatusHeader
from pgtop.ui.widgets.lock_leads import blocker_leads, lock_tree_rows
from pgtop.ui.widgets.pane_tabs import PANES, PaneTabs
from pgtop.ui.widgets.sessions_table import SessionsTable

if TYPE_CHECKING:
    from pgtop.collect.postgres import PostgresCollector
    from pgtop.collect.record import Recorder
    from pgtop.collect.replay import Recording
    from pgtop.ui.widgets.databases_pane import DatabasesPane
    from pgtop.ui.widgets.limits_pane import LimitsPane
    from pgtop.ui.widgets.pooler_pane import PoolerPane

WIDE_WIDTH, WIDE_HEIGHT = 160, 40


# Both sets are bound; check_action keeps exactly one alive, so a read-only target has
# no path to a signal, and its keys say "read-only" instead of doing nothing.
ACTING = {"cancel", "terminate", "terminate_database", "cancel_inspected", "terminate_inspected"}
# Keys that need a live server to act on or leave (a recording has none).
NEEDS_SERVER = ACTING | {"read_only_notice", "switch_profile"}
MAIN_SCREEN_ONLY = {
    "show_pane",
    "next_pane",
    "previous_pane",
    "open_filter",
    "inspect",
    "clear_filter",
    "toggle_mark",
    "sort_next",
    "sort_previous",
    "sort_reverse",
    "sort_by",
    "toggle_idle",
    "toggle_waiting",
    "toggle_tree",
    "jump_to_root_blocker",
    "toggle_system",
    "toggle_host",
    "cancel",
    "terminate",
    "terminate_database",
    "switch_profile",
}
# An action of SessionActions acts on the sessions table, so it works in that pane only:
# elsewhere it would act on rows nobody sees, and `?` would list it there. Keys added to
# SessionActions later follow by themselves; these are the exceptions.
# "/" brings the sessions pane back; the inspected ones are keys of the inspect screen.
ANY_PANE = {"open_filter", "cancel_inspected", "terminate_inspected"}
SESSIONS_PANE_TOO = {"toggle_host"}  # a column of the sessions table
PANE_IDS = {"sessions", "databases", "limits", "pooler", "side-databases", "side-pooler"}


class PgTopApp(
    LiveData,
    HostFigures,
    KeysAndCommands,
    LockActions,
    ReplayControls,
    SessionActions,
    ProfileActions,
    App[None],
):
    TITLE = "pgtop"
    CSS_PATH = "pgtop.tcss"
    ENABLE_COMMAND_PALETTE = True

    BINDINGS = [
        Binding("q", "quit", "Quit", id="quit"),
        Binding("question_mark,f1", "help", "Help", id="help"),
        # Priority: the app runs it before it passes the next key on, so "/cron" arriving
        # in one read (a paste, a laggy SSH link) types "cron" instead of acting on c, r...
        Binding("slash", "open_filter", "Filter", id="filter", priority=True),
        Binding("enter", "inspect", "Inspect", id="inspect"),
        Binding("escape", "clear_filter", "Clear filter/marks", show=False, id="clear"),
        Binding("space", "toggle_mark", "Mark", show=False, id="mark"),
        Binding("s,greater_than_sign", "sort_next", "Sort", id="sort"),
        Binding("less_than_sign", "sort_previous", "Sort back", show=False, id="sort-back"),
        Binding("r", "sort_reverse", "Reverse", show=False, id="reverse"),
        Binding("x", "sort_by('xact_age')", "Sort by xact age", show=False, id="sort-xact"),
        Binding("e", "sort_by('age')", "Sort by age in state", show=False, id="sort-age"),
        Binding("d", "sort_by('database')", "Sort by database", show=False, id="sort-db"),
        Binding("0", "sort_by('')", "Default order", show=False, id="sort-default"),
        Binding("i", "toggle_idle", "Hide idle", show=False, id="idle"),
        Binding("w", "toggle_waiting", "Waiting/blocking", show=False, id="waiting"),
        Binding("b", "toggle_tree", "Lock tree", id="tree"),
        Binding("B", "jump_to_root_blocker", "Root blocker", show=False, id="root-blocker"),
        Binding("a", "toggle_system", "Background procs", show=False, id="system"),
        Binding("h", "toggle_host", "Host CPU/mem/IO", show=False, id="host"),
        Binding("1", "show_pane('sessions')", "Sessions", show=False, id="pane-sessions"),
        Binding("2", "show_pane('databases')", "Databases", show=False, id="pane-databases"),
        Binding("3", "show_pane('limits')", "Limits", show=False, id="pane-limits"),
        Binding("4", "show_pane('pooler')", "Pooler", show=False, id="pane-pooler"),
        Binding("tab", "next_pane", "Next pane", show=False, priority=True, id="next-pane"),
        Binding("shift+tab", "previous_pane", "Prev pane", show=False, priority=True),
        Binding("p", "feed('toggle_pause')", "Pause", id="pause"),
        Binding("plus,equals_sign", "feed('slower')", "Poll less often", show=False, id="slower"),
        Binding("minus", "feed('faster')", "Poll more often", show=False, id="faster"),
        Binding("ctrl+r", "feed('refresh_now')", "Refresh now", show=False, id="refresh-now"),
        Binding("o", "switch_profile", "Profiles", show=False, id="profiles"),
        Binding("c", "cancel", "Cancel", id="cancel"),
        Binding("k", "terminate", "Terminate", id="terminate"),
        Binding("K", "terminate_database", "Kill all in db", show=False, id="terminate-db"),
        Binding("c,k,K", "read_only_notice", "read-only", show=False, id="read-only"),
        *REPLAY_BINDINGS,
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
    ) -> None:
        """`snapshot_source` replaces polling PostgreSQL (and its pooler): tests.
        `recorder` writes every snapshot (--record); `replay` plays a recording instead
        of polling (--replay; give it a read-only target). `head_start` is a collector
        and its first poll, begun while the UI was still importing (cli.py)."""
        super().__init__()
        self.target = target
        self.snapshot_source = snapshot_source
        self.recorder = recorder
        self.replay = replay
        self.password = password
        self.exit_message: str | None = None
        self.header_state = HeaderState.for_target(target)
        self.frames: Signal[Frame] = Signal(self, "frame")  # the server's, as they come
        self.view = SessionView()
        self.session_filter: SessionFilter | None = None
        self.filter_prompt = FilterPrompt()
        self.listing_keys_of: Screen[object] | None = None  # see keys_screen
        self.blocking_tree = False
        self.head_start = head_start
        self.panes_ready = False  # the non-session panes mount after the first data
        self._panes_mounting = False
        self._panes_mounted = asyncio.Event()
        self.feed: Feed  # writes `state`, this server's data (its one writer)
        self.state: MonitorState
        self._make_feed()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action in MAIN_SCREEN_ONLY and self.keys_screen is not self.default_screen:
            return False  # e.g. on the inspect screen, "/" or "s" would act unseen
        if not self._pane_allows(action):
            return False
        if action in NEEDS_SERVER and not self.feed.has_server:
            return False
        if action == "feed":  # a control of the feed: pause, interval, playback
            return parameters[0] in self.feed.controls
        if action == "replay_jump":
            return "jump" in self.feed.controls
        if action in ACTING:
            return not self.target.read_only
        if action == "read_only_notice":
            return self.target.read_only
        return True

    @property
    def keys_screen(self) -> Screen[object]:
        """The screen whose keys are being resolved: the current one, or while the
        command palette lists commands, the screen it was opened from."""
        return self.listing_keys_of or self.screen

    def current_pane(self) -> str:
        """The pane that has the focus (a side pane on a wide screen counts as its own)."""
        screen = self.default_screen
        if screen.focused is not None:
            for node in screen.focused.ancestors_with_self:
                if node.id in PANE_IDS:
                    return node.id.removeprefix("side-")
        try:
            return screen.query_one(ContentSwitcher).current or "sessions"
        except NoMatches:  # not composed yet
            return "sessions"

    def _pane_allows(self, action: str) -> bool:
        """Keys that act on what a pane shows work while that pane has the focus (and on
        no other screen)."""
        main = self.keys_screen is self.default_screen
        if action == "read_only_notice":  # stands in for c, k and K
            return not main or self.current_pane() in ("sessions", "databases")
        if action == "terminate_database":  # acts on the selected database
            needed = "databases"
        elif action in SESSIONS_PANE_TOO or (
            action not in ANY_PANE and hasattr(SessionActions, f"action_{action}")
        ):
            needed = "sessions"
        else:
            return True
        return main and self.current_pane() == needed

    def action_help_quit(self) -> None:
        """ctrl+c quits, as in top (Textual's default only says which key quits). With
        text selected by mouse, the screen's ctrl+c copies it instead."""
        self.exit()

    def notify(
        self,
        message: str,
        *,
        title: str = "",
        severity: SeverityLevel = "information",
        timeout: float | None = None,
        markup: bool = False,
    ) -> None:
        """Notifications carry typed text, names and server messages: never read markup
        in them (`[/]` typed in a prompt would crash the app). Screens' notify comes here
        with markup=True by default, so the flag is ignored, not just defaulted."""
        super().notify(message, title=title, severity=severity, timeout=timeout, markup=False)

    # -- layout -------------------------------------------------------------------------

    def compose(self) -> ComposeResult:
        yield StatusHeader(self.header_state, self.frames, id="header")
        yield PaneTabs(id="tabs")
        with ContentSwitcher(initial="sessions", id="panes"), Vertical(id="sessions"):
            yield SessionsTable(id="sessions-table", key_handler=self.filter_key)
            yield Horizontal(id="wide-extras")
        yield Footer()

    def on_mount(self) -> None:
        self.query_one(SessionsTable).focus()
        self._apply_layout_class()
        # The other panes start hidden: mount them once the first data is on screen, which
        # then comes sooner (each mount restyles the screen and rebuilds the footer).
        self.set_timer(1.0, self._mount_other_panes)  # no data yet: do not wait longer
        self.set_timer(2.0, gc_pause.resume)  # normally done after the first data is drawn
        self._start_feed()

    def on_resize(self, event: events.Resize) -> None:
        # Runs before App._on_resize updates self.size: use the event's size.
        self._apply_layout_class(event.size)

    def _apply_layout_class(self, size: Size | None = None) -> None:
        size = size or self.size
        wide = size.width >= WIDE_WIDTH and size.height >= WIDE_HEIGHT
        self.screen.set_class(wide, "-wide")

    # -- drawing ------------------------------------------------------------------------

    def _render_all(self, *, sessions: bool = True) -> None:
        """Everything on screen from the current snapshot; `sessions=False` leaves the
        sessions table as it is (it then follows at the next PostgreSQL poll)."""
        snap = self.current_snapshot()
        if snap is None:
            return
        self._publish()  # the header and the panes on screen draw the frame
        self._update_tab_badges(snap)
        if self.screen is not self.default_screen:
            from pgtop.ui.screens.inspect import InspectScreen  # loaded on first use

            if isinstance(self.screen, InspectScreen):
                self.screen.update_snapshot(snap)
        if not self._panes_mounting:
            self.call_after_refresh(self._mount_other_panes)
        if sessions and self.query_one(ContentSwitcher).current == "sessions":
            self._render_sessions(snap)

    def _pane_on_screen(self, pane_id: str) -> bool:
        """A side pane shows below the sessions on a wide screen; the others when chosen."""
        current = self.query_one(ContentSwitcher).current
        if pane_id.startswith("side-"):
            return current == "sessions" and self.screen.has_class("-wide")
        return current == pane_id

    def _follow_frames(self, pane: DatabasesPane | LimitsPane | PoolerPane) -> None:
        """The pane draws each published frame while it is on screen; a hidden one
        draws nothing (it catches up when shown: show_pane publishes again)."""

        def take(frame: Frame) -> None:
            if frame.snapshot is not None and pane.id and self._pane_on_screen(pane.id):
                pane.update_snapshot(frame.snapshot, frame.rates)

        # Held by the app, which runs already: a pane in a hidden container may not yet.
        self.frames.subscribe(self, take, immediate=True)

    async def _mount_other_panes(self) -> None:
        if self._panes_mounting:  # asked by the first data and by a timer: once is enough
            return
        self._panes_mounting = True
        with contextlib.suppress(NoMatches, SignalError):  # the app may be closing already
            await self._mount_panes()

    async def _mount_panes(self) -> None:
        from pgtop.ui.widgets.databases_pane import DatabasesPane
        from pgtop.ui.widgets.limits_pane import LimitsPane
        from pgtop.ui.widgets.pooler_pane import PoolerPane

        switcher = self.query_one(ContentSwitcher)
        panes = (DatabasesPane(id="databases"), LimitsPane(id="limits"), PoolerPane(id="pooler"))
        for pane in panes:
            await switcher.add_content(pane)
        side = (DatabasesPane(id="side-databases"), PoolerPane(id="side-pooler"))
        await self.query_one("#wide-extras").mount(*side)
        for pane in (*panes, *side):
            self._follow_frames(pane)
        self.panes_ready = True
        self._panes_mounted.set()
        self._render_all()

    def _render_sessions(self, snap: Snapshot) -> None:
        table = self.query_one(SessionsTable)
        now = snap.server.snapshot_time
        flt = self.session_filter
        matches = (lambda s: flt.matches(s, now)) if flt is not None else None
        rows = visible_sessions(snap.sessions, self.view, matches)
        behind = waiters_behind(snap.sessions)
        if self.blocking_tree:
            rows, table.leads = lock_tree_rows(snap.sessions, rows, behind)
            table.empty_message = "no session waits on a lock"
        else:
            table.leads = blocker_leads(behind)
            table.empty_message = "no sessions match the filter" if flt else "no sessions"
        table.sort_column = None if self.blocking_tree else self.view.sort
        self._reconcile_marks(snap)  # before the header counts them
        self.header_state.view_parts = self._view_summary(len(rows), len(snap.sessions))
        table.sort_descending = sort_descends(self.view)
        table.set_rows(rows, now)
        self.query_one(StatusHeader).refresh()

    def _view_summary(self, shown: int, total: int) -> list[tuple[str, int]]:
        """What the sessions pane shows, each with how long the header keeps it."""
        v = self.view
        parts = [(f"{shown} of {total} shown", 2)]
        parts.append(("lock tree", 1) if self.blocking_tree else (sort_label(v), 3))
        if v.hide_idle:
            parts.append(("idle hidden", 1))
        if v.only_waiting_or_blocking:
            parts.append(("waiting/blocking only", 1))
        if v.show_system:
            parts.append(("+background", 2))
        marked = len(self.query_one(SessionsTable).marked)
        if marked:
            parts.append((f"{marked} marked", 0))  # about to be acted on: always shown
        return parts

    def _rerender_sessions(self) -> None:
        snap = self.current_snapshot()
        if snap is not None:
            self._render_sessions(snap)

    def _update_tab_badges(self, snap: Snapshot) -> None:
        tabs = self.query_one(PaneTabs)
        waiting = sum(p.cl_waiting for p in snap.pooler.pools) if snap.pooler else 0
        tabs.set_badge("pooler", "!" if snap.pooler_error else f"{waiting}w" if waiting else "")

    # -- actions ------------------------------------------------------------------------

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
            table = self.query_one(SessionsTable)
            table.screen.set_focus(table)
        else:
            self.query_one(f"#{pane}").focus()  # a pane may hand focus to its own table
        self._render_all()

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

    def on_pooler_pane_show_backend(self, message: PoolerPane.ShowBackend) -> None:
        """From the pool detail screen: select the backend a client holds, and inspect it."""
        self.show_pane("sessions")
        if self.query_one(SessionsTable).move_cursor_to_pid(message.pid):
            self.action_inspect()
        else:
            self.notify(f"pid {message.pid} is hidden by the filter or view", timeout=3)

    def on_sessions_table_header_clicked(self, message: SessionsTable.HeaderClicked) -> None:
        self.view = self.view.with_sort(message.column)
        self._rerender_sessions()

    async def on_unmount(self) -> None:
        await self.stop_recording()
        if self._runner is not None:
            await self._runner.close()
        await self.feed.close()
