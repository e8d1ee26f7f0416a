"""The polling loop: poll, report, sleep until the next tick; reconnect on failure.

One Poller runs per server (PostgreSQL, PgBouncer) so a stuck pooler never delays the
PostgreSQL data. It never raises: results and failures go to the callbacks. While the
server is down it retries once per refresh interval, so live data returns within one or
two refreshes of the server accepting connections again, without a busy loop.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from typing import Generic, TypeVar

from pgtop.collect.errors import CollectError

T = TypeVar("T")

MIN_INTERVAL = 0.5
MAX_INTERVAL = 60.0


class Poller(Generic[T]):
    def __init__(
        self,
        poll: Callable[[], Awaitable[T]],
        *,
        interval: float,
        on_result: Callable[[T], None],
        on_error: Callable[[CollectError], None],
        on_polling: Callable[[], None] | None = None,
        first: Awaitable[T] | None = None,
        retry_delay: Callable[[int], float] | None = None,
    ) -> None:
        """`first`: a poll already under way (started while the UI was loading);
        `retry_delay`: seconds to wait after the n-th failure in a row (the fleet backs
        off from a server that is down), instead of one interval."""
        self._poll = poll
        self._first = first
        self.interval = interval
        self._on_result = on_result
        self._on_error = on_error
        self._on_polling = on_polling
        self._retry_delay = retry_delay
        self._wake = asyncio.Event()
        self._running = asyncio.Event()
        self._running.set()
        self.failures = 0

    @property
    def paused(self) -> bool:
        return not self._running.is_set()

    def pause(self) -> None:
        self._running.clear()

    def resume(self) -> None:
        self._running.set()
        self._wake.set()

    def poll_now(self) -> None:
        self._wake.set()

    def set_interval(self, seconds: float) -> float:
        self.interval = min(MAX_INTERVAL, max(MIN_INTERVAL, seconds))
        self._wake.set()
        return self.interval

    async def run(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            await self._running.wait()
            started = loop.time()
            if self._on_polling is not None:
                self._on_polling()
            pending, self._first = self._first, None
            try:
                result = await (pending if pending is not None else self._poll())
            except CollectError as exc:
                self.failures += 1
                self._on_error(exc)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # never let a surprise end the loop
                self.failures += 1
                self._on_error(CollectError(f"{type(exc).__name__}: {exc}", "server"))
            else:
                self.failures = 0
                self._on_result(result)
            # Sleep until the next tick, counted from the poll's start, unless woken early.
            wait = self.interval
            if self.failures and self._retry_delay is not None:
                wait = max(wait, self._retry_delay(self.failures))
            delay = max(0.05, wait - (loop.time() - started))
            self._wake.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), delay)
