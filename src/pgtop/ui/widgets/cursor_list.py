"""A focusable list drawn line by line, with a cursor the keys move: what the sessions
table and the fleet table share. Each subclass owns its lines and `_cursor_index` (it
is their one writer, through its own `_set_cursor`) and says how many lines it has.
"""

from __future__ import annotations

from collections.abc import Callable

from textual import events
from textual.binding import Binding
from textual.scroll_view import ScrollView


class CursorList(ScrollView, can_focus=True):
    BINDINGS = [
        Binding("up", "cursor_up", "Up", show=False),
        Binding("down", "cursor_down", "Down", show=False),
        Binding("pageup", "page_up", "Page up", show=False),
        Binding("pagedown", "page_down", "Page down", show=False),
        Binding("home", "first", "First", show=False),
        Binding("end", "last", "Last", show=False),
    ]

    # Sees each key first (the filter prompt drawn in the header): True means it took it.
    key_handler: Callable[[events.Key], bool] | None = None
    _cursor_index: int = 0

    def _line_count(self) -> int:
        raise NotImplementedError

    def _set_cursor(self, index: int) -> None:
        raise NotImplementedError

    def action_cursor_up(self) -> None:
        self._set_cursor(self._cursor_index - 1)

    def action_cursor_down(self) -> None:
        self._set_cursor(self._cursor_index + 1)

    def action_page_up(self) -> None:
        self._set_cursor(self._cursor_index - max(1, self.size.height - 2))

    def action_page_down(self) -> None:
        self._set_cursor(self._cursor_index + max(1, self.size.height - 2))

    def action_first(self) -> None:
        self._set_cursor(0)

    def action_last(self) -> None:
        self._set_cursor(self._line_count() - 1)

    def on_key(self, event: events.Key) -> None:
        if self.key_handler is not None and self.key_handler(event):
            event.prevent_default()  # the prompt took it: no binding fires
            event.stop()
