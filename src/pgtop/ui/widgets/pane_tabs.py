"""A one-line tab bar naming the panes and their number keys."""

from __future__ import annotations

from rich.text import Text
from textual import events
from textual.message import Message
from textual.signal import Signal
from textual.widget import Widget

from pgtop.monitor.frame import Frame
from pgtop.ui.widgets.tab_line import PANES, badge_style, frame_badges, tab_line


class PaneTabs(Widget):
    DEFAULT_CSS = """
    PaneTabs { height: 1; background: $panel-darken-1; }
    """

    class Chosen(Message):
        def __init__(self, pane: str) -> None:
            super().__init__()
            self.pane = pane

    def __init__(self, frames: Signal[Frame], *, id: str | None = None) -> None:
        """`frames`: the server's; the badges follow each one."""
        super().__init__(id=id)
        self._frames = frames
        self.current = PANES[0][0]
        self.badges: dict[str, str] = {}  # pane -> short alert, e.g. "3w" (clients waiting)
        self.badge_styles: dict[str, str] = {}  # pane -> its badge's style, if not red
        self._spans: list[tuple[int, int, str]] = []

    def on_mount(self) -> None:
        self._frames.subscribe(self, self._show_frame, immediate=True)

    def _show_frame(self, frame: Frame) -> None:
        for pane, (text, colour) in frame_badges(frame).items():
            self.set_badge(pane, text, colour)

    def select(self, pane: str) -> None:
        self.current = pane
        self.refresh()

    def set_badge(self, pane: str, text: str, colour: str = "") -> None:
        """`colour`: the badge's, when not red."""
        style = badge_style(colour)
        if self.badges.get(pane, "") != text or self.badge_styles.get(pane) != style:
            self.badges[pane] = text
            self.badge_styles[pane] = style
            self.refresh()

    def render(self) -> Text:
        t, self._spans = tab_line(self.current, self.badges, self.badge_styles)
        return t

    def on_click(self, event: events.Click) -> None:
        for start, end, key in self._spans:
            if start <= event.x < end:
                self.post_message(self.Chosen(key))
                return
