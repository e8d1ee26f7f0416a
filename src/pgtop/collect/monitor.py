"""One poll of everything a Target names: PostgreSQL, and PgBouncer when given.

The collectors of a target are built here and only here (also for the live feed,
monitor/live.py, and the head start in modes.py). The pooler is polled beside
PostgreSQL, concurrently; its failure is reported in the
snapshot (`pooler_error`) and never hides the PostgreSQL data.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

from pgtop.collect.errors import CollectError
from pgtop.collect.postgres import PostgresCollector
from pgtop.model.records import Snapshot
from pgtop.target import Target

if TYPE_CHECKING:  # the pooler's code loads only for a target with a pooler (start-up time)
    from pgtop.collect.pgbouncer import PgBouncerCollector
    from pgtop.model.pooler_records import PoolerSnapshot


def poll_timeout(target: Target) -> float:
    """How long one poll may take before it counts as failed: a few refreshes."""
    return max(5.0, target.refresh * 3)


def postgres_collector(target: Target, password: str | None = None) -> PostgresCollector:
    """The collector of the target's PostgreSQL (every caller builds it here)."""
    return PostgresCollector(
        target.postgres,
        connect_timeout=target.connect_timeout,
        poll_timeout=poll_timeout(target),
        password=password,
    )


def pooler_collector(target: Target) -> PgBouncerCollector | PoolerGroup | None:
    """The collector of the target's PgBouncer console(s), when it names any."""
    if not target.pooler_consoles:
        return None
    from pgtop.collect.pgbouncer import PgBouncerCollector

    consoles = [
        PgBouncerCollector(
            conninfo, connect_timeout=target.connect_timeout, poll_timeout=poll_timeout(target)
        )
        for conninfo in target.pooler_consoles
    ]
    if len(consoles) > 1:
        return PoolerGroup(consoles)
    return consoles[0]


class PoolerGroup:
    """Several PgBouncer processes of one server (issue 17), polled together and added up.

    A process that fails leaves the others' figures standing (the error is in
    `processes`); only when none answers does the poll fail. `processes` (this object its
    one writer, at each poll) keeps each process's own figures for the pooler pane.
    """

    def __init__(self, consoles: list[PgBouncerCollector]) -> None:
        self.consoles = consoles
        self.address = ", ".join(c.address for c in consoles)
        self.processes: tuple[PoolerSnapshot | CollectError, ...] = ()

    @property
    def connected(self) -> bool:
        return any(c.connected for c in self.consoles)

    async def poll(self) -> PoolerSnapshot:
        return await self._gathered(full=True)

    async def poll_pools(self) -> PoolerSnapshot:
        """SHOW POOLS alone on each process (the fleet's background poll)."""
        return await self._gathered(full=False)

    async def _gathered(self, *, full: bool) -> PoolerSnapshot:
        from pgtop.model.pooler_records import PoolerSnapshot
        from pgtop.model.pooler_sum import sum_poolers

        polls = (c.poll() if full else c.poll_pools() for c in self.consoles)
        results = await asyncio.gather(*polls, return_exceptions=True)
        for result in results:
            if isinstance(result, BaseException) and not isinstance(result, CollectError):
                raise result
        self.processes = tuple(r for r in results if not isinstance(r, BaseException)
                               or isinstance(r, CollectError))  # fmt: skip
        answered = [r for r in results if isinstance(r, PoolerSnapshot)]
        if not answered:
            first = next(r for r in results if isinstance(r, CollectError))
            raise first
        return sum_poolers(answered)

    async def close(self) -> None:
        for console in self.consoles:
            await console.close()


class Monitor:
    """Both servers polled together, once (--once)."""

    def __init__(self, target: Target, password: str | None = None) -> None:
        self.target = target
        self.postgres = postgres_collector(target, password)
        self.pooler = pooler_collector(target)

    async def connect(self) -> None:
        """Connect to PostgreSQL (errors raise); the pooler connects lazily in poll()."""
        await self.postgres.connect()

    async def poll(self) -> Snapshot:
        if self.pooler is None:
            return await self.postgres.poll()
        pg_result, pooler_result = await asyncio.gather(
            self.postgres.poll(), self.pooler.poll(), return_exceptions=True
        )
        if isinstance(pg_result, BaseException):
            raise pg_result
        pooler: PoolerSnapshot | None = None
        error: str | None = None
        if isinstance(pooler_result, CollectError):
            error = pooler_result.message
        elif isinstance(pooler_result, BaseException):
            raise pooler_result
        else:
            pooler = pooler_result
        return pg_result._replace(pooler=pooler, pooler_error=error)

    async def close(self) -> None:
        await self.postgres.close()
        if self.pooler is not None:
            await self.pooler.close()
