"""Help screen and command palette, both built from the bindings that are live now.

A mixin for PgTopApp: what `?` lists and what ctrl+p offers always match what the keys
do on the current screen and pane (read-only and replay included), because both read
`screen.active_bindings` rather than a second, hand-kept list; keys added later appear
by themselves.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
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

# Moving the cursor or scrolling: one line in the help, nothing in the palette.
MOVE_PREFIXES = ("cursor_", "scroll_", "page_")
MOVE_ACTIONS = {"first", "last"}
# Textual's focus keys move between widgets, which pgtop's screens have one of.
NOT_LISTED = {"app.focus_next", "app.focus_previous"}
# ctrl+c copies a mouse selection, else quits (the screen's binding skips to the app's):
# listed with quit. Its other copy key (super+c, macOS) is not pgtop's.
QUIT_TOO = {"screen.copy_text": "ctrl+c", "help_quit": "ctrl+c"}
RENAMED = {"command_palette": "Command palette"}  # Textual's own says "palette"
# A pane's table says "Select" for enter; what that does depends on the pane (nothing in
# the Databases pane, so it is not listed there).
ENTER_IN_PANE = {"pooler": "Pool's clients, backends"}
# Not offered by name: the palette itself, and the stand-in that says "read-only".
NOT_IN_PALETTE = {"command_palette", "read_only_notice"}
# Textual's generic palette entries worth keeping; its Quit and Keys duplicate ours.
TEXTUAL_COMMANDS = {"Theme", "Screenshot"}


@dataclass
class BoundAction:
    """One action of the current screen with every key that runs it."""

    action: str
    description: str
    node: DOMNode
    keys: list[str] = field(default_factory=list)

    @property
    def key_text(self) -> str:
        # Plain keys before chords: "q ^q ^c", "s >", "esc q" reads best short-first.
        return " ".join(sorted(self.keys, key=len))

    @property
    def is_move(self) -> bool:
        name = self.action.rpartition(".")[2]
        return name.startswith(MOVE_PREFIXES) or name in MOVE_ACTIONS


class KeysAndCommands(_Base):
    """Mixed into PgTopApp."""

    def bound_actions(self, screen: Screen[object]) -> list[BoundAction]:
        """Every enabled action of `screen` that has a description, with all its keys,
        in the order Textual resolves them (focused widget, screen, app)."""
        found: dict[str, BoundAction] = {}
        self.listing_keys_of = screen  # check_action answers for it, not for the palette
        try:
            bindings = list(screen.active_bindings.values())
        finally:
            self.listing_keys_of = None
        for active in bindings:
            b = active.binding
            action = b.action
            if action in QUIT_TOO:
                if b.key != QUIT_TOO[action]:
                    continue
                action = "quit"
            elif not b.description or action in NOT_LISTED:
                continue
            if not active.enabled:
                continue
            entry = found.setdefault(action, BoundAction(action, "", active.node))
            if action == b.action and not entry.description:
                entry.description = RENAMED.get(action, b.description)
                entry.node = active.node
                if action == "select_cursor" and screen is self.default_screen:
                    entry.description = ENTER_IN_PANE.get(self.current_pane(), "")
            key = self.get_key_display(b)
            if key not in entry.keys:
                entry.keys.append(key)
        return [entry for entry in found.values() if entry.description]

    def _active_keys(self, screen: Screen[object]) -> list[tuple[str, str, DOMNode, str]]:
        """(keys, description, node, action) for every enabled binding, once per action."""
        return [(b.key_text, b.description, b.node, b.action) for b in self.bound_actions(screen)]

    def action_help(self) -> None:
        from pgtop.ui.screens.help import HelpScreen  # loaded on first use: start-up

        bound = self.bound_actions(self.screen)
        move = " ".join(dict.fromkeys(key for b in bound if b.is_move for key in b.keys))
        keys = [(b.key_text, b.description) for b in bound if not b.is_move]
        with_filter = bool(self.check_action("open_filter", ()))
        place = self._help_place()
        self.push_screen(HelpScreen(keys, move=move, where=place, with_filter=with_filter))

    def _help_place(self) -> str:
        """What `?` was pressed on: "Sessions pane", "inspect screen"."""
        from pgtop.ui.widgets.pane_tabs import PANES

        if self.screen is self.default_screen:
            return f"{dict(PANES).get(self.current_pane(), '')} pane".lstrip()
        words = re.findall(r"[A-Z][a-z]*", type(self.screen).__name__)
        return " ".join(words).lower()

    def get_system_commands(self, screen: Screen[object]) -> Iterable[SystemCommand]:
        # Every key of the screen the palette was opened from is a command, by name.
        for b in self.bound_actions(screen):
            if not b.is_move and b.action not in NOT_IN_PALETTE:
                run = partial(b.node.run_action, b.action)
                yield SystemCommand(b.description, f"key: {b.key_text}", run)
        if self.feed.has_server:  # a recording has no connection to save
            yield SystemCommand(
                "Save current connection as…",
                "save host, port, user, database, pooler and refresh as a profile (no password)",
                self.action_save_profile,
            )
        for command in super().get_system_commands(screen):
            if command.title in TEXTUAL_COMMANDS:
                yield command
