"""PgBouncerCollector against a real PgBouncer (session pooling, pool size 2) in front of
primary_pg: pools, stats, databases and config as SHOW reports them."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import asyncpg
import pytest

from pgtop.collect.errors import CollectError
from pgtop.collect.pgbouncer import PgBouncerCollector
from pgtop.model.pooler_records import POOLER_LIMIT_KEYS, Pool, PoolerSnapshot
from pgtop.sandbox import free_port
from support import (
    APP_USER,
    MONITOR,
    PGBOUNCER_ADMIN,
    PGBOUNCER_STATS,
    SHOP_DB,
    PgBouncerServer,
    PostgresServer,
    SessionFactory,
)


@asynccontextmanager
async def collector(conninfo: str) -> AsyncIterator[PgBouncerCollector]:
    c = PgBouncerCollector(conninfo, connect_timeout=3, poll_timeout=5)
    try:
        yield c
    finally:
        await c.close()


def pool(snap: PoolerSnapshot, database: str, user: str) -> Pool:
    found = [p for p in snap.pools if p.database == database and p.user == user]
    assert len(found) == 1, snap.pools
    return found[0]


async def poll_until(c: PgBouncerCollector, ok: object, timeout: float = 3.0) -> PoolerSnapshot:
    """Poll until `ok(snapshot)` holds (clients closed by earlier tests take a moment to
    leave PgBouncer's lists); return the last snapshot either way."""
    assert callable(ok)
    deadline = time.monotonic() + timeout
    while True:
        snap = await c.poll()
        if ok(snap) or time.monotonic() > deadline:
            return snap
        await asyncio.sleep(0.05)


async def test_waiting_clients_show_in_pools(
    pgbouncer: PgBouncerServer, primary_workload: SessionFactory
) -> None:
    load = await primary_workload.pooled_sleepers(pgbouncer, clients=4)
    await asyncio.sleep(0.2)  # let the waiting clients wait measurably
    async with collector(pgbouncer.admin_dsn()) as c:
        snap = await poll_until(c, lambda s: s.clients == 4)
        assert c.connected
    p = pool(snap, SHOP_DB, APP_USER.name)
    assert p.cl_waiting >= 2
    assert p.cl_waiting == 2 and p.cl_active == 2  # nobody else uses this pool now
    assert p.sv_active == 2  # the pool is full: default_pool_size = 2
    assert p.maxwait > 0  # seconds, including the sub-second maxwait_us part
    assert p.maxwait < 30
    assert p.pool_mode == "session"
    # The admin console is pgtop's own connection, not a pool to watch.
    assert not any(x.database == "pgbouncer" for x in snap.pools)
    assert not any(x.database == "pgbouncer" for x in snap.stats)
    assert not any(d.name == "pgbouncer" for d in snap.databases)
    # Four workload clients; pgtop's own admin connection is not counted.
    assert snap.clients == len(load.clients) == 4
    assert snap.servers >= 2
    assert snap.version.startswith("1.")
    assert snap.address == f"{pgbouncer.host}:{pgbouncer.port}"


async def test_databases_and_config(
    pgbouncer: PgBouncerServer, primary_workload: SessionFactory, primary_pg: PostgresServer
) -> None:
    await primary_workload.pooled_sleepers(pgbouncer, clients=2)
    async with collector(pgbouncer.admin_dsn()) as c:
        snap = await c.poll()
    dbs = {d.name: d for d in snap.databases}
    shop = dbs[SHOP_DB]  # created on demand from the `*` entry
    assert shop.host == primary_pg.host
    assert shop.port == primary_pg.port
    assert shop.database == SHOP_DB
    assert shop.pool_size == 2
    assert shop.reserve_pool == 0
    assert shop.current_connections is not None and shop.current_connections >= 2
    assert not shop.paused and not shop.disabled
    assert snap.config["max_client_conn"] == str(pgbouncer.max_client_conn)
    assert snap.config["default_pool_size"] == "2"
    assert snap.config["pool_mode"] == "session"
    assert set(snap.config) <= set(POOLER_LIMIT_KEYS)


async def test_stats_counters_rise(pgbouncer: PgBouncerServer) -> None:
    # Its own pool (monitor/shop), so the sleepers of other tests cannot hold it up.
    async with collector(pgbouncer.stats_dsn()) as c:
        before = {s.database: s for s in (await c.poll()).stats}
        client = await asyncpg.connect(
            pgbouncer.client_dsn(MONITOR.name, dbname=SHOP_DB), statement_cache_size=0
        )
        try:
            for _ in range(5):
                await client.fetchval("SELECT 1")
        finally:
            await client.close()
        old = before.get(SHOP_DB)
        old_q = old.total_query_count if old else 0
        old_x = old.total_xact_count if old else 0
        snap = await poll_until(
            c,
            lambda s: any(
                x.database == SHOP_DB and x.total_query_count >= old_q + 5 for x in s.stats
            ),
        )
    new = next(s for s in snap.stats if s.database == SHOP_DB)
    assert new.total_query_count >= old_q + 5
    assert new.total_xact_count >= old_x + 5
    assert new.total_received > (old.total_received if old else 0)
    assert new.total_sent > (old.total_sent if old else 0)


async def test_stats_user_may_poll(pgbouncer: PgBouncerServer) -> None:
    """stats_users get the same read-only view as admin_users."""
    async with collector(pgbouncer.stats_dsn()) as c:
        snap = await c.poll()
        again = await c.poll()
    assert snap.config["default_pool_size"] == "2"
    assert again.polled_at > snap.polled_at
    assert snap.clients >= 0


async def test_postgresql_is_not_a_console(
    pgbouncer: PgBouncerServer, primary_pg: PostgresServer
) -> None:
    c = PgBouncerCollector(primary_pg.dsn(MONITOR.name))
    with pytest.raises(CollectError) as info:
        await c.poll()
    assert info.value.kind == "usage"
    message = str(info.value)
    assert "is not a PgBouncer admin console" in message
    assert f"{primary_pg.host}:{primary_pg.port}" in message
    assert "\n" not in message and MONITOR.password not in message
    assert not c.connected


async def test_user_not_in_admin_or_stats_users(pgbouncer: PgBouncerServer) -> None:
    c = PgBouncerCollector(pgbouncer.client_dsn(APP_USER.name, dbname="pgbouncer"))
    with pytest.raises(CollectError) as info:
        await c.poll()
    message = str(info.value)
    assert info.value.kind == "auth"
    assert "not allowed" in message
    assert "stats_users or admin_users" in message
    assert "\n" not in message
    assert APP_USER.password not in message
    assert not c.connected


WRONG_PASSWORD = "Wr0ng-pgb-4417"


async def _wrong_password_error(pgbouncer: PgBouncerServer) -> CollectError:
    wrong = pgbouncer.admin_dsn().replace(PGBOUNCER_ADMIN.password, WRONG_PASSWORD)
    assert wrong != pgbouncer.admin_dsn()
    with pytest.raises(CollectError) as info:
        await PgBouncerCollector(wrong).poll()
    return info.value


async def test_wrong_password(pgbouncer: PgBouncerServer) -> None:
    error = await _wrong_password_error(pgbouncer)
    assert error.kind == "auth"
    assert "authentication failed" in str(error)
    assert WRONG_PASSWORD not in str(error) and "\n" not in str(error)


async def test_wrong_password_hint_is_not_about_admin_users(pgbouncer: PgBouncerServer) -> None:
    error = await _wrong_password_error(pgbouncer)
    assert "admin_users" not in str(error)
    assert "check the password" in str(error)


async def test_unreachable_pooler(pgbouncer: PgBouncerServer) -> None:
    port = free_port(pgbouncer.host)
    closed = pgbouncer.stats_dsn().replace(f":{pgbouncer.port}/", f":{port}/")
    assert PGBOUNCER_STATS.password in closed
    with pytest.raises(CollectError) as info:
        await PgBouncerCollector(closed, connect_timeout=2).poll()
    assert info.value.kind == "connect"
    assert f"{pgbouncer.host}:{port}" in str(info.value)
    assert "\n" not in str(info.value) and PGBOUNCER_STATS.password not in str(info.value)
