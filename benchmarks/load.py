"""The benchmark workload: many direct sessions in mixed states plus pooled clients.

    python benchmarks/load.py --port 5432 --sessions 1000 --pooled 500 --bouncer-port 6432 \
        --pids-file /tmp/pids.json

--mix picks the shape (MIXES below), per 100 direct sessions (role bench_load):
- today: one lock holder with 3 waiters behind it, then 15% long active (pg_sleep),
  10% idle in transaction, 10% "churners" (queries of 0.1-2 s every 0.5-3 s, so states
  change every tick), the rest idle. Pooled clients (role bench_app, through PgBouncer,
  transaction pooling, pool size 20) each sleep 1-9 s, then run a 0.1-0.4 s transaction,
  so about 25 want a server at once and some wait.
- churn (issue 21): one lock holder with 4 waiters, 8% long active, 9% idle in
  transaction, 26% churners running 0.2-2 s statements with 0.1-1 s pauses (about 2/3 of
  the time active): about 25% of sessions running a statement at any moment, and many rows
  change every second. Pooled clients run a 5-30 ms transaction every 0.5-2.5 s: 300 of them
  make ~200 transactions/s through PgBouncer.
- idle: every session idle (a quiet server, for profiling), no lock chains.
Direct sessions are opened concurrently, 50 at a time.

Once everything is open it writes the direct sessions' backend pids to --pids-file and
prints READY. It stops when stdin closes (the harness died or finished), on SIGTERM/SIGINT,
or after --seconds. Every loop is bounded by that deadline. The process owns all its
sessions; the harness (environment.py) owns the process.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import random
import signal
import sys
import time
from dataclasses import dataclass

import asyncpg

APPS = ("web", "batch", "reports", "etl", "api", "cron")
BATCH = 50


async def _connect(port: int, user: str, app: str, **kw: object) -> asyncpg.Connection:
    for attempt in range(5):
        try:
            return await asyncpg.connect(
                host="127.0.0.1",
                port=port,
                user=user,
                database="postgres",
                server_settings={"application_name": app},
                timeout=60,
                **kw,  # type: ignore[arg-type]
            )
        except (TimeoutError, OSError, asyncpg.PostgresError):
            if attempt == 4:
                raise
            await asyncio.sleep(0.5 * (attempt + 1))
    raise AssertionError("unreachable")


@dataclass(frozen=True)
class Mix:
    """Shares of the direct sessions and the pooled clients' rhythm, for one --mix."""

    waiters: int  # per 100 sessions, behind one lock holder (0: no lock chains)
    long_active: float
    idle_in_xact: float
    churners: float
    churn_pause: tuple[float, float]  # seconds between a churner's statements
    churn_query: tuple[float, float]  # a churner's statement, seconds
    pooled_pause: tuple[float, float]
    pooled_xact: tuple[float, float]


MIXES = {
    "today": Mix(3, 0.15, 0.10, 0.10, (0.5, 3.0), (0.1, 2.0), (1.0, 9.0), (0.1, 0.4)),
    "churn": Mix(4, 0.08, 0.09, 0.26, (0.1, 1.0), (0.2, 2.0), (0.5, 2.5), (0.005, 0.03)),
    "idle": Mix(0, 0.0, 0.0, 0.0, (1.0, 1.0), (0.1, 0.1), (1.0, 9.0), (0.1, 0.4)),
}


