"""The filter prompt opened by `/`: applies as you type, says what is wrong in one line."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal
from textual.message import Message
from textual.widgets import Input, Label


class FilterBar(Horizontal):
    DEFAULT_CSS = """
    FilterBar { height: 1; display: none; background: $panel; }
    FilterBar.-open { display: block; }
    FilterBar Label { width: auto; padding: 0 1; text-style: bold; }
    FilterBar Input { border: none; height: 1; width: 1fr; padding: 0; }
    FilterBar #filter-error { color: $error; width: auto; max-width: 50%; }
    """

    BINDINGS = [Binding("escape", "clear", "Clear filter", show=False)]

    class Changed(Message):
        def __init__(self, text: str) -> None:
            super().__init__()
            self.text = text

    class Closed(Message):
        pass

    def compose(self) -> ComposeResult:
        yield Label("/")
        yield Input(
            placeholder="text  db:NAME user:NAME app:NAME state:idle-tx dur>30s  (esc clears)",
            id="filter-input",
            compact=True,
        )
        yield Label("", id="filter-error")

    def open(self, text: str) -> None:
        self.add_class("-open")
        field = self.query_one(Input)
        field.value = text
        field.focus()

    def close(self) -> None:
        self.remove_class("-open")
        self.post_message(self.Closed())

    def show_error(self, message: str) -> None:
        self.query_one("#filter-error", Label).update(message)

    def on_input_changed(self, event: Input.Changed) -> None:
        event.stop()
        self.post_message(self.Changed(event.value))

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self.close()

    def action_clear(self) -> None:
        self.query_one(Input).value = ""
        self.post_message(self.Changed(""))
        self.close()
