"""Findings on real servers: each kind staged with real sessions, read by the real
collectors through a MonitorState (what the live screen gets) or by `pgtop --once`, and
gone again once its cause ends. A busy but healthy pooled server yields no warning.

Thresholds are lowered where the default would make a test wait (60 s of idle in
transaction); the logic deciding them is the same.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import asyncpg
import pytest
import pytest_asyncio
from psycopg.conninfo import conninfo_to_dict

from pgtop.collect.pgbouncer import PgBouncerCollector
from pgtop.collect.postgres import PostgresCollector
from pgtop.model.findings import DEFAULT_THRESHOLDS, Finding, Thresholds, thresholds_from
from pgtop.monitor.state import MonitorState
from pgtop.target import ConnSettings
from support import (
    APP_USER,
    LIMITED_ROLE,
    MONITOR,
    SHOP_DB,
    PgBouncerServer,
    PostgresServer,
    SessionFactory,
)

FAST = thresholds_from(
    {"queue_wait_s": 0.3, "slow_query_s": 0.3, "idle_in_transaction_s": 0.5,
     "lock_wait_s": 0.3, "old_snapshot_s": 0, "old_snapshot_xids": 10}
)  # fmt: skip
POOL = f"{SHOP_DB}/{APP_USER.name}"


class Watcher:
    """pgtop's live path without a screen: the real collectors feeding a MonitorState."""

    def __init__(
        self, pg: PostgresServer, bouncer: PgBouncerServer | None, thresholds: Thresholds
    ) -> None:
        params = conninfo_to_dict(pg.dsn(MONITOR.name, dbname="postgres"))
        self.pg = PostgresCollector(ConnSettings({k: str(v) for k, v in params.items() if v}))
        self.bouncer = (
            PgBouncerCollector(bouncer.stats_dsn(), connect_timeout=3, poll_timeout=5)
            if bouncer
            else None
        )
        self.state = MonitorState(separate_pooler=bouncer is not None, thresholds=thresholds)

    async def poll(self) -> tuple[Finding, ...]:
        if self.bouncer is not None:
            pooler = await self.bouncer.poll()
            self.state.take_pooler(pooler)
        self.state.take_postgres(await self.pg.poll(), "live")
        return self.state.frame.findings

    async def until(
        self, check: Callable[[tuple[Finding, ...]], Any], what: str, polls: int = 2
    ) -> Any:
        """What `check` returns within `polls` polls half a second apart (the issue: within
        two refreshes), else fail saying what was found instead."""
        found: tuple[Finding, ...] = ()
        for i in range(polls):
            if i:
                await asyncio.sleep(0.5)
            found = await self.poll()
            value = check(found)
            if value:
                return value
        raise AssertionError(f"{what}: not within {polls} polls; found {found}")

    async def close(self) -> None:
        await self.pg.close()
        if self.bouncer is not None:
            await self.bouncer.close()


def of_kind(kind: str, pool: str | None = None) -> Callable[[tuple[Finding, ...]], Any]:
    return lambda found: next(
        (f for f in found if f.kind == kind and (pool is None or f.pool == pool)), None
    )


def none_of(kind: str) -> Callable[[tuple[Finding, ...]], bool]:
    return lambda found: all(f.kind != kind for f in found)


@pytest_asyncio.fixture
async def watch() -> AsyncIterator[Callable[..., Watcher]]:
    made: list[Watcher] = []

    def make(
        pg: PostgresServer, bouncer: PgBouncerServer | None = None, thresholds: Thresholds = FAST
    ) -> Watcher:
        made.append(Watcher(pg, bouncer, thresholds))
        return made[-1]

    yield make
    for w in made:
        await w.close()


async def pooled_client(bouncer: PgBouncerServer, name: str) -> asyncpg.Connection:
    return await asyncpg.connect(
        bouncer.client_dsn(APP_USER.name, dbname=SHOP_DB),
        server_settings={"application_name": name},
        statement_cache_size=0,
    )


async def backends_of(factory: SessionFactory, app: str, state: str) -> set[int]:
    admin = await factory.admin()
    rows = await admin.fetch(
        "SELECT pid FROM pg_stat_activity WHERE application_name = $1 AND state = $2", app, state
    )
    return {r["pid"] for r in rows}