class Load:
    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.mix = MIXES[args.mix]
        self.deadline = time.monotonic() + args.seconds
        self.stop = asyncio.Event()
        self.rng = random.Random(args.seed)
        self.conns: list[asyncpg.Connection] = []
        self.pooled: list[asyncpg.Connection] = []
        self.tasks: list[asyncio.Task[object]] = []

    def running(self) -> bool:
        return not self.stop.is_set() and time.monotonic() < self.deadline

    async def pause(self, seconds: float) -> None:
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(self.stop.wait(), seconds)

    async def churn(self, conn: asyncpg.Connection, rng: random.Random) -> None:
        while self.running():
            await self.pause(rng.uniform(*self.mix.churn_pause))
            if not self.running():
                return
            seconds = rng.uniform(*self.mix.churn_query)
            with contextlib.suppress(asyncpg.PostgresError, OSError):
                await conn.execute(f"SELECT pg_sleep({seconds:.2f}) /* churn */")

    async def pooled_client(self, conn: asyncpg.Connection, rng: random.Random) -> None:
        while self.running():
            await self.pause(rng.uniform(*self.mix.pooled_pause))
            if not self.running():
                return
            seconds = rng.uniform(*self.mix.pooled_xact)
            sql = f"BEGIN; SELECT pg_sleep({seconds:.3f}) /* pooled */; COMMIT"
            with contextlib.suppress(asyncpg.PostgresError, OSError):
                await conn.execute(sql)

    async def open_direct(self, i: int) -> asyncpg.Connection:
        rng = random.Random(self.args.seed * 100003 + i)
        conn = await _connect(self.args.port, "bench_load", rng.choice(APPS))
        kind = rng.random()
        mix = self.mix
        chain, pos = divmod(i, 100)
        if mix.waiters and pos == 0:
            await conn.execute("BEGIN")
            await conn.execute(f"LOCK TABLE bench_lock_{chain} IN ACCESS EXCLUSIVE MODE")
        elif mix.waiters and pos <= mix.waiters:
            return conn  # waiters are started once all holders hold their lock
        elif kind < mix.long_active:
            sql = f"SELECT pg_sleep(86400) /* long {i} */"
            self.tasks.append(asyncio.create_task(conn.execute(sql)))
        elif kind < mix.long_active + mix.idle_in_xact:
            await conn.execute("BEGIN")
            await conn.execute(f"SELECT txid_current() /* idle in xact {i} */")
        elif kind < mix.long_active + mix.idle_in_xact + mix.churners:
            self.tasks.append(asyncio.create_task(self.churn(conn, rng)))
        else:
            await conn.execute(f"SELECT {i} /* idle */")
        return conn

    async def run(self) -> None:
        a = self.args
        admin = await _connect(a.port, "bench_load", "bench-setup")
        for k in range(a.sessions // 100 + 1):
            await admin.execute(f"CREATE TABLE IF NOT EXISTS bench_lock_{k} (id int)")
        await admin.close()
        for start in range(0, a.sessions, BATCH):
            idx = range(start, min(start + BATCH, a.sessions))
            self.conns.extend(await asyncio.gather(*(self.open_direct(i) for i in idx)))
        for i, conn in enumerate(self.conns):
            if self.mix.waiters and 0 < i % 100 <= self.mix.waiters:
                sql = f"SELECT count(*) FROM bench_lock_{i // 100} /* waiter */"
                self.tasks.append(asyncio.create_task(conn.execute(sql)))
        if a.pooled and a.bouncer_port:
            for start in range(0, a.pooled, BATCH):
                n = min(BATCH, a.pooled - start)
                self.pooled.extend(
                    await asyncio.gather(
                        *(
                            _connect(a.bouncer_port, "bench_app", "pooled", statement_cache_size=0)
                            for _ in range(n)
                        )
                    )
                )
            for j, conn in enumerate(self.pooled):
                rng = random.Random(a.seed * 7919 + j)
                self.tasks.append(asyncio.create_task(self.pooled_client(conn, rng)))
        pids = [c.get_server_pid() for c in self.conns]
        with open(a.pids_file, "w") as f:
            json.dump(pids, f)
        print(f"READY {len(self.conns)} direct, {len(self.pooled)} pooled", flush=True)
        await self.pause(max(0.0, self.deadline - time.monotonic()))
        self.stop.set()
        for t in self.tasks:
            t.cancel()
        for c in self.conns + self.pooled:
            c.terminate()


async def main() -> None:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--bouncer-port", type=int, default=0)
    p.add_argument("--sessions", type=int, default=1000)
    p.add_argument("--pooled", type=int, default=500)
    p.add_argument("--seconds", type=float, default=4 * 3600)
    p.add_argument("--seed", type=int, default=7)
    p.add_argument("--mix", choices=sorted(MIXES), default="today")
    p.add_argument("--pids-file", required=True)
    load = Load(p.parse_args())
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, load.stop.set)
    # Stop when the harness goes away: it holds our stdin's write end.
    fd = sys.stdin.fileno()

    def on_stdin() -> None:
        if not sys.stdin.buffer.read1(1):
            loop.remove_reader(fd)
            load.stop.set()

    loop.add_reader(fd, on_stdin)
    await load.run()


if __name__ == "__main__":
    asyncio.run(main())
