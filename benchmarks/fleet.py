"""The fleet's cost, headless (a scaffold: the fleet screen and its keys come later).

    .venv/bin/python benchmarks/fleet.py [--profiles 50] [--seconds 60] [--refresh 2]

Starts a throwaway PostgreSQL (pg_stat_statements preloaded) and, when PgBouncer is
installed, one PgBouncer in front of it; then runs `pgtop.monitor.fleet.Fleet` in this
process over `--profiles` members that all name that server (each its own connection,
as fifty profiles would be), none focused. Measured over the window:

- client CPU s/min: this process's user+sys (the fleet's workers, no UI);
- statements per tick per background server: pg_stat_statements calls of the fleet's
  role divided by members x ticks (target: at most 1); the pooler console gets SHOW POOLS
  alone per tick off screen (not counted here: PgBouncer keeps no such statistic);
- peak memory: this process's max RSS.

Issue 17's targets: CPU <= 3 s/min, <= 1 statement per tick per background server,
peak memory < 120 MB (with the UI; here without it). Key latency needs the screen.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import resource
import time
from collections.abc import Coroutine
from typing import Any

import asyncpg

from pgtop.monitor.fleet import Fleet
from pgtop.sandbox import PgBouncerServer, PostgresServer, find_pgbouncer, find_postgres_bindir
from pgtop.target import ConnSettings, Target

ROLE = "fleet_bench"
PASSWORD = "fleet-bench-pw"


def cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


async def run(profiles: int, seconds: float, refresh: float) -> dict[str, Any]:
    found = find_postgres_bindir()
    if found is None:
        raise SystemExit("no PostgreSQL binaries found")
    with PostgresServer(
        found[0], password="bench-su-pw", max_connections=profiles + 30,
        preload=["pg_stat_statements"],
    ) as server:  # fmt: skip
        admin = await asyncpg.connect(server.dsn())
        await admin.execute(f"CREATE ROLE {ROLE} LOGIN SUPERUSER PASSWORD '{PASSWORD}'")
        await admin.execute("CREATE EXTENSION pg_stat_statements")
        bouncer = None
        if find_pgbouncer() is not None:
            bouncer = PgBouncerServer(server, users={ROLE: PASSWORD}, admin_users=[ROLE])
            bouncer.setup()
        try:
            params = {"host": server.host, "port": str(server.port), "user": ROLE,
                      "password": PASSWORD, "dbname": "postgres"}  # fmt: skip
            pooler = bouncer.admin_uri(ROLE) if bouncer else None
            target = Target(postgres=ConnSettings(params), pooler=pooler, refresh=refresh)
            fleet = Fleet([(f"p{i:02d}", target) for i in range(profiles)])
            tasks: list[asyncio.Task[None]] = []

            def spawn(coro: Coroutine[Any, Any, None], group: str) -> object:
                tasks.append(asyncio.ensure_future(coro))
                return tasks[-1]

            fleet.start(spawn)
            deadline = time.monotonic() + 30
            while any(m.status.frames == 0 for m in fleet.members):
                if time.monotonic() > deadline:
                    raise SystemExit("the fleet did not come up within 30 s")
                await asyncio.sleep(0.2)
            await admin.execute("SELECT pg_stat_statements_reset()")
            frames0 = sum(m.status.frames for m in fleet.members)
            cpu0, t0 = cpu_seconds(), time.monotonic()
            await asyncio.sleep(seconds)
            cpu1, t1 = cpu_seconds(), time.monotonic()
            frames = sum(m.status.frames for m in fleet.members) - frames0
            calls = await admin.fetchval(
                "SELECT coalesce(sum(calls), 0) FROM pg_stat_statements s"
                " JOIN pg_roles r ON r.oid = s.userid WHERE r.rolname = $1",
                ROLE,
            )
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            await fleet.close()
        finally:
            await admin.close()
            if bouncer is not None:
                bouncer.cleanup()
    minutes = (t1 - t0) / 60
    return {
        "profiles": profiles,
        "refresh_s": refresh,
        "window_s": round(t1 - t0, 1),
        "pooler": bouncer is not None,
        "client_cpu_s_per_min": round((cpu1 - cpu0) / minutes, 2),
        "ticks": frames,
        "statements_per_tick_per_server": round(int(calls) / max(1, frames), 3),
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
    }


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--profiles", type=int, default=50)
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--refresh", type=float, default=2.0)
    args = parser.parse_args()
    print(json.dumps(asyncio.run(run(args.profiles, args.seconds, args.refresh)), indent=2))
