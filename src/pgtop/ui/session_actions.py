"""What the keys do to sessions: sort, filter, mark, inspect, cancel and terminate.

A mixin for PgTopApp so app.py stays about layout and polling. Signals go through
collect.actions (guarded by backend_start) after a ConfirmScreen; results are reported
in a notification and appended to the audit log.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import replace
from typing import TYPE_CHECKING

from rich.text import Text
from textual import events
from textual.widgets import ContentSwitcher

from pgtop.model.filter import FilterError, parse_filter
from pgtop.model.format import one_line
from pgtop.model.records import Session
from pgtop.model.view import SORT_KEYS
from pgtop.ui.filter_prompt import FilterPrompt
from pgtop.ui.widgets.header import StatusHeader
from pgtop.ui.widgets.sessions_table import SessionsTable

if TYPE_CHECKING:
    from pgtop.collect.actions import ActionResult, ActionRunner, Kind
    from pgtop.ui.app import PgTopApp

    _Base = PgTopApp
else:
    _Base = object

SORT_ORDER = list(SORT_KEYS)
QUERY_HEAD = 120


def describe_one(s: Session) -> Text:
    t = Text()
    for label, value in (
        ("pid", str(s.pid)),
        ("user", s.user or "?"),
        ("database", s.database or "?"),
        ("application", s.application or "(none)"),
        ("client", s.client or "local"),
        ("state", s.state or "?"),
        ("query", one_line(s.query, QUERY_HEAD) or "(none)"),
    ):
        t.append(f"{label:<12}", "bold")
        t.append(one_line(value) + "\n")
    return t


def describe_many(sessions: list[Session]) -> Text:
    t = Text()
    for label, key in (("user", "user"), ("database", "database"), ("state", "state")):
        counts = Counter(getattr(s, key) or "?" for s in sessions)
        summary = ", ".join(f"{one_line(str(k), 24)} {n}" for k, n in counts.most_common(5))
        more = len(counts) - 5
        t.append(f"by {label:<10}", "bold")
        t.append(summary + (f", +{more} more" if more > 0 else "") + "\n")
    return t


def summarize_results(results: list[ActionResult]) -> tuple[str, str]:
    """A one-line summary and the notification severity."""
    if len(results) == 1:
        r = results[0]
        return r.line, "information" if r.outcome == "done" else "warning"
    counts = Counter(r.outcome for r in results)
    text = ", ".join(f"{n} {outcome}" for outcome, n in counts.items())
    refused = next((r for r in results if r.outcome == "refused"), None)
    if refused is not None:
        text += f" — e.g. {refused.detail}"
    kind = results[0].kind if results else "signal"
    return f"{kind}: {text}", "information" if counts["done"] == len(results) else "warning"


class SessionActions(_Base):
    """Mixed into PgTopApp."""

    _runner: ActionRunner | None = None
    filter_text: str = ""
    filter_prompt: FilterPrompt

    # -- sort ---------------------------------------------------------------------------

    def _sort_step(self, step: int) -> None:
        current = self.view.sort
        i = SORT_ORDER.index(current) if current in SORT_ORDER else -1
        column = SORT_ORDER[(i + step) % len(SORT_ORDER)]
        self.view = replace(self.view, sort=column, reverse=False)
        self.notify(f"sorted by {column.replace('_', ' ')}", timeout=1.5)
        self._rerender_sessions()

    def action_sort_next(self) -> None:
        self._sort_step(1)

    def action_sort_previous(self) -> None:
        self._sort_step(-1)

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
        pid = table.cursor_pid
        if pid is None:
            return
        table.marked.symmetric_difference_update({pid})
        table.action_cursor_down()
        self._rerender_sessions()

    def action_inspect(self) -> None:
        session = self.query_one(SessionsTable).cursor_session
        if session is not None:
            self.open_inspect(session.pid)

    def open_inspect(self, pid: int) -> None:
        """Push an inspect screen for `pid` (also over another one: esc goes back to it)."""
        from pgtop.ui.screens.inspect import InspectScreen  # first use loads it: start-up

        snap = self.current_snapshot()
        if snap is None:
            return
        under = self.postgres.inspect_pid  # the inspect screen below, if any, gets its locks
        self.postgres.inspect_pid = pid
        self.pg_poller.poll_now()
        self.push_screen(
            InspectScreen(pid, snap, read_only=self.target.read_only),
            callback=lambda _: setattr(self.postgres, "inspect_pid", under),
        )

    # -- cancel / terminate ---------------------------------------------------------------

    def _targets(self) -> list[Session]:
        """Marked sessions that still exist, else the one under the cursor."""
        table = self.query_one(SessionsTable)
        snap = self.current_snapshot()
        if snap is None:
            return []
        live = {s.pid: s for s in snap.sessions}
        marked = [live[p] for p in sorted(table.marked) if p in live]
        if marked:
            return marked
        s = table.cursor_session
        return [s] if s is not None and s.pid in live else []

    def action_cancel(self) -> None:
        self._confirm_and_signal("cancel", self._targets())

    def action_terminate(self) -> None:
        self._confirm_and_signal("terminate", self._targets())

    def _inspected(self) -> list[Session]:
        from pgtop.ui.screens.inspect import InspectScreen

        screen = self.screen
        if isinstance(screen, InspectScreen) and screen.session and not screen.ended:
            return [screen.session]
        return []

    def action_cancel_inspected(self) -> None:
        self._confirm_and_signal("cancel", self._inspected())

    def action_terminate_inspected(self) -> None:
        self._confirm_and_signal("terminate", self._inspected())

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
        self, kind: Kind, targets: list[Session], database: str | None = None
    ) -> None:
        if self.target.read_only:
            self.action_read_only_notice()
            return
        own = set(self.postgres.own_pids)
        targets = [s for s in targets if s.pid not in own]
        if not targets:
            self.notify(f"nothing to {kind}", severity="warning")
            return
        if database is not None:
            title = (
                f"Terminate all {len(targets)} client sessions of database {one_line(database)}?"
            )
            body = describe_many(targets)
        elif len(targets) == 1:
            title = f"{kind.capitalize()} this session?"
            body = describe_one(targets[0])
        else:
            title = f"{kind.capitalize()} {len(targets)} marked sessions?"
            body = describe_many(targets)
        from pgtop.ui.screens.confirm import ConfirmScreen

        body.append("\nGuarded by backend_start: a session that ended since is not touched.", "dim")

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
            self.postgres.exclude_pid(pid)
        except Exception as exc:  # reported, never raised into the UI
            self.notify(f"{kind} failed: {exc}", severity="error")
            return
        protected = set(self.postgres.own_pids)
        results = await self._runner.signal(kind, targets, protected)
        summary, severity = summarize_results(results)
        self.notify(summary, severity=severity, timeout=6)  # type: ignore[arg-type]
        error = record_actions(self.postgres.address, targets, results)
        if error:
            self.notify(error, severity="error")
        self.query_one(SessionsTable).marked.difference_update(r.pid for r in results)
        self.pg_poller.poll_now()
