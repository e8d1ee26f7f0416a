"""The header widget: server facts, connection use against the limit, states, rates,
trends (the lines themselves: header_lines.py).

It is a fixed-height widget whose lines are drawn from its HeaderState: the server's
latest Frame (drawn as it is published) and the screen's view of it. Refreshing it
repaints four lines without a layout pass, re-rendering only the lines that changed.
"""

from __future__ import annotations

from rich.segment import Segment
from rich.style import Style
from rich.text import Text
from textual.geometry import Region
from textual.signal import Signal
from textual.strip import Strip
from textual.widget import Widget

from pgtop.monitor.frame import Frame
from pgtop.ui.widgets.header_lines import HeaderState, header_lines


class StatusHeader(Widget):
    DEFAULT_CSS = """
    StatusHeader { height: 4; padding: 0 1; background: $panel; }
    """

    def __init__(self, state: HeaderState, frames: Signal[Frame], *, id: str | None = None) -> None:
        """`frames`: where the server's frames are published; each is drawn on arrival."""
        super().__init__(id=id)
        self.state = state
        self._frames = frames
        # The repaint under way: content width, base style and the lines.
        self._texts: tuple[int, Style, list[Text]] | None = None
        self._strips: dict[int, tuple[tuple[int, Style], Text, Strip]] = {}  # y -> as drawn

    def on_mount(self) -> None:
        self._frames.subscribe(self, self._show_frame, immediate=True)

    def _show_frame(self, frame: Frame) -> None:
        self.state.frame = frame
        self.refresh()

    def lines(self, width: int | None = None) -> list[Text]:
        """The four lines as they read now, fitted to `width` (the content width)."""
        if width is None:
            width = self.content_size.width
        return header_lines(self.state, width)

    def render_lines(self, crop: Region) -> list[Strip]:
        # A repaint builds the four lines once, and only when Textual asks for a line
        # (after a refresh); render_line then turns only the lines that changed into
        # strips (the server line rarely does). Drawn through Rich's Group, the header
        # was ~10 % of pgtop's CPU at 1,000 sessions.
        try:
            return super().render_lines(crop)
        finally:
            self._texts = None

    def render_line(self, y: int) -> Strip:
        if self._texts is None:  # once per repaint: the style walks the ancestors
            width = self.content_size.width
            self._texts = (width, self.rich_style, self.lines(width))
        width, base, texts = self._texts
        text = texts[y] if y < len(texts) else Text()
        drawn = self._strips.get(y)
        if drawn is not None and drawn[0] == (width, base) and drawn[1] == text:
            return drawn[2]
        shown = text.copy()
        shown.truncate(width, overflow="ellipsis")
        segments = Segment.apply_style(shown.render(self.app.console), base)
        strip = Strip(segments).adjust_cell_length(width, base)
        self._strips[y] = ((width, base), text, strip)
        return strip
