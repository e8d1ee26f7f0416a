"""Messages a server's feed posts to its server screen."""

from __future__ import annotations

from textual.message import Message

from pgtop.monitor.feed import Update


class FeedUpdated(Message):
    """The feed wrote its state: the screen redraws what changed from it."""

    def __init__(self, update: Update) -> None:
        super().__init__()
        self.update = update