async def queue_at(bouncer: PgBouncerServer, waiting: int, timeout: float = 10) -> None:
    deadline = time.monotonic() + timeout
    while True:
        rows = await bouncer.show("POOLS")
        row = next((r for r in rows if (r["database"], r["user"]) == (SHOP_DB, APP_USER.name)), {})
        if row.get("cl_waiting", 0) >= waiting:
            return
        assert time.monotonic() < deadline, f"no {waiting} waiting clients: {row}"
        await asyncio.sleep(0.05)


# -- pooler queue -------------------------------------------------------------------------------


async def test_pool_exhausted_by_slow_queries(
    primary_pg: PostgresServer,
    pgbouncer: PgBouncerServer,
    primary_workload: SessionFactory,
    watch: Callable[..., Watcher],
) -> None:
    load = await primary_workload.pooled_sleepers(pgbouncer, clients=4, seconds=30)
    sleepers = await backends_of(primary_workload, load.application_name, "active")
    assert len(sleepers) == pgbouncer.default_pool_size
    await asyncio.sleep(0.4)  # the queue is older than queue_wait_s
    w = watch(primary_pg, pgbouncer)
    f = await w.until(of_kind("pooler_queue", POOL), "a pooler queue finding")
    assert f.cause == "slow_queries" and set(f.pids) == sleepers
    assert f.evidence["waiting"] == 2 and f.evidence["longest_query_pid"] in sleepers
    assert "pg_sleep" in f.summary
    for conn in load.clients:  # the clients give up: nobody waits any more
        conn.terminate()
    await w.until(none_of("pooler_queue"), "the queue finding gone", polls=6)


async def test_pool_exhausted_by_clients_idle_in_transaction(
    primary_pg: PostgresServer,
    pgbouncer: PgBouncerServer,
    primary_workload: SessionFactory,
    watch: Callable[..., Watcher],
) -> None:
    name = f"{primary_workload.tag}-iit"
    holders = [await pooled_client(pgbouncer, name) for _ in range(2)]
    for conn in holders:
        await conn.execute("BEGIN")
        await conn.execute("SELECT txid_current()")
    held = await backends_of(primary_workload, name, "idle in transaction")
    assert len(held) == 2
    waiters = [await pooled_client(pgbouncer, f"{name}-w") for _ in range(2)]
    tasks = [asyncio.ensure_future(c.fetchval("SELECT 1")) for c in waiters]
    try:
        await queue_at(pgbouncer, 2)
        await asyncio.sleep(0.6)
        w = watch(primary_pg, pgbouncer)
        f = await w.until(of_kind("pooler_queue", POOL), "a pooler queue finding")
        assert f.cause == "idle_in_transaction" and set(f.pids) == held
        assert f.filter == f"state:idle-tx age>=0.3s db:{SHOP_DB} user:{APP_USER.name}"
        iit = of_kind("idle_in_transaction")(w.state.frame.findings)
        assert iit is not None and set(iit.pids) == held
        for conn in holders:  # session pooling: the servers come free when they leave
            await conn.execute("COMMIT")
            await conn.close()
        assert await asyncio.wait_for(asyncio.gather(*tasks), 10) == [1, 1]
        await w.until(none_of("pooler_queue"), "the queue finding gone", polls=4)
    finally:
        for conn in [*holders, *waiters]:
            conn.terminate()


