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
    ("findings", "Findings"),
)
BADGE_STYLE = "bold red"


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
        snap = frame.snapshot
        if snap is None:
            return
        waiting = sum(p.cl_waiting for p in snap.pooler.pools) if snap.pooler else 0
        self.set_badge("pooler", "!" if snap.pooler_error else f"{waiting}w" if waiting else "")
        # Findings: how many warn or alarm, red when one is critical (info ones are not).
        alarms = [f for f in frame.findings if f.severity != "info"]
        critical = any(f.severity == "critical" for f in alarms)
        self.set_badge("findings", str(len(alarms)) if alarms else "", "" if critical else "yellow")

    def select(self, pane: str) -> None:
        self.current = pane
        self.refresh()

    def set_badge(self, pane: str, text: str, colour: str = "") -> None:
        """`colour`: the badge's, when not red."""
        style = f"bold {colour}" if colour else BADGE_STYLE
        if self.badges.get(pane, "") != text or self.badge_styles.get(pane) != style:
            self.badges[pane] = text
            self.badge_styles[pane] = style
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
                style = self.badge_styles.get(key, BADGE_STYLE)
                t.append(f"{badge} ", style if key != self.current else f"{style} reverse")
            self._spans.append((start, len(t), key))
        return t

    def on_click(self, event: events.Click) -> None:
        for start, end, key in self._spans:
            if start <= event.x < end:
                self.post_message(self.Chosen(key))
                return
