"""A one-line tab bar naming the panes and their number keys."""

from __future__ import annotations

from rich.text import Text
from textual import events
from textual.message import Message
from textual.widget import Widget

PANES: tuple[tuple[str, str], ...] = (
    ("sessions", "Sessions"),
    ("databases", "Databases"),
    ("limits", "Limits"),
    ("pooler", "Pooler"),
)


class PaneTabs(Widget):
    DEFAULT_CSS = """
    PaneTabs { height: 1; background: $panel-darken-1; }
    """

    class Chosen(Message):
        def __init__(self, pane: str) -> None:
            super().__init__()
            self.pane = pane

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.current = PANES[0][0]
        self.badges: dict[str, str] = {}  # pane -> short alert, e.g. "3 waiting"
        self._spans: list[tuple[int, int, str]] = []

    def select(self, pane: str) -> None:
        self.current = pane
        self.refresh()

    def set_badge(self, pane: str, text: str) -> None:
        if self.badges.get(pane, "") != text:
            self.badges[pane] = text
            self.refresh()

    def render(self) -> Text:
        t = Text(no_wrap=True, overflow="ellipsis")
        self._spans = []
        for number, (key, label) in enumerate(PANES, start=1):
            start = len(t)
            style = "bold reverse" if key == self.current else ""
            t.append(f" {number} {label} ", style)
            badge = self.badges.get(key)
            if badge:
                t.append(f"{badge} ", "bold red" if key != self.current else "bold red reverse")
            self._spans.append((start, len(t), key))
        return t

    def on_click(self, event: events.Click) -> None:
        for start, end, key in self._spans:
            if start <= event.x < end:
                self.post_message(self.Chosen(key))
                return