async def test_postgres_at_its_limit_behind_the_pooler(
    make_postgres: Callable[..., PostgresServer],
    make_pgbouncer: Callable[..., PgBouncerServer],
    watch: Callable[..., Watcher],
) -> None:
    pg = make_postgres(max_connections=12)
    bouncer = make_pgbouncer(pg, default_pool_size=5, settings={"server_login_retry": 1})
    factory = SessionFactory(pg)
    w = watch(pg, bouncer)
    first = await pooled_client(bouncer, "first")
    late: list[asyncpg.Connection] = []
    tasks: list[asyncio.Future[Any]] = []
    busy: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
    busy.set_result(None)
    try:
        await first.execute("SELECT 1")  # the pool now holds one server connection
        busy = asyncio.ensure_future(first.execute("SELECT pg_sleep(30)"))
        await w.poll()  # pgtop's own connection takes its slot before the fillers
        fillers: list[int] = []
        while True:  # direct sessions until PostgreSQL refuses ordinary roles
            try:
                fillers.append(await factory.idle())
            except asyncpg.TooManyConnectionsError:
                break
        late += [await pooled_client(bouncer, f"late-{i}") for i in range(2)]
        tasks += [asyncio.ensure_future(c.fetchval("SELECT 1")) for c in late]
        await queue_at(bouncer, 2)
        await asyncio.sleep(0.4)
        f = await w.until(of_kind("pooler_queue", POOL), "a pooler queue finding")
        assert f.cause == "postgres_full", f
        assert f.evidence["postgres_free_slots"] <= 0
        full = of_kind("server_full")(w.state.frame.findings)
        assert full is not None and full.severity == "critical"
        admin = await factory.admin()
        await admin.execute("SELECT pg_terminate_backend(p) FROM unnest($1::int[]) AS p", fillers)
        assert await asyncio.wait_for(asyncio.gather(*tasks), 15) == [1, 1]
        await w.until(none_of("pooler_queue"), "the queue finding gone", polls=4)
    finally:
        for conn in [first, *late]:
            conn.terminate()
        await asyncio.gather(busy, *tasks, return_exceptions=True)
        await factory.close()


# -- PostgreSQL's own limits and storms ----------------------------------------------------------


async def test_a_role_at_its_connection_limit(
    primary_pg: PostgresServer, primary_workload: SessionFactory, watch: Callable[..., Watcher]
) -> None:
    pids = [await primary_workload.idle(user=LIMITED_ROLE.name) for _ in range(5)]
    w = watch(primary_pg)
    f = await w.until(of_kind("limit_reached"), "a limit finding")
    assert f.severity == "critical" and set(f.pids) == set(pids)
    assert f.filter == f"user:{LIMITED_ROLE.name}" and f.evidence["limit"] == 5
    admin = await primary_workload.admin()
    await admin.execute("SELECT pg_terminate_backend(p) FROM unnest($1::int[]) AS p", pids[:2])
    await w.until(none_of("limit_reached"), "the limit finding gone")


