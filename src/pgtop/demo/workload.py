"""The demo's workload: a few dozen sessions that give every pgtop pane something to show.

It runs on its own asyncio loop in a daemon thread, so it never competes with the UI's
loop. Every actor (see actors.py) is a loop of short cycles; any error (a session
cancelled or terminated from pgtop, a full connection limit) just starts the next cycle a
second later, so the user can try pgtop's actions on it freely. stop() cancels everything
and drops the sockets.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import threading
from collections.abc import AsyncIterator, Callable
from typing import Any

import asyncpg

from pgtop.demo.actors import Actors, Cycle
from pgtop.demo.schema import build_databases


class Workload(Actors):
    def __init__(
        self, host: str, port: int, pooler_port: int | None = None, *, password: str
    ) -> None:
        self.host, self.port, self.pooler_port = host, port, pooler_port
        self.password = password  # every demo role's
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._conns: set[asyncpg.Connection] = set()
        self._started: set[str] = set()
        self._actors = 0
        self.ready = threading.Event()  # every actor has connected at least once
        self.error: str | None = None  # why the workload could not start, for the user
        self.on_error: Callable[[str], object] | None = None  # called from this thread

    # -- lifecycle (called from the main thread) ---------------------------------------
    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="pgtop-demo-workload", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        loop, stop = self._loop, self._stop
        if loop is not None and stop is not None and not loop.is_closed():
            with contextlib.suppress(RuntimeError):  # the loop closed in between
                loop.call_soon_threadsafe(stop.set)
        if self._thread is not None:
            self._thread.join(timeout)

    def _run(self) -> None:
        with contextlib.suppress(Exception):
            asyncio.run(self._main())

    async def _main(self) -> None:
        self._loop, self._stop = asyncio.get_running_loop(), asyncio.Event()
        # Never print on the terminal the TUI owns (e.g. "Task exception was never
        # retrieved" for a query whose connection we dropped): errors are expected here.
        self._loop.set_exception_handler(lambda loop, context: None)
        if not await self._prepare():
            return
        actors = self.cycles(pooler=bool(self.pooler_port))
        # Pooled clients come in bursts: "ready" means every direct actor has connected.
        self._actors = sum(not name.startswith("pooled") for name, _ in actors)
        tasks = [asyncio.create_task(self._forever(n, c), name=n) for n, c in actors]
        try:
            await self._stop.wait()
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            for conn in list(self._conns):
                conn.terminate()  # no goodbye round trip: the servers are going away

    async def _prepare(self) -> bool:
        """Build the databases first; give up quietly if stop() comes first."""
        dsn = {"host": self.host, "port": self.port, "user": "postgres", "timeout": 10}
        dsn["password"] = self.password
        assert self._stop is not None
        build = asyncio.create_task(build_databases(dsn))
        stop = asyncio.create_task(self._stop.wait())
        await asyncio.wait({build, stop}, return_when=asyncio.FIRST_COMPLETED)
        stop.cancel()
        if not build.done():  # stop() came first
            build.cancel()
            return False
        exc = build.exception()
        if exc is None:
            return True
        first = str(exc).strip().splitlines()
        self.error = f"the demo workload cannot start: {first[0] if first else type(exc).__name__}"
        if self.on_error is not None:
            with contextlib.suppress(Exception):
                self.on_error(self.error)
        return False

    async def _forever(self, name: str, cycle: Cycle) -> None:
        rng = random.Random(name)
        await asyncio.sleep(rng.uniform(0, 0.5))  # do not all connect in the same instant
        while True:
            try:
                await cycle(rng)
            except asyncio.CancelledError:
                raise
            except Exception:  # cancelled/terminated by the user, limit reached, ...
                await asyncio.sleep(1.0)

    @contextlib.asynccontextmanager
    async def session(
        self, db: str, user: str, app: str, *, pooled: bool = False
    ) -> AsyncIterator[asyncpg.Connection]:
        kwargs: dict[str, Any] = {"statement_cache_size": 0} if pooled else {}
        conn = await asyncpg.connect(
            host=self.host,
            port=self.pooler_port if pooled else self.port,
            user=user,
            password=self.password,
            database=db,
            timeout=10,
            server_settings={"application_name": app},
            **kwargs,
        )
        self._conns.add(conn)
        task = asyncio.current_task()
        if task is not None and not pooled:
            self._started.add(task.get_name())
            if len(self._started) >= self._actors:
                self.ready.set()
        try:
            yield conn
        finally:
            self._conns.discard(conn)
            conn.terminate()
