"""Who holds the terminal's alternate screen at start: the early screen (early_screen.py)
from when it is drawn until Textual's driver starts (esc_driver.py), then Textual.

The terminal is the process's, and so is the one fact kept here: whether the early
screen is up and Textual has not taken the terminal over. `restore` then leaves the
terminal as it was found (pgtop failed, or was interrupted, before the app started).
"""

from __future__ import annotations

import sys
from typing import TextIO

ENTER = "\x1b[?1049h\x1b[?25l\x1b[?7l\x1b[H\x1b[2J"  # alternate screen, no cursor, no wrap
LEAVE = "\x1b[2J\x1b[?7h\x1b[?25h\x1b[?1049l"

_held_early = False  # the early screen is up and Textual has not taken the terminal


def early_screen_shown() -> None:
    """The early screen entered the alternate screen and drew itself."""
    global _held_early
    _held_early = True


def taken_over() -> None:
    """Textual's driver has the terminal now (it enters the alternate screen, where the
    early screen is: not cleared, repainted in place)."""
    global _held_early
    _held_early = False


def restore(terminal: TextIO | None = None) -> None:
    """Leave the terminal as found if the early screen is up and Textual never took it.
    Only then: after Textual left the alternate screen, another leave would move the
    cursor back to where the start saved it."""
    global _held_early
    if not _held_early:
        return
    _held_early = False
    terminal = terminal or sys.__stderr__
    if terminal is not None:
        try:
            terminal.write(LEAVE)
            terminal.flush()
        except OSError:
            pass
