"""Typing a filter without moving focus.

Opening an Input would move focus, make the footer rebuild its keys and relayout the
pane: ~100 ms per `/` at 1,000 sessions. Instead, while the prompt is open the sessions
table hands its keys here and the text is drawn in the header's fourth line. The
sessions pane owns the one FilterPrompt and is its only writer.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Outcome = Literal["changed", "closed", "cleared", "refused"]
NOT_APPLIED = "not applied: "


@dataclass
class FilterPrompt:
    open: bool = False
    text: str = ""
    error: str = ""

    def start(self, text: str) -> None:
        """Open on the filter in force, followed by a space: what is typed next is a new
        term, not the tail of the last one (`dur>1s` then `-user:x` is two terms)."""
        self.open, self.text, self.error = True, f"{text} " if text else "", ""

    def key(self, key: str, character: str | None, printable: bool) -> Outcome | None:
        """What a key did to the prompt, or None when it is not the prompt's to handle."""
        if not self.open:
            return None
        if key == "escape":
            self.open, self.text, self.error = False, "", ""
            return "cleared"
        if key == "enter":
            if self.error:  # an invalid filter is never applied: stay open, say so
                if not self.error.startswith(NOT_APPLIED):
                    self.error = NOT_APPLIED + self.error
                return "refused"
            self.open = False
            return "closed"
        if key == "backspace":
            self.text = self.text[:-1]
            return "changed"
        if key in ("ctrl+u", "ctrl+w"):
            # ctrl+w drops the last word and keeps the space before it, as readline does.
            head = "" if key == "ctrl+u" else self.text.rstrip().rpartition(" ")[0]
            self.text = f"{head} " if head else ""
            return "changed"
        if printable and character:
            self.text += character
            return "changed"
        return None  # arrows, page keys: move the cursor while typing

    def paste(self, text: str) -> Outcome | None:
        if not self.open:
            return None
        self.text += " ".join(text.split())  # one line: newlines from a paste become spaces
        return "changed"