def _pgtop_once(pg: PostgresServer, home: Path) -> dict[str, Any]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PG")}
    env.update(HOME=str(home), PGTOP_CONFIG=str(home / "none.toml"),
               PGPASSWORD=MONITOR.password)  # fmt: skip
    args = ["-h", pg.host, "-p", str(pg.port), "-U", MONITOR.name, "-d", "postgres"]
    proc = subprocess.run(
        [sys.executable, "-m", "pgtop", *args, "--once", "--format", "json", "--refresh", "0.5"],
        capture_output=True, text=True, timeout=30, env=env, stdin=subprocess.DEVNULL,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


async def test_a_storm_of_new_connections_from_one_application(
    make_postgres: Callable[..., PostgresServer], tmp_path: Path
) -> None:
    pg = make_postgres(max_connections=150)
    factory = SessionFactory(pg)
    try:
        app = "storm-app"
        conns = await asyncio.gather(*(factory.connect(application_name=app) for _ in range(100)))
        doc = await asyncio.to_thread(_pgtop_once, pg, tmp_path)
        storms = [f for f in doc["findings"] if f["kind"] == "connection_storm"]
        assert len(storms) == 1, doc["findings"]
        f = storms[0]
        assert f["severity"] == "warning" and f["pool"] is None
        assert f["evidence"]["top_source_backends"] == 100
        mine = {s["pid"] for s in doc["sessions"] if s["application_name"] == app}
        assert len(mine) == 100 and mine <= set(f["pids"])
        assert "100 from app storm-app at 127.0.0.1" in f["summary"]
        # no false alarm beside it: 100 of 147 slots is not "near full"
        assert [x["kind"] for x in doc["findings"]] == ["connection_storm"]
        for conn in conns:
            await conn.close()
        doc = await asyncio.to_thread(_pgtop_once, pg, tmp_path)
        assert doc["findings"] == []
    finally:
        await factory.close()


# -- what sessions hold -------------------------------------------------------------------------


async def test_a_lock_pileup_names_its_root_blocker(
    primary_pg: PostgresServer, primary_workload: SessionFactory, watch: Callable[..., Watcher]
) -> None:
    chain = await primary_workload.lock_chain(waiters=3)
    await asyncio.sleep(0.4)
    w = watch(primary_pg)
    f = await w.until(of_kind("lock_pileup"), "a lock pile-up finding")
    assert f.pids[0] == chain.holder and set(f.pids) == {chain.holder, *chain.waiters}
    assert f.evidence["waiters"] == 3
    admin = await primary_workload.admin()
    await admin.execute("SELECT pg_terminate_backend($1)", chain.holder)
    await w.until(none_of("lock_pileup"), "the pile-up finding gone", polls=4)


async def test_idle_in_transaction_holding_the_oldest_xmin(
    primary_pg: PostgresServer, primary_workload: SessionFactory, watch: Callable[..., Watcher]
) -> None:
    conn = await primary_workload.connect(application_name=f"{primary_workload.tag}-snap")
    pid = await conn.fetchval("SELECT pg_backend_pid()")
    await conn.execute("BEGIN ISOLATION LEVEL REPEATABLE READ")
    await conn.fetchval("SELECT count(*) FROM pg_class")  # takes the snapshot it keeps
    admin = await primary_workload.admin()
    for _ in range(20):  # transactions after it: what vacuum now cannot clean up after
        await admin.fetchval("SELECT txid_current()")
    await asyncio.sleep(0.6)
    w = watch(primary_pg)
    f = await w.until(of_kind("old_snapshot"), "an old snapshot finding")
    assert f.pids == (pid,) and f.evidence["xid_age"] >= 20
    assert f.filter == f"pid:{pid}"
    iit = of_kind("idle_in_transaction")(w.state.frame.findings)
    assert iit is not None and pid in iit.pids
    await conn.execute("COMMIT")
    await w.until(none_of("old_snapshot"), "the old snapshot finding gone")


# -- no false alarm -----------------------------------------------------------------------------


async def test_a_busy_healthy_server_behind_the_pooler_has_no_warning(
    primary_pg: PostgresServer,
    make_pgbouncer: Callable[..., PgBouncerServer],
    watch: Callable[..., Watcher],
) -> None:
    pgbench = primary_pg.bindir / "pgbench"
    if not pgbench.exists():
        pytest.fail(f"{pgbench} missing: the PostgreSQL install lacks pgbench")
    bouncer = make_pgbouncer(primary_pg, pool_mode="transaction", default_pool_size=10)
    env = {**os.environ, "PGPASSWORD": APP_USER.password}
    base = ["-h", bouncer.host, "-p", str(bouncer.port), "-U", APP_USER.name, SHOP_DB]
    init = [str(pgbench), "-i", "-q", "-s", "1", "-h", primary_pg.host, "-p", str(primary_pg.port),
            "-U", APP_USER.name, SHOP_DB]  # fmt: skip
    await asyncio.to_thread(subprocess.run, init, env=env, check=True, capture_output=True)
    bench = await asyncio.create_subprocess_exec(
        str(pgbench), "-n", "-c", "8", "-j", "2", "-T", "5", *base, env=env,
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )  # fmt: skip
    try:
        w = watch(primary_pg, bouncer, DEFAULT_THRESHOLDS)
        await asyncio.sleep(1.0)
        seen: list[Finding] = []
        busy = 0
        for _ in range(6):
            found = await w.poll()
            seen += [f for f in found if f.severity != "info"]
            snap = w.state.frame.snapshot
            assert snap is not None
            busy = max(busy, sum(1 for s in snap.sessions if s.pooler is not None))
            await asyncio.sleep(0.5)
        assert busy >= 4, "pgbench did not reach the pool"
        assert seen == []
    finally:
        if bench.returncode is None:
            bench.terminate()
        await bench.wait()
