"""The sessions one session waits on and those waiting on it, each one key from inspect.

Shown on the inspect screen under "blocked by" / "blocks": tab moves here, ↑ ↓ pick a
session, enter (or a click) opens inspect on it.
"""

from __future__ import annotations

from rich.text import Text
from textual.message import Message
from textual.widgets import OptionList
from textual.widgets.option_list import Option

from pgtop.model.derive import session_ages
from pgtop.model.format import age, one_line
from pgtop.model.records import Session, Snapshot
from pgtop.ui.widgets.session_columns import STATE_STYLES, state_label

QUERY_HEAD = 80
PREPARED = 0  # pg_blocking_pids() names a prepared transaction's locks so


class RelatedSessions(OptionList):
    DEFAULT_CSS = """
    RelatedSessions {
        height: auto; max-height: 12; margin-top: 1; background: $background;
        text-wrap: nowrap; text-overflow: ellipsis;
    }
    RelatedSessions.-empty { display: none; }
    """

    class Chosen(Message):
        def __init__(self, pid: int) -> None:
            super().__init__()
            self.pid = pid

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id, markup=False, compact=True)
        self._shown: list[tuple[str, str]] = []

    def show(self, s: Session, snap: Snapshot) -> None:
        """List `s`'s blockers and waiters; unchanged lists are left alone (and the
        highlight with them)."""
        by_pid = {o.pid: o for o in snap.sessions}
        rows = [self._row("blocked by", p, by_pid.get(p), snap) for p in s.blocked_by]
        rows += [
            self._row("blocks", o.pid, o, snap) for o in snap.sessions if s.pid in o.blocked_by
        ]
        self.set_class(not rows, "-empty")
        shown = [(option_id, text.plain) for option_id, text, _ in rows]
        if shown == self._shown:
            return
        self._shown = shown
        highlighted = self.highlighted_option.id if self.highlighted_option else None
        self.clear_options()
        self.add_options(Option(text, id=i, disabled=not live) for i, text, live in rows)
        ids = [i for i, _, _ in rows]
        # Enter must open something as soon as tab lands here: keep a line highlighted.
        self.highlighted = ids.index(highlighted) if highlighted in ids else 0 if ids else None

    @staticmethod
    def _row(label: str, pid: int, o: Session | None, snap: Snapshot) -> tuple[str, Text, bool]:
        """(option id, what it shows, whether it can be opened)."""
        option_id = f"{label}:{pid}"
        t = Text(f"{label:<11}", "bold")
        t.append(f"{pid:>7}  ", "bold red" if label == "blocked by" else "bold")
        if o is None:
            t.append("a prepared transaction" if pid == PREPARED else "not listed (ended?)", "dim")
            return option_id, t, False
        t.append(f"{state_label(o):<8} ", STATE_STYLES.get(o.state or "", ""))
        t.append(f"{age(session_ages(o, snap.server.snapshot_time).xact):>6}  ")
        t.append(one_line(f"{o.user or '?'}@{o.database or '?'}", 24) + "  ", "dim")
        t.append(one_line(o.query, QUERY_HEAD))
        return option_id, t, True

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        event.stop()
        if event.option.id is not None:
            self.post_message(self.Chosen(int(event.option.id.rsplit(":", 1)[1])))
