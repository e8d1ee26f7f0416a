"""Messages the polling workers post to the app."""

from __future__ import annotations

from textual.message import Message

from pgtop.collect.errors import CollectError
from pgtop.model.records import PoolerSnapshot, Snapshot


class PostgresReady(Message):
    def __init__(self, snapshot: Snapshot) -> None:
        super().__init__()
        self.snapshot = snapshot


class PostgresFailed(Message):
    def __init__(self, error: CollectError) -> None:
        super().__init__()
        self.error = error


class PoolerReady(Message):
    def __init__(self, snapshot: PoolerSnapshot) -> None:
        super().__init__()
        self.snapshot = snapshot


class PoolerFailed(Message):
    def __init__(self, error: CollectError) -> None:
        super().__init__()
        self.error = error
