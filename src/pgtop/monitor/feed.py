"""A server's feed: the one writer of its MonitorState, live or from a recording.

Two kinds share this interface: `LiveFeed` (monitor/live.py) polls PostgreSQL and its
pooler; `ReplayFeed` (monitor/replay.py) plays a recording on its own clock. Each
writes its state, then tells its screen what changed with an `Update`; the screen
redraws from the state. A screen never asks which kind it has: it asks what the feed
offers (`controls`, `has_server`).
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import Any, Literal, NamedTuple, Protocol

from pgtop.collect.errors import CollectError
from pgtop.collect.postgres import PostgresCollector
from pgtop.monitor.state import MonitorState

# Runs a coroutine as a background task of the screen's owner, in a named group.
Spawn = Callable[[Coroutine[Any, Any, None], str], object]
# Tells the user about the feed itself (a damaged recording): text, severity, seconds.
Notice = Callable[[str, str, float | None], None]

# The workers' groups, one per poller or clock: a feed that stops cancels them all.
POSTGRES_GROUP, POOLER_GROUP, REPLAY_GROUP = "poll-postgres", "poll-pooler", "replay"
FEED_GROUPS = (POSTGRES_GROUP, POOLER_GROUP, REPLAY_GROUP)


class Update(NamedTuple):
    """What a feed just changed in its state (the state holds the data itself)."""

    source: Literal["postgres", "pooler", "status"]
    first: bool = False  # the server's first PostgreSQL data
    error: CollectError | None = None  # the poll that failed


class Feed(Protocol):
    state: MonitorState
    # The control methods it offers, by name (e.g. "toggle_pause", "step"): the keys
    # bound to the others have nothing to do and are left out.
    controls: frozenset[str]
    # A live server behind it: something to signal, re-poll, or save as a profile.
    has_server: bool
    # The PostgreSQL collector of a live server (pgtop's own backends, the locks of the
    # inspected one); None for a recording.
    postgres: PostgresCollector | None
    samples_host: bool  # its server may be this machine: host figures are worth a look
    address: str  # the server, as the user named it

    @property
    def paused(self) -> bool: ...

    def start(self, spawn: Spawn) -> None: ...

    async def close(self) -> None: ...

    def toggle_pause(self) -> None: ...

    def watch_locks_of(self, pid: int | None, *, now: bool = False) -> int | None:
        """Also read this backend's locks from now on (`now`: poll at once for them);
        returns the one read before."""
        ...

    def poll_now(self) -> None:
        """PostgreSQL again at once, if there is one to ask."""
        ...
