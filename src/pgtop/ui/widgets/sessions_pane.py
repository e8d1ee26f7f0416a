"""The sessions pane: the sessions table and every key that acts on what it lists.

It owns the view (SessionView: sort and toggles), the filter (SessionFilter and the
FilterPrompt being typed), the lock-tree toggle and the marks (kept in its table's
`marked`, reconciled here against each frame); it is their one writer. It draws from
the last frame the server screen published (`take_frame`), so a view change redraws
from that frame. Of the header's HeaderState it writes the view's fields (view_parts,
filter_text, prompt, prompt_error). Cancel and terminate go to the server screen as a
SignalSessions message (ui/acting.py runs them); inspecting calls back into the screen.
"""

from __future__ import annotations

from collections.abc import Callable

from textual import events
from textual.actions import SkipAction
from textual.binding import Binding
from textual.containers import Vertical

from pgtop.model.filter import FilterError, SessionFilter, parse_filter
from pgtop.model.identity import split_marks
from pgtop.model.locks import blocking_tree, root_of, waiters_behind
from pgtop.model.records import Session, Snapshot
from pgtop.model.view import (
    SORT_KEYS,
    SessionView,
    ViewMemo,
    sort_descends,
    sort_name,
    visible_sessions,
)
from pgtop.monitor.frame import Frame
from pgtop.ui.acting import SignalSessions, act_bindings, read_only_rule, say_read_only
from pgtop.ui.filter_prompt import FilterPrompt
from pgtop.ui.widgets.header_lines import HeaderState, view_parts
from pgtop.ui.widgets.lock_leads import blocker_leads, lock_tree_rows
from pgtop.ui.widgets.sessions_table import SessionsTable

ACT_KEYS = [
    Binding("c", "cancel", "Cancel", id="cancel"),
    Binding("k", "terminate", "Terminate", id="terminate"),
]


def ended_marks_text(ended: list[Session]) -> str:
    pids = ", ".join(str(s.pid) for s in sorted(ended, key=lambda s: s.pid))
    if len(ended) == 1:
        return f"1 marked session ended: pid {pids}"
    return f"{len(ended)} marked sessions ended: pids {pids}"


