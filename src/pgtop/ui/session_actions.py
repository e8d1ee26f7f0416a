"""What the keys do to sessions: sort, filter, mark, inspect, cancel and terminate.

A mixin for PgTopApp so app.py stays about layout and polling. Signals go through
collect.actions (guarded by backend_start) after a ConfirmScreen; results are reported
in a notification and appended to the audit log. The view and filter it changes are
the app's; the marks are the sessions table's (SessionsTable.marked), reconciled here
against each snapshot.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import replace
from typing import TYPE_CHECKING

from textual import events
from textual.widgets import ContentSwitcher

from pgtop.model.filter import FilterError, parse_filter
from pgtop.model.format import one_line
from pgtop.model.identity import split_marks
from pgtop.model.locks import waiters_behind
from pgtop.model.records import Session, Snapshot
from pgtop.model.view import SORT_KEYS, sort_name
from pgtop.ui.filter_prompt import FilterPrompt
from pgtop.ui.widgets.header import StatusHeader
from pgtop.ui.widgets.sessions_table import SessionsTable

if TYPE_CHECKING:
    from pgtop.collect.actions import ActionResult, ActionRunner, Kind
    from pgtop.collect.postgres import PostgresCollector
    from pgtop.ui.app import PgTopApp

    _Base = PgTopApp
else:
    _Base = object


def ended_marks_text(ended: list[Session]) -> str:
    pids = ", ".join(str(s.pid) for s in sorted(ended, key=lambda s: s.pid))
    if len(ended) == 1:
        return f"1 marked session ended: pid {pids}"
    return f"{len(ended)} marked sessions ended: pids {pids}"


def summarize_results(results: list[ActionResult]) -> tuple[str, str]:
    """A one-line summary and the notification severity."""
    if len(results) == 1:
        r = results[0]
        return r.line, "information" if r.outcome == "done" else "warning"
    counts = Counter(r.outcome for r in results)
    text = ", ".join(f"{n} {outcome}" for outcome, n in counts.items())
    refused = next((r for r in results if r.outcome == "refused"), None)
    unsent = next((r for r in results if r.outcome in ("unknown", "not sent")), None)
    if refused is not None:
        text += f" — e.g. {refused.detail}"
    elif unsent is not None:
        text += f" — {unsent.detail}"
    kind = results[0].kind if results else "signal"
    return f"{kind}: {text}", "information" if counts["done"] == len(results) else "warning"


class SessionActions(_Base):
    """Mixed into PgTopApp."""

    _runner: ActionRunner | None = None
    filter_text: str = ""
    filter_prompt: FilterPrompt

    # -- sort ---------------------------------------------------------------------------

    def _sort_step(self, step: int) -> None:
        """The next column on screen, left to right, then the default order again."""
        shown = self.query_one(SessionsTable).shown_columns()
        order: list[str | None] = [None, *(c for c in shown if c in SORT_KEYS)]
        i = order.index(self.view.sort) if self.view.sort in order else 0
        self._sort_by(order[(i + step) % len(order)], toggle=False)

    def _sort_by(self, column: str | None, *, toggle: bool = True) -> None:
        """Sort by `column` (None: default); with `toggle` the same column again reverses."""
        if toggle:
            self.view = self.view.with_sort(column)
        else:
            self.view = replace(self.view, sort=column, reverse=False)
        self.notify(f"sorted by {sort_name(self.view.sort)}", timeout=1.5)
        self._rerender_sessions()

    def action_sort_next(self) -> None:
        self._sort_step(1)

    def action_sort_previous(self) -> None:
        self._sort_step(-1)

    def action_sort_by(self, column: str) -> None:
        """A key per common order (x, e, d; 0 for the default, given as "")."""
        self._sort_by(column or None, toggle=bool(column))

    def action_sort_reverse(self) -> None:
        self.view = replace(self.view, reverse=not self.view.reverse)
        self._rerender_sessions()

    def action_toggle_idle(self) -> None:
        self.view = replace(self.view, hide_idle=not self.view.hide_idle)
        self.notify(
            "idle sessions hidden" if self.view.hide_idle else "idle sessions shown", timeout=1.5
        )
        self._rerender_sessions()

    def action_toggle_waiting(self) -> None:
        flag = not self.view.only_waiting_or_blocking
        self.view = replace(self.view, only_waiting_or_blocking=flag)
        self.notify("only sessions that wait or block" if flag else "all sessions", timeout=1.5)
        self._rerender_sessions()

    def action_toggle_system(self) -> None:
        self.view = replace(self.view, show_system=not self.view.show_system)
        self.notify(
            "background processes shown"
            if self.view.show_system
            else "background processes hidden",
            timeout=1.5,
        )
        self._rerender_sessions()

    def action_toggle_tree(self) -> None:
        self.blocking_tree = not self.blocking_tree
        self.notify(
            "blocking tree: blockers with their waiters"
            if self.blocking_tree
            else "blocking tree off",
            timeout=1.5,
        )
        self._rerender_sessions()
        if self.blocking_tree:  # on the root that holds up the most sessions: k, y kills it
            self.query_one(SessionsTable).action_first()

    # -- filter -------------------------------------------------------------------------

    def action_open_filter(self) -> None:
        if self.query_one(ContentSwitcher).current != "sessions":
            self.show_pane("sessions")  # a full redraw: only when it is needed
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
        self._rerender_sessions()

    def _show_prompt(self) -> None:
        prompt = self.filter_prompt
        self.header_state.prompt = prompt.text if prompt.open else None
        self.header_state.prompt_error = prompt.error
        self.query_one(StatusHeader).refresh()

    def action_clear_filter(self) -> None:
        if self.filter_text or self.query_one(SessionsTable).marked:
            self.session_filter = None
            self.filter_text = ""
            self.header_state.filter_text = ""
            self.query_one(SessionsTable).marked.clear()
            self._rerender_sessions()

    # -- marks, inspect -----------------------------------------------------------------

    def action_toggle_mark(self) -> None:
        table = self.query_one(SessionsTable)
        session = table.cursor_session
        if session is None:
            return
        table.toggle_mark(session)
        table.action_cursor_down()
        self._rerender_sessions()  # the header's "N marked" too, also while paused

    def _reconcile_marks(self, snap: Snapshot) -> None:
        """Drop the marks whose session ended (or whose pid a new backend got), and say so.
        A marked session hidden by the filter stays marked."""
        table = self.query_one(SessionsTable)
        if not table.marked:
            return
        table.marked, ended = split_marks(table.marked, snap.sessions)
        if ended:
            self.notify(ended_marks_text(ended), severity="warning", timeout=8)

    def action_inspect(self) -> None:
        session = self.query_one(SessionsTable).cursor_session
        if session is not None:
            self.open_inspect(session.pid, session)

    def open_inspect(self, pid: int, session: Session | None = None) -> None:
        """Push an inspect screen for `pid` (also over another one: esc goes back to it);
        `session` pins the backend chosen, else the one holding `pid` now."""
        from pgtop.ui.screens.inspect import InspectScreen  # first use loads it: start-up

        snap = self.current_snapshot()
        if snap is None:
            return
        under = self.feed.watch_locks_of(pid, now=True)  # the screen below gets them back
        self.push_screen(
            InspectScreen(pid, snap, read_only=self.target.read_only, session=session),
            callback=lambda _: self.feed.watch_locks_of(under),
        )

    # -- cancel / terminate ---------------------------------------------------------------

    @property
    def _postgres(self) -> PostgresCollector:
        """The server's collector: its own backends are never signalled. Acting keys
        exist only for a feed with a server (check_action), which has one."""
        postgres = self.feed.postgres
        assert postgres is not None
        return postgres

    def _targets(self) -> list[Session]:
        """Marked sessions that still run, else the one under the cursor.

        Both are the records on screen: each carries its (pid, backend_start) to the
        guarded signal, so a pid that went to a new backend is never looked up afresh.
        """
        table = self.query_one(SessionsTable)
        snap = self.current_snapshot()
        if snap is None:
            return []
        self._reconcile_marks(snap)
        if table.marked:
            return sorted(table.marked.values(), key=lambda s: s.pid)
        s = table.cursor_session
        return [s] if s is not None else []

    def action_cancel(self) -> None:
        targets = self._targets()
        marked = bool(self.query_one(SessionsTable).marked)
        self._confirm_and_signal("cancel", targets, marked=marked)

    def action_terminate(self) -> None:
        targets = self._targets()
        marked = bool(self.query_one(SessionsTable).marked)
        self._confirm_and_signal("terminate", targets, marked=marked)

    def _inspected(self, kind: Kind) -> list[Session] | None:
        """The inspected session, or None (said why) when it ended: never the newcomer
        that may hold its pid now."""
        from pgtop.ui.screens.inspect import InspectScreen

        screen = self.screen
        if not isinstance(screen, InspectScreen) or screen.session is None:
            return []
        if screen.ended:
            self.notify(f"session ended: pid {screen.pid}, nothing to {kind}", severity="warning")
            return None
        return [screen.session]

    def action_cancel_inspected(self) -> None:
        targets = self._inspected("cancel")
        if targets is not None:
            self._confirm_and_signal("cancel", targets)

    def action_terminate_inspected(self) -> None:
        targets = self._inspected("terminate")
        if targets is not None:
            self._confirm_and_signal("terminate", targets)

    def action_terminate_database(self) -> None:
        from pgtop.ui.widgets.databases_pane import DatabasesPane

        pane = self.screen.focused
        while pane is not None and not isinstance(pane, DatabasesPane):
            pane = pane.parent  # type: ignore[assignment]
        name = pane.selected_database() if isinstance(pane, DatabasesPane) else None
        snap = self.current_snapshot()
        if name is None or snap is None:
            self.notify(
                "select a database in the Databases pane (grouped by database)", severity="warning"
            )
            return
        targets = [s for s in snap.sessions if s.is_client and s.database == name]
        self._confirm_and_signal("terminate", targets, database=name)

    def action_read_only_notice(self) -> None:
        self.notify("read-only: cancel and terminate are disabled", severity="warning")

    def _confirm_and_signal(
        self, kind: Kind, targets: list[Session], database: str | None = None, marked: bool = False
    ) -> None:
        if self.target.read_only:
            self.action_read_only_notice()
            return
        if self._runner is not None and self._runner.busy:
            # Queued behind a signal the server has not answered, it would go out whenever
            # that one ends, long after the user stopped expecting it.
            self.notify(
                f"the last signal still waits for the server's answer "
                f"(at most {self._runner.answer_timeout:g} s): nothing else is sent meanwhile",
                severity="warning",
            )
            return
        own = set(self._postgres.own_pids)
        targets = [s for s in targets if s.pid not in own]
        if not targets:
            self.notify(f"nothing to {kind}", severity="warning")
            return
        snap = self.current_snapshot()
        blocks = waiters_behind(snap.sessions) if snap is not None else {}
        from pgtop.ui.confirm_text import describe_many, describe_one
        from pgtop.ui.screens.confirm import ConfirmScreen

        if database is not None:
            title = (
                f"Terminate all {len(targets)} client sessions of database {one_line(database)}?"
            )
        elif len(targets) == 1:
            title = f"{kind.capitalize()} this {'marked ' if marked else ''}session?"
        else:
            title = f"{kind.capitalize()} {len(targets)} marked sessions?"
        if len(targets) == 1 and database is None:
            body = describe_one(targets[0], blocks.get(targets[0].pid, 0))
        else:
            width, height = self.size
            # The dialog takes at most 90 % of the screen; its frame, title, buttons, the
            # summary and the guard line need 16 lines, the rest lists the targets.
            body = describe_many(
                targets,
                blocks,
                limit=max(3, min(12, int(height * 0.9) - 16)),
                width=int(width * 0.9) - 6,
            )

        body.append("\nGuarded by backend_start: a session that ended is not touched.", "dim")

        def answered(yes: bool | None) -> None:
            if yes:
                self.run_worker(self._signal(kind, targets), group="actions")

        self.push_screen(ConfirmScreen(title, body), callback=answered)

    async def _signal(self, kind: Kind, targets: list[Session]) -> None:
        from pgtop.audit import record_actions
        from pgtop.collect.actions import ActionRunner

        if self._runner is None:
            self._runner = ActionRunner(
                self.target.postgres,
                password=self.password,
                connect_timeout=self.target.connect_timeout,
            )
        try:
            pid = await self._runner.connect()
            self._postgres.exclude_pid(pid)
        except Exception as exc:  # reported, never raised into the UI
            self.notify(f"{kind} failed: {exc}", severity="error")
            return
        protected = set(self._postgres.own_pids)
        results = await self._runner.signal(kind, targets, protected)
        summary, severity = summarize_results(results)
        self.notify(summary, severity=severity, timeout=6)  # type: ignore[arg-type]
        error = record_actions(self._postgres.address, targets, results)
        if error:
            self.notify(error, severity="error")
        # The marks did their job, whatever the outcome (cancel as terminate); redrawn now,
        # as the next poll may be far off (paused).
        self.query_one(SessionsTable).unmark(targets)
        self._rerender_sessions()
        self.feed.poll_now()
