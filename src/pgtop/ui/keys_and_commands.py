"""Help screen and command palette, both built from the bindings that are live now.

A mixin for PgTopApp: what `?` lists and what ctrl+p offers always match what the keys
do on the current screen (read-only and replay included), because both read
`screen.active_bindings` rather than a second, hand-kept list.
"""

from __future__ import annotations

from collections.abc import Iterable
from functools import partial
from typing import TYPE_CHECKING

from textual.app import SystemCommand
from textual.dom import DOMNode
from textual.screen import Screen

if TYPE_CHECKING:
    from pgtop.ui.app import PgTopApp

    _Base = PgTopApp
else:
    _Base = object


class KeysAndCommands(_Base):
    """Mixed into PgTopApp."""

    def _active_keys(self, screen: Screen[object]) -> list[tuple[str, str, DOMNode, str]]:
        """(key, description, node, action) for every enabled binding, once per action."""
        seen: set[str] = set()
        keys: list[tuple[str, str, DOMNode, str]] = []
        for active in screen.active_bindings.values():
            b = active.binding
            if not b.description or not active.enabled or b.action in seen:
                continue
            seen.add(b.action)
            keys.append((self.get_key_display(b), b.description, active.node, b.action))
        return keys

    def action_help(self) -> None:
        from pgtop.ui.screens.help import HelpScreen  # loaded on first use: start-up

        keys = [(key, description) for key, description, _, _ in self._active_keys(self.screen)]
        self.push_screen(HelpScreen(keys))

    def get_system_commands(self, screen: Screen[object]) -> Iterable[SystemCommand]:
        yield from super().get_system_commands(screen)
        if self.replay is None:  # a recording has no connection to save
            yield SystemCommand(
                "Save current connection as…",
                "save host, port, user, database, pooler and refresh as a profile (no password)",
                self.action_save_profile,
            )
        # Every key is also a palette command, so nothing needs remembering.
        for key, description, node, action in self._active_keys(screen):
            yield SystemCommand(description, f"key: {key}", partial(node.run_action, action))
