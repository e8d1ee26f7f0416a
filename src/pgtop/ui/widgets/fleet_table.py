"""The fleet's lines: one per server under a header that stays put; the cursor follows a
server (by name), not a position, as the worst-first order changes under it.

The fleet screen (ui/fleet_screen.py) is the one writer of `lines` (set_lines) and of
the sort shown in the header; the table owns its cursor. Each line is drawn from its
FleetLine by widgets/fleet_columns.py in `render_line`, only for the lines on screen.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

from rich.segment import Segment
from rich.style import Style
from rich.text import Text
from textual import events
from textual.geometry import Region, Size
from textual.strip import Strip

from pgtop.model.fleet_line import FleetLine
from pgtop.ui.widgets.cursor_list import CursorList
from pgtop.ui.widgets.fleet_columns import FleetColumn, fit_columns, header_text, row_text

HEADER_STYLE = Style(bold=True, reverse=True)
CURSOR_STYLE = Style(reverse=True)


class FleetTable(CursorList, can_focus=True):
    DEFAULT_CSS = """
    FleetTable { height: 1fr; scrollbar-size-vertical: 1; overflow-x: hidden; }
    """

    def __init__(
        self,
        *,
        id: str | None = None,
        key_handler: Callable[[events.Key], bool] | None = None,
        on_cursor: Callable[[], None] | None = None,
    ) -> None:
        """`key_handler` sees each key first (the filter prompt): True means it took it;
        `on_cursor` is told when the cursor moves to another server."""
        super().__init__(id=id)
        self.key_handler = key_handler
        self.on_cursor = on_cursor
        self.lines: list[FleetLine] = []
        self.now = datetime.now(UTC)
        self.cursor_name: str | None = None
        self._cursor_index = 0
        self.sort_key = "worst"
        self.sort_descending = False
        self.empty_message = "no server yet"
        self._columns: tuple[FleetColumn, ...] = ()
        self._columns_for: tuple[int, int] = (-1, -1)
        # What each screen line shows (its key) and its strip: a line whose key did not
        # change is neither drawn again nor repainted (ages tick on down lines only).
        self._drawn: dict[int, tuple[object, ...]] = {}
        self._strips: dict[tuple[object, ...], Strip] = {}

    # -- data ---------------------------------------------------------------------------

    def set_lines(self, lines: list[FleetLine], now: datetime) -> None:
        """Show these lines, keeping the cursor on its server (or at its place)."""
        self.lines, self.now = lines, now
        names = [line.name for line in lines]
        if self.cursor_name in names:
            self._cursor_index = names.index(self.cursor_name)
        else:
            self._cursor_index = min(self._cursor_index, max(0, len(lines) - 1))
            self.cursor_name = names[self._cursor_index] if names else None
        self.virtual_size = Size(self.content_width, len(lines) + 1)
        self._refresh_changed()

    @property
    def cursor_line(self) -> FleetLine | None:
        if not self.lines:
            return None
        return self.lines[self._cursor_index]

    def move_to(self, name: str) -> None:
        names = [line.name for line in self.lines]
        if name in names:
            self._set_cursor(names.index(name))

    def _set_cursor(self, index: int) -> None:
        if not self.lines:
            return
        index = max(0, min(index, len(self.lines) - 1))
        moved = self.lines[index].name != self.cursor_name
        self._cursor_index, self.cursor_name = index, self.lines[index].name
        top, rows = int(self.scroll_y), max(1, self.size.height - 1)
        if index < top:
            self.scroll_to(y=index, animate=False)
        elif index >= top + rows:
            self.scroll_to(y=index - rows + 1, animate=False)
        self._refresh_changed()
        if moved and self.on_cursor is not None:
            self.on_cursor()

    def _line_count(self) -> int:
        return len(self.lines)

    # -- drawing ------------------------------------------------------------------------

    @property
    def content_width(self) -> int:
        return self.scrollable_content_region.width

    def columns(self) -> tuple[FleetColumn, ...]:
        width = self.content_width
        if (width, len(self.lines)) != self._columns_for or not self._columns:
            self._columns = fit_columns(width, self.lines)
            self._columns_for = (width, len(self.lines))
        return self._columns

    def shown_columns(self) -> list[str]:
        return [c.key for c in self.columns()]

    def on_resize(self, event: events.Resize) -> None:
        self._columns = ()
        self._drawn.clear()
        self.virtual_size = Size(self.content_width, len(self.lines) + 1)

    def _line_key(self, y: int) -> tuple[object, ...]:
        """Everything that decides how screen line `y` looks; equal keys draw the same."""
        width = self.content_width
        if y == 0:
            return ("header", width, self.sort_key, self.sort_descending, self.columns())
        i = int(self.scroll_y) + y - 1
        if i >= len(self.lines):
            return ("empty", width, self.empty_message if (i == 0 and not self.lines) else "")
        line = self.lines[i]
        since = "" if not line.down else int((self.now - line.since).total_seconds())
        return ("row", width, line, since, i == self._cursor_index, self.columns())

    def _refresh_changed(self) -> None:
        """Repaint only the screen lines whose content changed."""
        if not self.is_mounted:
            return
        keys = {y: self._line_key(y) for y in range(self.size.height)}
        for y, key in keys.items():
            if self._drawn.get(y) != key:
                self.refresh(Region(0, y, self.size.width, 1))
        self._drawn = keys
        # Keep only the strips still on screen: the cache never outgrows the screen.
        live = set(keys.values())
        self._strips = {k: v for k, v in self._strips.items() if k in live}

    def watch_scroll_y(self, old: float, new: float) -> None:
        super().watch_scroll_y(old, new)
        self._drawn.clear()

    def render_line(self, y: int) -> Strip:
        key = self._line_key(y)
        strip = self._strips.get(key)
        if strip is None:
            strip = self._strips[key] = self._draw(key)
        return strip

    def _draw(self, key: tuple[object, ...]) -> Strip:
        width = self.content_width
        if key[0] == "header":
            text = header_text(self.columns(), self.sort_key, self.sort_descending)
            return self._strip(text, width, HEADER_STYLE)
        if key[0] == "empty":
            message = str(key[2])
            return Strip([Segment(message.ljust(width)[:width], Style(dim=True))], width)
        line = key[2]
        assert isinstance(line, FleetLine)
        text = row_text(self.columns(), line, self.now)
        return self._strip(text, width, CURSOR_STYLE if key[4] else None)

    def _strip(self, text: Text, width: int, base: Style | None) -> Strip:
        segments = list(text.render(self.app.console))
        strip = Strip(segments).extend_cell_length(width).crop(0, width)
        return strip.apply_style(base) if base is not None else strip
