"""The sessions table: a Line-API widget that draws only visible rows.

Measured (docs/reference/textual-table-cost.md) at 1,000 rows, this costs a fraction of
DataTable: rows are formatted lazily in `render_line`, and on each refresh only the screen
lines whose text changed are redrawn. The cursor follows a session (pid), not a line.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import datetime
from operator import attrgetter
from typing import TYPE_CHECKING

from rich.segment import Segment
from rich.style import Style
from textual import events
from textual.geometry import Region, Size
from textual.message import Message
from textual.strip import Strip

from pgtop.model.identity import same_session
from pgtop.model.records import Session
from pgtop.ui.widgets.cursor_list import CursorList
from pgtop.ui.widgets.lock_leads import LeadPart
from pgtop.ui.widgets.plain_lines import PlainLines
from pgtop.ui.widgets.session_columns import (
    HEADER_STYLE,
    Column,
    cell_texts,
    column_labels,
    fit_columns,
    pad_cell,
    row_segments,
)

if TYPE_CHECKING:
    from pgtop.model.host import ProcessStats

CURSOR_STYLE = Style(reverse=True)
MARK_STYLE = Style(color="cyan", bold=True)
STALE_STYLE = Style(dim=True)
_PID = attrgetter("pid")


class SessionsTable(PlainLines, CursorList, can_focus=True):
    """Lists sessions; a header line on top stays put while rows scroll."""

    DEFAULT_CSS = """
    SessionsTable { height: 1fr; scrollbar-size-vertical: 1; overflow-x: hidden; }
    """

    class HeaderClicked(Message):
        def __init__(self, column: str) -> None:
            super().__init__()
            self.column = column

    class CursorMoved(Message):
        def __init__(self, pid: int | None) -> None:
            super().__init__()
            self.pid = pid

    def __init__(
        self,
        *,
        id: str | None = None,
        key_handler: Callable[[events.Key], bool] | None = None,
        paste_handler: Callable[[str], bool] | None = None,
    ) -> None:
        """`key_handler` sees each key first, `paste_handler` each paste (the filter
        prompt); True means it took it."""
        super().__init__(id=id)
        self.key_handler = key_handler
        self.paste_handler = paste_handler
        self.rows: list[Session] = []
        self._index: dict[int, int] | None = {}
        self.now: datetime | None = None
        self.cursor_pid: int | None = None
        self._cursor_index = 0
        # pid -> the session as marked: a mark holds its identity (pid, backend_start), so
        # it never passes to a new backend that got the same pid (see model/identity.py).
        self.marked: dict[int, Session] = {}
        self.sort_column: str | None = None
        self.sort_descending = False  # the sorted column's arrow: ▼ when True
        self.empty_message = "waiting for the first poll…"
        self._columns: tuple[Column, ...] = fit_columns(80)
        self._columns_width: tuple[int, bool] = (-1, False)
        self.procs: dict[int, ProcessStats] | None = None
        self._drawn: dict[int, tuple[object, ...]] = {}  # screen line -> what it shows
        # Keys just computed for lines asked to redraw, so render_line need not again.
        self._fresh: dict[int, tuple[object, ...]] = {}
        # pid -> what goes before its query: lock tree guide, "blocks N" (lock_lead)
        self.leads: dict[int, tuple[LeadPart, ...]] = {}
        self.stale = False  # the server stopped answering: rows are drawn dimmed
        # pid -> (session, columns, (width, lead), its cell texts): a poll changes few
        # sessions, while every row's ages move; only the ages are worked out again.
        self._texts: dict[int, tuple[Session, tuple[Column, ...], tuple[int, str], tuple[str, ...]]]
        self._texts = {}
        # pid -> (what its row's right part depends on, that part's segments)
        self._tails: dict[int, tuple[tuple[object, ...], tuple[Segment, ...]]] = {}
        self._head_of: tuple[tuple[Column, ...] | None, int] = (None, 0)
        self._width_key: tuple[object, ...] = ()  # content_width's memo
        self._width = 0

    # -- data ---------------------------------------------------------------------------

    def set_rows(self, rows: list[Session], now: datetime) -> None:
        """Show a new list of sessions, keeping the cursor on its session."""
        self.rows = rows
        self.now = now
        self._index = None  # built when asked: at 50,000 rows a fifth of a redraw
        at = self._cursor_index
        if self.cursor_pid is not None and at < len(rows) and rows[at].pid == self.cursor_pid:
            pass  # the cursor's session kept its place (the usual case)
        elif self.cursor_pid in self.index:
            self._cursor_index = self.index[self.cursor_pid]  # type: ignore[index]
        else:
            # The session left: stay at the same place in the list.
            self._cursor_index = min(self._cursor_index, max(0, len(rows) - 1))
            self.cursor_pid = rows[self._cursor_index].pid if rows else None
        self.virtual_size = Size(self.content_width, len(rows) + 1)
        self._refresh_changed_lines()

    @property
    def cursor_session(self) -> Session | None:
        at = self._cursor_index
        if self.cursor_pid is None or at >= len(self.rows) or self.rows[at].pid != self.cursor_pid:
            return None
        return self.rows[at]

    def set_stale(self, stale: bool) -> None:
        if stale != self.stale:
            self.stale = stale
            self._refresh_changed_lines()

    def is_marked(self, s: Session) -> bool:
        mark = self.marked.get(s.pid)
        return mark is not None and same_session(mark, s)

    def toggle_mark(self, s: Session) -> None:
        if self.is_marked(s):
            del self.marked[s.pid]
        else:
            self.marked[s.pid] = s

    def unmark(self, sessions: Iterable[Session]) -> None:
        for s in sessions:
            if self.is_marked(s):
                del self.marked[s.pid]

    def move_cursor_to_pid(self, pid: int) -> bool:
        if pid not in self.index:
            return False
        self._set_cursor(self.index[pid])
        return True

    @property
    def index(self) -> dict[int, int]:
        """pid -> row, built at most once per list of rows."""
        if self._index is None:
            self._index = dict(zip(map(_PID, self.rows), range(len(self.rows)), strict=True))
        return self._index

    # -- drawing ------------------------------------------------------------------------

    @property
    def content_width(self) -> int:
        """Cells left for text once the scrollbar takes its column.

        Kept per widget size and scrollbar: Textual finds the region through the
        compositor on each read, and the lines ask for it about a hundred times a tick
        (~4 % of pgtop's CPU at 1,000 sessions). A width of 0 (not on screen) is not kept.
        """
        key = (self.outer_size, self.show_vertical_scrollbar, self.show_horizontal_scrollbar)
        if key != self._width_key:
            width = self.scrollable_content_region.width
            if not width:
                return 0
            self._width_key, self._width = key, width
        return self._width

    def _line_key(self, y: int, width: int) -> tuple[object, ...]:
        """Everything that decides how screen line `y` looks at `width` (the content
        width); equal keys draw the same."""
        if y == 0:
            return ("header", width, self.sort_column, self.sort_descending, self.procs is None)
        i = int(self.scroll_y) + y - 1
        if i >= len(self.rows):
            return ("empty", width, i, bool(self.rows))
        s = self.rows[i]
        assert self.now is not None
        lead = "".join(text for text, _ in self.leads.get(s.pid, ()))
        texts = self._cell_texts(s, self._columns_for(width), width, lead)
        cursor = i == self._cursor_index
        return ("row", width, s.pid, cursor, self.is_marked(s), s.state, texts, self.stale)

    def _cell_texts(
        self, s: Session, columns: tuple[Column, ...], width: int, lead: str
    ) -> tuple[str, ...]:
        """cell_texts, with the texts that do not tick kept while the session is the same
        record (collectors keep an unchanged session the same object)."""
        now = self.now
        assert now is not None
        if self.procs is not None:  # host figures change every sample
            return cell_texts(s, now, columns, width, lead, self.procs)
        hit = self._texts.get(s.pid)
        if hit is not None and hit[0] is s and hit[1] is columns and hit[2] == (width, lead):
            return tuple(
                c.cut(c.text(s, now), c.width) if c.ticks else text
                for c, text in zip(columns, hit[3], strict=True)
            )
        texts = cell_texts(s, now, columns, width, lead)
        if len(self._texts) > 4 * max(100, self.size.height):
            self._texts.clear()  # sessions long gone
        self._texts[s.pid] = (s, columns, (width, lead), texts)
        return texts

    def _columns_for(self, width: int) -> tuple[Column, ...]:
        host = self.procs is not None
        if (width, host) != self._columns_width:
            self._columns = fit_columns(width, host)
            self._columns_width = (width, host)
        return self._columns

    def set_procs(self, procs: dict[int, ProcessStats] | None) -> None:
        """Process figures of the backends (None: not local, or not asked for)."""
        self.procs = procs
        self._refresh_changed_lines()

    def shown_columns(self) -> list[str]:
        """The keys of the columns on screen now, left to right."""
        return [c.key for c in self._columns_for(self.content_width)]

    def visible_pids(self) -> list[int]:
        top = int(self.scroll_y)
        return [s.pid for s in self.rows[top : top + max(0, self.size.height - 1)]]

    def _refresh_changed_lines(self) -> None:
        height = self.size.height
        width = self.content_width
        self._fresh.clear()
        changed = []
        for y in range(height):
            key = self._line_key(y, width)
            old = self._drawn.get(y)
            if old != key:
                self._fresh[y] = key
                changed.append(Region(0, y, self._changed_extent(old, key, width), 1))
        if changed:  # one refresh for all: each call clears caches and checks for idle
            self.refresh(*changed)
        for y in [y for y in self._drawn if y >= height]:
            del self._drawn[y]

    def _changed_extent(
        self, old: tuple[object, ...] | None, new: tuple[object, ...], width: int
    ) -> int:
        """How much of a line, from its left edge, must be redrawn to show `new`.

        When only cell texts changed (ages ticking), up to the end of the last changed
        cell; otherwise the whole line.
        """
        if old is None or old[0] != "row" or new[0] != "row" or old[:6] != new[:6]:
            return width
        if old[7:] != new[7:]:
            return width
        old_texts, new_texts = old[6], new[6]
        assert isinstance(old_texts, tuple) and isinstance(new_texts, tuple)
        if len(old_texts) != len(new_texts):  # the columns changed (e.g. host figures on)
            return width
        last = max(i for i, (a, b) in enumerate(zip(old_texts, new_texts, strict=True)) if a != b)
        end = 0
        for i, col in enumerate(self._columns_for(width)):
            end += (1 if i else 0) + (col.width or width)
            if i == last:
                break
        return min(width, end)

    def render_line(self, y: int) -> Strip:
        width = self.content_width
        key = self._fresh.pop(y, None)
        if key is None or key[1] != width:  # a resize came in between
            key = self._line_key(y, width)
        self._drawn[y] = key
        if key[0] == "header":
            return self._header_strip(width)
        if key[0] == "empty":
            text = self.empty_message if (y == 1 and not self.rows) else ""
            return Strip([Segment(text.ljust(width)[:width], Style(dim=True))], width)
        i = int(self.scroll_y) + y - 1
        return self._row_strip(self.rows[i], key[6], key[3], key[4], width)  # type: ignore[arg-type]

    def _header_strip(self, width: int) -> Strip:
        labels = column_labels(self._columns_for(width), self.sort_column, self.sort_descending)
        return Strip([Segment(labels.ljust(width)[:width], HEADER_STYLE)], width)

    def _row_strip(
        self, s: Session, texts: tuple[str, ...], cursor: bool, marked: bool, width: int
    ) -> Strip:
        base = CURSOR_STYLE if cursor else Style()
        if self.stale:
            base = base + STALE_STYLE
        if marked:
            base = base + MARK_STYLE
        columns = self._columns_for(width)
        # The plain cells on the left (pid and the ages, which tick) are one run in the
        # base style; the rest of the row changes only with the session: kept per pid.
        head = self._plain_head(columns)
        key = (s, columns, width, cursor, marked, self.stale, self.leads.get(s.pid), texts[head:])
        hit = self._tails.get(s.pid)
        if hit is not None and hit[0] == key:
            tail = hit[1]
        else:
            tail = row_segments(s, columns, texts, head, base, cursor, self.leads.get(s.pid))
            if len(self._tails) > 4 * max(100, self.size.height):
                self._tails.clear()  # sessions long gone
            self._tails[s.pid] = (key, tail)
        cells = zip(columns[:head], texts[:head], strict=True)
        start = " ".join(pad_cell(text, col) for col, text in cells)
        if start and tail and tail[0].style == base:
            segments = [Segment(start + tail[0].text, base), *tail[1:]]
        elif start:
            segments = [Segment(start, base), *tail]
        else:
            segments = list(tail)
        return Strip(segments).adjust_cell_length(width, base)

    def _plain_head(self, columns: tuple[Column, ...]) -> int:
        """How many columns on the left draw in the base style (no style of their own, no
        lead) and cover every ticking column: those are formatted for each frame."""
        if columns is not self._head_of[0]:
            head = 0
            while head < len(columns) and columns[head].style is None:
                if columns[head].key == "query":
                    break
                head += 1
            if any(c.ticks for c in columns[head:]):
                head = 0  # an age past a styled cell: the whole row per frame
            self._head_of = (columns, head)
        return self._head_of[1]

    # -- scrolling and cursor -------------------------------------------------------------

    def watch_scroll_y(self, old_value: float, new_value: float) -> None:
        super().watch_scroll_y(old_value, new_value)
        self._fresh.clear()  # every line now shows another row
        self.refresh()

    def on_resize(self, event: events.Resize) -> None:
        self.virtual_size = Size(self.content_width, len(self.rows) + 1)
        self._drawn.clear()
        self._fresh.clear()
        self._scroll_cursor_into_view()
        self.refresh()

    def _set_cursor(self, index: int) -> None:
        if not self.rows:
            return
        index = max(0, min(index, len(self.rows) - 1))
        self._cursor_index = index
        pid = self.rows[index].pid
        if pid != self.cursor_pid:
            self.cursor_pid = pid
            self.post_message(self.CursorMoved(pid))
        self._scroll_cursor_into_view()
        self._refresh_changed_lines()

    def _scroll_cursor_into_view(self) -> None:
        visible = max(1, self.size.height - 1)
        top = int(self.scroll_y)
        if self._cursor_index < top:
            self.scroll_to(y=self._cursor_index, animate=False, immediate=True)
        elif self._cursor_index >= top + visible:
            self.scroll_to(y=self._cursor_index - visible + 1, animate=False, immediate=True)

    def _line_count(self) -> int:
        return len(self.rows)

    def on_paste(self, event: events.Paste) -> None:
        if self.paste_handler is not None and self.paste_handler(event.text):
            event.stop()

    def on_click(self, event: events.Click) -> None:
        width = self.content_width
        if event.y == 0:
            x = 0
            for col in self._columns_for(width):
                end = x + (col.width or width)
                if event.x < end:
                    self.post_message(self.HeaderClicked(col.key))
                    return
                x = end + 1
            return
        self._set_cursor(int(self.scroll_y) + event.y - 1)
