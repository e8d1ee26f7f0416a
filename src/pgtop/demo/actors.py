"""The workload's actors: each method is one cycle of one kind of client.

Workload runs every cycle in a loop, on its own connections; a cycle may fail at any point
(the user terminated its session from pgtop) and simply runs again. Query texts look like
an application's, with pg_sleep inside so that they stay on screen long enough to read.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
from collections.abc import Awaitable, Callable
from typing import Any

import asyncpg

from pgtop.demo.schema import BATCH_WORKERS, INVOICE_WORKERS

Cycle = Callable[[random.Random], Awaitable[None]]

SLOW_LOOKUP = (
    "WITH io AS (SELECT pg_sleep($1)) SELECT o.id, o.amount, o.created FROM orders o, io"
    " WHERE o.account_id = $2 ORDER BY o.created DESC LIMIT 20"
)
TOP_CUSTOMERS = (
    "SELECT a.owner, sum(o.amount) AS spent FROM orders o JOIN accounts a ON a.id ="
    " o.account_id GROUP BY a.owner ORDER BY spent DESC LIMIT 10"
)
LONG_REPORT = (
    "WITH scan AS (SELECT pg_sleep($1)) SELECT kind, date_trunc('hour', at) AS hour,"
    " count(*), avg(value) FROM events, scan GROUP BY 1, 2 ORDER BY 2 DESC LIMIT 48"
)
ROLLUP = (
    "INSERT INTO daily_rollup SELECT at::date, kind, count(*), sum(value)"
    " FROM events, (SELECT pg_sleep($1)) AS throttle GROUP BY 1, 2"
)
DASHBOARD = "SELECT day, sum(total) FROM daily_rollup GROUP BY day ORDER BY day DESC LIMIT 7"


async def _settle(*tasks: asyncio.Task[Any]) -> None:
    """Cancel a cycle's helper tasks and collect their outcome, so none is left running
    on a connection that is about to be dropped."""
    for task in tasks:
        task.cancel()
    await asyncio.wait(tasks, timeout=2)


class Actors:
    """The cycles, and which of them run how many times (see cycles())."""

    def session(
        self, db: str, user: str, app: str, *, pooled: bool = False
    ) -> contextlib.AbstractAsyncContextManager[asyncpg.Connection]:
        raise NotImplementedError  # Workload connects, counts and drops the sessions

    def cycles(self, pooler: bool) -> list[tuple[str, Cycle]]:
        """(name, cycle) pairs; the pooled ones only when PgBouncer runs."""
        actors: list[tuple[str, Cycle]] = [
            *((f"web{i}", self.web_request) for i in range(6)),
            *((f"idle{i}", self.idle_client) for i in range(4)),
            *((f"admin{i}", self.forgotten_transaction) for i in range(2)),
            ("row-locks", self.row_lock_chain),
            ("table-lock", self.table_lock_chain),
            *((f"report{i}", self.report) for i in range(4)),
            *((f"batch{i}", self.batch) for i in range(BATCH_WORKERS)),
            *((f"invoice{i}", self.invoice) for i in range(INVOICE_WORKERS)),
        ]
        if pooler:
            actors += [("pooled-shop", self.shop_bursts), ("pooled-bi", self.bi_bursts)]
        return actors

    # -- shop: app_user ----------------------------------------------------------------
    async def web_request(self, rng: random.Random) -> None:
        """Short-lived sessions: connect, a handful of requests, leave."""
        async with self.session("shop", "app_user", "web-frontend") as conn:
            for _ in range(rng.randint(3, 12)):
                if rng.random() < 0.6:
                    await conn.fetch(SLOW_LOOKUP, rng.uniform(0.2, 4.0), rng.randint(1, 1000))
                else:
                    await conn.fetch(TOP_CUSTOMERS)
                await asyncio.sleep(rng.uniform(0.3, 2.5))
        await asyncio.sleep(rng.uniform(0.5, 3.0))

    async def idle_client(self, rng: random.Random) -> None:
        """An application pool's spare connections: connected, doing nothing."""
        async with self.session("shop", "app_user", "checkout-service") as conn:
            await conn.execute("SELECT 1")
            await asyncio.sleep(rng.uniform(15, 45))

    async def forgotten_transaction(self, rng: random.Random) -> None:
        """Someone at a psql prompt who locked a row and went for coffee."""
        async with self.session("shop", "app_user", "psql") as conn:
            await conn.execute("BEGIN")
            await conn.fetch(
                "SELECT * FROM accounts WHERE id = $1 FOR UPDATE", rng.randint(100, 999)
            )
            await asyncio.sleep(rng.uniform(6, 20))
            await conn.execute("ROLLBACK")
            await asyncio.sleep(rng.uniform(1, 4))

    async def row_lock_chain(self, rng: random.Random) -> None:
        """holder (idle in transaction) <- w1 <- w2, and holder <- w3: a two-level tree."""
        app = "checkout-service"
        async with contextlib.AsyncExitStack() as stack:
            holder, w1, w2, w3 = [
                await stack.enter_async_context(self.session("shop", "app_user", app))
                for _ in range(4)
            ]
            await holder.execute("BEGIN")
            await holder.execute("UPDATE accounts SET balance = balance - 10 WHERE id = 1")
            update = "UPDATE accounts SET balance = balance + $1 WHERE id = $2"

            async def waiter(conn: asyncpg.Connection, rows: tuple[int, ...]) -> None:
                await conn.execute("BEGIN")
                for row in rows:
                    await conn.execute(update, rng.randint(1, 9), row)
                await conn.execute("COMMIT")

            first = asyncio.create_task(waiter(w1, (2, 1)))  # holds row 2, waits for row 1
            await asyncio.sleep(0.3)
            rest = [asyncio.create_task(waiter(w2, (2,))), asyncio.create_task(waiter(w3, (1,)))]
            try:
                await asyncio.sleep(rng.uniform(10, 16))
                await holder.execute("COMMIT")
                await asyncio.wait_for(asyncio.gather(first, *rest), timeout=15)
            finally:
                await _settle(first, *rest)
        await asyncio.sleep(rng.uniform(0.5, 1.5))

    # -- analytics: report_user, and batch_user's nightly rollup -----------------------
    async def table_lock_chain(self, rng: random.Random) -> None:
        """A rollup holds ACCESS EXCLUSIVE on a table while dashboards queue behind it."""
        async with contextlib.AsyncExitStack() as stack:
            holder = await stack.enter_async_context(
                self.session("analytics", "batch_user", "nightly-rollup")
            )
            dashboards = [
                await stack.enter_async_context(
                    self.session("analytics", "report_user", "dashboard")
                )
                for _ in range(3)
            ]
            await asyncio.sleep(rng.uniform(3, 6))  # out of step with the row-lock chain
            await holder.execute("BEGIN")
            await holder.execute("TRUNCATE daily_rollup")
            hold = asyncio.create_task(holder.execute(ROLLUP, rng.uniform(8, 12)))
            await asyncio.sleep(0.3)
            waits = [asyncio.create_task(d.fetch(DASHBOARD)) for d in dashboards]
            try:
                await hold
                await holder.execute("COMMIT")
                await asyncio.wait_for(asyncio.gather(*waits), timeout=15)
            finally:
                await _settle(hold, *waits)

    async def report(self, rng: random.Random) -> None:
        """Long analytical queries with pauses; reconnects now and then."""
        async with self.session("analytics", "report_user", "report-runner") as conn:
            for _ in range(rng.randint(2, 5)):
                await conn.fetch(LONG_REPORT, rng.uniform(3, 20))
                await asyncio.sleep(rng.uniform(1, 6))

    # -- billing: the limited database and role ----------------------------------------
    async def batch(self, rng: random.Random) -> None:
        """batch_user's steady sessions: they keep the role near its connection limit."""
        async with self.session("billing", "batch_user", "billing-batch") as conn:
            while True:
                if rng.random() < 0.5:
                    await conn.execute("SELECT pg_sleep($1)", rng.uniform(1, 6))
                else:
                    await conn.execute(
                        "UPDATE invoices SET amount = amount WHERE id % 50 = $1", rng.randint(0, 49)
                    )
                await asyncio.sleep(rng.uniform(1, 4))

    async def invoice(self, rng: random.Random) -> None:
        """Holds a transaction open across a slow 'external call': idle in transaction."""
        async with self.session("billing", "app_user", "invoice-worker") as conn:
            while True:
                await conn.execute("BEGIN")
                await conn.execute(
                    "UPDATE invoices SET status = 'sending' WHERE id = $1", rng.randint(1, 20000)
                )
                await asyncio.sleep(rng.uniform(3, 12))
                await conn.execute("COMMIT")
                await asyncio.sleep(rng.uniform(1, 3))

    # -- through PgBouncer: bursts bigger than the pools --------------------------------
    async def _burst(self, db: str, user: str, app: str, n: int, queries: int, secs: float) -> None:
        async def client(rng: random.Random) -> None:
            with contextlib.suppress(Exception):
                async with self.session(db, user, app, pooled=True) as conn:
                    for _ in range(queries):
                        # No arguments: simple query protocol, safe in transaction pooling.
                        await conn.execute(f"SELECT pg_sleep({rng.uniform(0.5, secs):.2f})")

        rng = random.Random()
        await asyncio.gather(*(client(random.Random(rng.random())) for _ in range(n)))

    async def shop_bursts(self, rng: random.Random) -> None:
        """Transaction pooling, pool of 2: eight clients at once queue for a server."""
        await self._burst("shop", "app_user", "api-pooled", rng.randint(6, 10), 3, 1.0)
        await asyncio.sleep(rng.uniform(0.5, 2))

    async def bi_bursts(self, rng: random.Random) -> None:
        """Session pooling, pool of 2: every client beyond two waits for a whole session."""
        await self._burst("analytics", "report_user", "bi-tool", rng.randint(3, 5), 2, 1.5)
        await asyncio.sleep(rng.uniform(1, 3))