class SessionsPane(Vertical):
    """Holds the SessionsTable; its keys work while the table has the focus."""

    BINDINGS = [
        Binding("enter", "inspect", "Inspect", id="inspect"),
        Binding("escape", "clear_filter", "Clear filter/marks", show=False, id="clear"),
        Binding("space", "toggle_mark", "Mark", show=False, id="mark"),
        Binding("asterisk", "mark_shown", "Mark all shown", show=False, id="mark-shown"),
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
    ]

    def __init__(
        self,
        header_state: HeaderState,
        refresh_header: Callable[[], None],
        open_inspect: Callable[[int, Session | None], None],
        toggle_host: Callable[[], None],
        *,
        has_server: bool,
        read_only: bool,
        id: str | None = None,
    ) -> None:
        """`open_inspect(pid, session)` and `toggle_host()` are the server screen's."""
        super().__init__(id=id)
        self.header_state = header_state
        self._refresh_header = refresh_header
        self._open_inspect = open_inspect
        self._toggle_host = toggle_host
        self.read_only = read_only
        self.view = SessionView()
        self.session_filter: SessionFilter | None = None
        self.filter_text = header_state.filter_text
        if self.filter_text:  # kept across a profile switch
            self.session_filter = parse_filter(self.filter_text)
        self.filter_prompt = FilterPrompt()
        self.blocking_tree = False
        self.frame: Frame | None = None  # the last one published
        self._drawn_from: tuple[object, ...] | None = None
        self._view_memo = ViewMemo()  # sort keys and filter verdicts of unchanged sessions
        self.table = SessionsTable(
            id="sessions-table", key_handler=self.filter_key, paste_handler=self.filter_paste
        )
        act_bindings(self, ACT_KEYS, has_server=has_server)

    def compose(self):  # type: ignore[no-untyped-def]
        yield self.table

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        return read_only_rule(action, self.read_only)

    # -- drawing ------------------------------------------------------------------------

    @property
    def snapshot(self) -> Snapshot | None:
        return self.frame.snapshot if self.frame is not None else None

    def take_frame(self, frame: Frame, *, on_screen: bool) -> None:
        """Each published frame. The table follows PostgreSQL's polls: a pooler tick
        alone brings new links, taken at the next poll, one refresh at most (re-sorting
        and redrawing on both ticks was a tenth of pgtop --pooler's CPU); after a pooler
        failure it redraws now (old links would read as current)."""
        self.frame = frame
        snap = frame.snapshot
        if snap is None or not on_screen:
            self._drawn_from = None  # drawn in full when shown again
            return
        key = (snap.server.snapshot_time, snap.pooler_error is None)
        if key != self._drawn_from:
            self.redraw()

    def redraw(self) -> None:
        """The table and the header's view line, from the last frame."""
        snap = self.snapshot
        if snap is None:
            return
        self._drawn_from = (snap.server.snapshot_time, snap.pooler_error is None)
        table = self.table
        now = snap.server.snapshot_time
        flt = self.session_filter
        matches = (lambda s: flt.matches(s, now)) if flt is not None else None
        same_filter = flt if flt is not None and not flt.uses_time else None
        rows = visible_sessions(snap.sessions, self.view, matches, self._view_memo, same_filter)
        behind = waiters_behind(snap.sessions)
        if self.blocking_tree:
            rows, table.leads = lock_tree_rows(snap.sessions, rows, behind)
            table.empty_message = "no session waits on a lock"
        else:
            table.leads = blocker_leads(behind)
            table.empty_message = "no sessions match the filter" if flt else "no sessions"
        table.sort_column = None if self.blocking_tree else self.view.sort
        self._reconcile_marks(snap)  # before the header counts them
        self.header_state.view_parts = view_parts(
            self.view, len(rows), len(snap.sessions),
            tree=self.blocking_tree, marked=len(self.table.marked),
        )  # fmt: skip
        table.sort_descending = sort_descends(self.view)
        table.set_rows(rows, now)
        self._refresh_header()

    def on_sessions_table_header_clicked(self, message: SessionsTable.HeaderClicked) -> None:
        self.view = self.view.with_sort(message.column)
        self.redraw()

    # -- sort ---------------------------------------------------------------------------

    def _sort_step(self, step: int) -> None:
        """The next column on screen, left to right, then the default order again."""
        shown = self.table.shown_columns()
        order: list[str | None] = [None, *(c for c in shown if c in SORT_KEYS)]
        i = order.index(self.view.sort) if self.view.sort in order else 0
        self._sort_by(order[(i + step) % len(order)], toggle=False)

    def _sort_by(self, column: str | None, *, toggle: bool = True) -> None:
        """Sort by `column` (None: default); with `toggle` the same column again reverses."""
        if toggle:
            self.view = self.view.with_sort(column)
        else:
            self.view = self.view._replace(sort=column, reverse=False)
        self.notify(f"sorted by {sort_name(self.view.sort)}", timeout=1.5)
        self.redraw()

    def action_sort_next(self) -> None:
        self._sort_step(1)

    def action_sort_previous(self) -> None:
        self._sort_step(-1)

    def action_sort_by(self, column: str) -> None:
        """A key per common order (x, e, d; 0 for the default, given as "")."""
        self._sort_by(column or None, toggle=bool(column))

    def action_sort_reverse(self) -> None:
        self.view = self.view._replace(reverse=not self.view.reverse)
        self.redraw()

    def action_toggle_idle(self) -> None:
        self.view = self.view._replace(hide_idle=not self.view.hide_idle)
        self.notify(
            "idle sessions hidden" if self.view.hide_idle else "idle sessions shown", timeout=1.5
        )
        self.redraw()

    def action_toggle_waiting(self) -> None:
        flag = not self.view.only_waiting_or_blocking
        self.view = self.view._replace(only_waiting_or_blocking=flag)
        self.notify("only sessions that wait or block" if flag else "all sessions", timeout=1.5)
        self.redraw()

    def action_toggle_system(self) -> None:
        self.view = self.view._replace(show_system=not self.view.show_system)
        self.notify(
            "background processes shown"
            if self.view.show_system
            else "background processes hidden",
            timeout=1.5,
        )
        self.redraw()

    def action_toggle_tree(self) -> None:
        self.blocking_tree = not self.blocking_tree
        self.notify(
            "blocking tree: blockers with their waiters"
            if self.blocking_tree
            else "blocking tree off",
            timeout=1.5,
        )
        self.redraw()
        if self.blocking_tree:  # on the root that holds up the most sessions: k, y kills it
            self.table.action_first()

    def action_toggle_host(self) -> None:
        self._toggle_host()

    # -- filter -------------------------------------------------------------------------

    def open_filter(self) -> None:
        """`/` (the server screen's key, from any pane): the prompt opens on this pane."""
        self.filter_prompt.start(self.filter_text)
        self._show_prompt()

    def filter_key(self, event: events.Key) -> bool:
        """Called by the sessions table for each key: True when the prompt took it."""
        outcome = self.filter_prompt.key(event.key, event.character, event.is_printable)
        return self._after_prompt(outcome)

    def filter_paste(self, text: str) -> bool:
        return self._after_prompt(self.filter_prompt.paste(text))

    def _after_prompt(self, outcome: str | None) -> bool:
        if outcome is None:
            return False
        if outcome in ("changed", "cleared"):
            self._apply_filter(self.filter_prompt.text)
        self._show_prompt()
        return True

    def _apply_filter(self, text: str) -> None:
        try:
            self.session_filter = parse_filter(text) if text.strip() else None
        except FilterError as exc:
            self.filter_prompt.error = str(exc)  # keep the last good filter meanwhile
            return
        self.filter_prompt.error = ""
        self.filter_text = text.strip()
        self.header_state.filter_text = self.filter_text
        self.redraw()

    def _show_prompt(self) -> None:
        prompt = self.filter_prompt
        self.header_state.prompt = prompt.text if prompt.open else None
        self.header_state.prompt_error = prompt.error
        self._refresh_header()

    def action_clear_filter(self) -> None:
        """Nothing to clear: esc goes on to the screen (a fleet member's goes back)."""
        if not (self.filter_text or self.table.marked):
            raise SkipAction
        if self.filter_text or self.table.marked:
            self.session_filter = None
            self.filter_text = ""
            self.header_state.filter_text = ""
            self.table.marked.clear()
            self.redraw()

    # -- marks, inspect -----------------------------------------------------------------

    def action_toggle_mark(self) -> None:
        session = self.table.cursor_session
        if session is None:
            return
        self.table.toggle_mark(session)
        self.table.action_cursor_down()
        self.redraw()  # the header's "N marked" too, also while paused

    def action_mark_shown(self) -> None:
        """Mark every session shown (then k or c asks once for them all); when all are
        marked already, unmark them."""
        table = self.table
        if all(table.is_marked(s) for s in table.rows):
            table.unmark(table.rows)
        else:
            table.marked.update((s.pid, s) for s in table.rows if not table.is_marked(s))
        self.redraw()

    def show_sessions(self, filter_text: str, pids: tuple[int, ...], *, tree: bool) -> list[int]:
        """Show `pids` (a finding's, with the filter that selects them; "" clears it): a
        view toggle that would hide one is turned off, the cursor goes to the first.
        Returns those not listed (ended since)."""
        self.blocking_tree = tree
        self._apply_filter(filter_text)  # redraws
        listed = {s.pid for s in self.snapshot.sessions} if self.snapshot else set()
        shown = {s.pid for s in self.table.rows}
        if any(p not in shown for p in pids if p in listed):
            self.view = self.view._replace(hide_idle=False, only_waiting_or_blocking=False)
            self.redraw()
        for pid in pids:
            if self.table.move_cursor_to_pid(pid):
                break
        return [p for p in pids if p not in listed]

    def _reconcile_marks(self, snap: Snapshot) -> None:
        """Drop the marks whose session ended (or whose pid a new backend got), and say so.
        A marked session hidden by the filter stays marked."""
        table = self.table
        if not table.marked:
            return
        table.marked, ended = split_marks(table.marked, snap.sessions)
        if ended:
            self.notify(ended_marks_text(ended), severity="warning", timeout=8)

    def unmark(self, sessions: list[Session]) -> None:
        """The marks did their job, whatever the outcome (cancel as terminate); redrawn
        now, as the next poll may be far off (paused)."""
        self.table.unmark(sessions)
        self.redraw()

    def action_inspect(self) -> None:
        session = self.table.cursor_session
        if session is not None:
            self._open_inspect(session.pid, session)

    def show_backend(self, pid: int) -> None:
        """Select `pid` and inspect it (chosen on the pool detail screen)."""
        if self.table.move_cursor_to_pid(pid):
            self.action_inspect()
        else:
            self.notify(f"pid {pid} is hidden by the filter or view", timeout=3)

    # -- cancel / terminate ---------------------------------------------------------------

    def _targets(self) -> list[Session]:
        """Marked sessions that still run, else the one under the cursor.

        Both are the records on screen: each carries its (pid, backend_start) to the
        guarded signal, so a pid that went to a new backend is never looked up afresh.
        """
        snap = self.snapshot
        if snap is None:
            return []
        self._reconcile_marks(snap)
        if self.table.marked:
            return sorted(self.table.marked.values(), key=lambda s: s.pid)
        s = self.table.cursor_session
        return [s] if s is not None else []

    def action_cancel(self) -> None:
        self._ask("cancel")

    def action_terminate(self) -> None:
        self._ask("terminate")

    def _ask(self, kind: str) -> None:
        targets = self._targets()
        marked = bool(self.table.marked)
        self.post_message(SignalSessions(kind, targets, marked=marked, done=self.unmark))  # type: ignore[arg-type]

    def action_read_only_notice(self) -> None:
        say_read_only(self)

    # -- lock chains ----------------------------------------------------------------------

    def action_jump_to_root_blocker(self) -> None:
        """Move the cursor to the root blocker of the session under it."""
        table = self.table
        snap = self.snapshot
        s = table.cursor_session
        if s is None or snap is None:
            return
        root = root_of(blocking_tree(snap.sessions), s.pid)
        if root is None:
            self.notify(f"pid {s.pid} neither waits on a lock nor blocks a session", timeout=3)
            return
        pid = root.session.pid
        blocks = waiters_behind(snap.sessions).get(pid, 0)
        if root.blocker_unknown:
            self.notify(
                f"the chain ends at pid {pid}, which waits on a session pgtop does not list"
                " (a prepared transaction, or one that just ended)",
                timeout=4,
            )
        if not table.move_cursor_to_pid(pid):
            self.notify(
                f"root blocker pid {pid} (blocks {blocks}) is hidden by "
                + self._hidden_by(root.session),
                severity="warning",
                timeout=4,
            )
        elif not root.blocker_unknown:
            self.notify(f"root blocker: pid {pid}, blocks {blocks}", timeout=2)

    def _hidden_by(self, s: Session) -> str:
        """Which of the view's settings hides `s`, and the key that shows it."""
        snap = self.snapshot
        flt = self.session_filter
        if flt is not None and snap is not None and not flt.matches(s, snap.server.snapshot_time):
            return "the filter (esc clears it)"
        if self.view.hide_idle:
            return "the idle toggle (i shows idle sessions)"
        if not self.view.show_system and not s.is_client:
            return "the view (a shows background processes)"
        return "the view"
