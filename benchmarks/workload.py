"""Open many sessions in mixed states against a server, for benchmarks and trying pgtop by hand.

    python benchmarks/workload.py postgresql://postgres@127.0.0.1:5432/postgres --sessions 300

Holds them until interrupted (or --seconds): idle, active pg_sleep, idle in transaction,
and lock chains (one holder, waiters behind it). Every loop here is bounded.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import random

import asyncpg

APPS = ("web", "batch", "reports", "[bold red]x", "worker\x1b[31m")


async def open_sessions(dsn: str, n: int, seed: int = 7) -> list[asyncpg.Connection]:
    rng = random.Random(seed)
    admin = await asyncpg.connect(dsn)
    for k in range(n // 100 + 1):  # one table per lock chain, so holders never queue
        await admin.execute(f"CREATE TABLE IF NOT EXISTS pgtop_workload_lock_{k} (id int)")
    await admin.close()
    conns: list[asyncpg.Connection] = []
    tasks: list[asyncio.Task[object]] = []
    holder: asyncpg.Connection | None = None
    for i in range(n):
        app = rng.choice(APPS)
        conn = await asyncpg.connect(dsn, server_settings={"application_name": app})
        conns.append(conn)
        kind = rng.random()
        if i % 100 == 0:  # a lock holder every 100 sessions
            await conn.execute("BEGIN")
            await conn.execute(
                f"LOCK TABLE pgtop_workload_lock_{i // 100} IN ACCESS EXCLUSIVE MODE"
            )
            holder = conn
        elif holder is not None and i % 100 < 4:
            sql = f"SELECT count(*) FROM pgtop_workload_lock_{i // 100}"
            tasks.append(asyncio.create_task(conn.execute(sql)))
        elif kind < 0.15:
            tasks.append(asyncio.create_task(conn.execute("SELECT pg_sleep(3600)")))
        elif kind < 0.25:
            await conn.execute("BEGIN")
            await conn.execute("SELECT txid_current()")
        else:
            await conn.execute(f"SELECT {i} /* idle now */")
    return conns


async def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("dsn")
    p.add_argument("--sessions", type=int, default=300)
    p.add_argument("--seconds", type=float, default=3600)
    args = p.parse_args()
    conns = await open_sessions(args.dsn, args.sessions)
    print(f"{len(conns)} sessions open", flush=True)
    with contextlib.suppress(asyncio.CancelledError):
        await asyncio.sleep(args.seconds)
    for c in conns:
        c.terminate()


if __name__ == "__main__":
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(main())
