"""What `?` lists and what ctrl+p offers: functions over a screen's active bindings.

Both always match what the keys do on that screen and pane (read-only and replay
included), because both read `screen.active_bindings` rather than a second, hand-kept
list; keys added later appear by themselves. Nothing here holds state.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from functools import partial

from textual.app import App, SystemCommand
from textual.dom import DOMNode
from textual.screen import Screen

from pgtop.ui.key_order import in_key_order
from pgtop.ui.server_screen import ServerScreen
from pgtop.ui.widgets.tab_line import PANES

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


@dataclass
class BoundAction:
    """One action of a screen with every key that runs it."""

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


def bound_actions(app: App[object], screen: Screen[object]) -> list[BoundAction]:
    """Every enabled action of `screen` that has a description, with all its keys, in
    pgtop's key order (key_order.py)."""
    found: dict[str, BoundAction] = {}
    if isinstance(screen, ServerScreen):
        bindings = screen.listed_bindings()
    else:
        bindings = in_key_order(screen.active_bindings)
    for active in bindings.values():
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
            if action == "select_cursor" and isinstance(screen, ServerScreen):
                entry.description = ENTER_IN_PANE.get(screen.current_pane(), "")
        key = app.get_key_display(b)
        if key not in entry.keys:
            entry.keys.append(key)
    return [entry for entry in found.values() if entry.description]


def help_place(screen: Screen[object]) -> str:
    """What `?` was pressed on: "Sessions pane", "inspect screen"."""
    if isinstance(screen, ServerScreen):
        return f"{dict(PANES).get(screen.current_pane(), '')} pane".lstrip()
    words = re.findall(r"[A-Z][a-z]*", type(screen).__name__)
    return " ".join(words).lower()


def key_commands(app: App[object], screen: Screen[object]) -> Iterator[SystemCommand]:
    """Every key of `screen` as a palette command, by name."""
    for b in bound_actions(app, screen):
        if not b.is_move and b.action not in NOT_IN_PALETTE:
            run: Callable[[], object] = partial(b.node.run_action, b.action)
            yield SystemCommand(b.description, f"key: {b.key_text}", run)
