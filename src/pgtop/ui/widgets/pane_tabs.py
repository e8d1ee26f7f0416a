"""A one-line tab bar naming the panes and their number keys."""

from __future__ import annotations

from rich.text import Text
from textual import events
from textual.message import Message
from textual.signal import Signal
from textual.widget import Widget

from pgtop.monitor.frame import Frame

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

    def __init__(self, frames: Signal[Frame], *, id: str | None = None) -> None:
        """`frames`: the server's; the badges follow each one."""
        super().__init__(id=id)
        self._frames = frames
        self.current = PANES[0][0]
        self.badges: dict[str, str] = {}  # pane -> short alert, e.g. "3 waiting"
        self._spans: list[tuple[int, int, str]] = []

    def on_mount(self) -> None:
        self._frames.subscribe(self, self._show_frame, immediate=True)

    def _show_frame(self, frame: Frame) -> None:
        snap = frame.snapshot
        if snap is None:
            return
        waiting = sum(p.cl_waiting for p in snap.pooler.pools) if snap.pooler else 0
        self.set_badge("pooler", "!" if snap.pooler_error else f"{waiting}w" if waiting else "")

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
