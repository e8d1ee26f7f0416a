"""Keys that follow lock chains: jump to a session's root blocker.

A mixin for PgTopApp, beside session_actions.py (sort, filter, mark, cancel, terminate).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from pgtop.model.locks import blocking_tree, root_of, waiters_behind
from pgtop.model.records import Session
from pgtop.ui.widgets.sessions_table import SessionsTable

if TYPE_CHECKING:
    from pgtop.ui.app import PgTopApp
    from pgtop.ui.screens.inspect import InspectScreen

    _Base = PgTopApp
else:
    _Base = object


class LockActions(_Base):
    """Mixed into PgTopApp."""

    def on_inspect_screen_open_session(self, message: InspectScreen.OpenSession) -> None:
        """A blocker or waiter chosen on the inspect screen: inspect it in turn."""
        self.open_inspect(message.pid)

    def action_jump_to_root_blocker(self) -> None:
        """Move the cursor to the root blocker of the session under it."""
        table = self.query_one(SessionsTable)
        snap = self.current_snapshot()
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
        snap = self.current_snapshot()
        flt = self.session_filter
        if flt is not None and snap is not None and not flt.matches(s, snap.server.snapshot_time):
            return "the filter (esc clears it)"
        if self.view.hide_idle:
            return "the idle toggle (i shows idle sessions)"
        if not self.view.show_system and not s.is_client:
            return "the view (a shows background processes)"
        return "the view"
