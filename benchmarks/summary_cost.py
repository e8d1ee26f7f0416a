"""What one background server costs the fleet: the summary statement against the full
poll, on a throwaway PostgreSQL with N sessions (default 1,000), measured from pgtop.

    .venv/bin/python benchmarks/summary_cost.py [--sessions 1000] [--rounds 50]

Prints the median and 95th percentile of the round trip of each (the collector's poll as
the fleet runs it), and the server's own execution time of the summary statement
(EXPLAIN ANALYZE). The sessions are idle, a tenth of them idle in a transaction; then
again with every idle session running a query between polls (the full poll re-reads
changed sessions only).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import time

import asyncpg

from pgtop.collect.monitor import postgres_collector
from pgtop.collect.postgres import load_query
from pgtop.collect.summary import SummaryCollector
from pgtop.sandbox import PostgresServer, find_postgres_bindir
from pgtop.target import ConnSettings, Target


async def timed(poll, rounds: int, before=None) -> list[float]:  # type: ignore[no-untyped-def]
    out = []
    for _ in range(rounds):
        if before is not None:
            await before()
        start = time.perf_counter()
        await poll()
        out.append((time.perf_counter() - start) * 1000)
    return out


def describe(name: str, ms: list[float]) -> str:
    p95 = statistics.quantiles(ms, n=20)[-1]
    return f"{name:<28} median {statistics.median(ms):7.2f} ms   p95 {p95:7.2f} ms"


async def main(sessions: int, rounds: int) -> None:
    found = find_postgres_bindir()
    if found is None:
        raise SystemExit("no PostgreSQL binaries found")
    with PostgresServer(found[0], max_connections=sessions + 20) as server:
        dsn = server.dsn()
        conns = []
        for i in range(0, sessions, 50):  # 50 at a time: the postmaster forks each
            batch = await asyncio.gather(
                *(asyncpg.connect(dsn) for _ in range(min(50, sessions - i)))
            )
            conns += batch
        for conn in conns[: sessions // 10]:
            await conn.execute("BEGIN; SELECT 1")
        target = Target(postgres=ConnSettings({"host": server.host, "port": str(server.port),
                        "user": server.superuser, "dbname": "postgres"}))  # fmt: skip
        collector = postgres_collector(target)
        summary = SummaryCollector(collector)
        await collector.connect()
        await summary.poll()
        await collector.poll()  # warm: the first poll reads every session afresh
        print(f"PostgreSQL {server.version}, {sessions} client sessions, {rounds} rounds each")
        print(describe("summary statement", await timed(summary.poll, rounds)))
        print(describe("full poll (sessions list)", await timed(collector.poll, rounds)))
        idle = conns[sessions // 10 :]

        async def churn() -> None:  # every idle session ran a query since the last poll
            await asyncio.gather(*(c.execute("SELECT 1") for c in idle))

        print(describe("summary, all sessions busy", await timed(summary.poll, rounds, churn)))
        print(describe("full poll, all sessions busy", await timed(collector.poll, rounds, churn)))
        conn = collector.connection
        assert conn is not None
        plans = []
        for _ in range(rounds):
            plan = await conn.fetchval(
                f"EXPLAIN (ANALYZE, FORMAT JSON) {load_query('summary')}", column=0
            )
            plans.append(json.loads(plan)[0]["Execution Time"])
        print(describe("summary, server execution", plans))
        await collector.close()
        for conn in conns:
            await conn.close()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sessions", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=50)
    args = parser.parse_args()
    asyncio.run(main(args.sessions, args.rounds))
