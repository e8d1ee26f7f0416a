"""`t` while a recording plays: a one-line prompt for where to jump."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Input, Static


class JumpScreen(ModalScreen[str | None]):
    """A one-line prompt for where to jump."""

    BINDINGS = [Binding("escape", "dismiss(None)", "Cancel")]
    DEFAULT_CSS = """
    JumpScreen { align: center middle; }
    JumpScreen > Vertical { width: 70; height: auto; padding: 1 2; background: $panel;
                            border: round $accent; }
    """

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Static("Time (12:03:00), offset (-30s, +5m), frame number, start or end")
            yield Input(placeholder="time, offset or frame", id="jump-input")

    def on_input_submitted(self, event: Input.Submitted) -> None:
        self.dismiss(event.value)
