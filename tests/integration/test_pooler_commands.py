"""PgBouncer admin commands (collect/pooler_commands.py) against real PgBouncers in front of
primary_pg: what each does to the pool's clients, as the clients and SHOW see it."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

import asyncpg
import psycopg
import pytest

from pgtop.collect.pooler_commands import kills_one_client, run_command, run_everywhere, summary
from support import APP_USER, SHOP_DB, PgBouncerServer, PostgresServer


async def database_row(bouncer: PgBouncerServer, name: str = SHOP_DB) -> dict[str, object]:
    """Its SHOW DATABASES row; {} before a client made the `*` entry register it."""
    return next((r for r in await bouncer.show("DATABASES") if r["name"] == name), {})


async def eventually(check: Callable[[], object], what: str, timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if asyncio.iscoroutine(result):
            result = await result
        if result:
            return
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.05)


async def client(bouncer: PgBouncerServer) -> asyncpg.Connection:
    return await asyncpg.connect(
        bouncer.client_dsn(APP_USER.name), statement_cache_size=0, timeout=5
    )


@pytest.fixture
def txn_bouncer(
    primary_pg: PostgresServer, make_pgbouncer: Callable[..., PgBouncerServer]
) -> PgBouncerServer:
    return make_pgbouncer(primary_pg, pool_mode="transaction")


async def test_pause_lets_a_running_transaction_finish_and_holds_new_queries(
    txn_bouncer: PgBouncerServer,
) -> None:
    busy = await client(txn_bouncer)
    other = await client(txn_bouncer)
    try:
        tx = busy.transaction()
        await tx.start()
        await busy.execute("SELECT 1")
        finishing = asyncio.ensure_future(busy.fetchval("SELECT 'finished' FROM pg_sleep(1)"))
        await asyncio.sleep(0.2)
        paused = asyncio.ensure_future(
            run_command(txn_bouncer.admin_dsn(), "PAUSE", SHOP_DB, deadline=10)
        )
        assert await finishing == "finished"  # its query ran to the end under the pause
        await tx.commit()  # releases its server: the PAUSE can complete
        result = await paused
        assert result.outcome == "done", result.line
        assert (await database_row(txn_bouncer))["paused"] == 1
        waiting = asyncio.ensure_future(other.fetchval("SELECT 42"))
        await asyncio.sleep(1.0)
        assert not waiting.done()  # a new query waits while paused
        resumed = await run_command(txn_bouncer.admin_dsn(), "RESUME", SHOP_DB)
        assert resumed.outcome == "done", resumed.line
        assert await asyncio.wait_for(waiting, 5) == 42  # and proceeds after RESUME
        assert (await database_row(txn_bouncer)).get("paused", 0) == 0
    finally:
        await busy.close(timeout=2)
        await other.close(timeout=2)


async def test_pause_past_its_deadline_stays_in_effect_and_sends_no_cancel(
    pgbouncer: PgBouncerServer,
) -> None:
    # Session pooling: PAUSE waits until the session ends, far past a 1 s deadline.
    held = await client(pgbouncer)
    try:
        await held.execute("SELECT 1")
        started = time.monotonic()
        result = await run_command(pgbouncer.admin_dsn(), "PAUSE", SHOP_DB, deadline=1)
        assert time.monotonic() - started < 8  # bounded: the deadline plus psycopg's grace
        assert result.outcome == "unknown"
        assert "pause stays in effect" in result.detail
        # No cancel reached PgBouncer: a cancel would have resumed every database.
        assert (await database_row(pgbouncer))["paused"] == 1
    finally:
        await held.close(timeout=2)
        resumed = await run_command(pgbouncer.admin_dsn(), "RESUME", SHOP_DB)
        assert resumed.outcome == "done", resumed.line


async def test_disable_refuses_new_clients_and_enable_lets_them_in(
    primary_pg: PostgresServer, make_pgbouncer: Callable[..., PgBouncerServer]
) -> None:
    # shop has its own [databases] entry, as in production: a database reached only
    # through `*` with no pool may leave SHOW DATABASES at PgBouncer's next janitor pass
    # (seen in CI), taking its disabled flag out of sight.
    pgbouncer = make_pgbouncer(primary_pg, databases={SHOP_DB: "", "*": ""})
    result = await run_command(pgbouncer.admin_dsn(), "DISABLE", SHOP_DB)
    try:
        assert result.outcome == "done", result.line
        assert (await database_row(pgbouncer))["disabled"] == 1
        with pytest.raises((asyncpg.PostgresError, OSError, ConnectionError)):
            conn = await client(pgbouncer)
            await conn.close()
    finally:
        enabled = await run_command(pgbouncer.admin_dsn(), "ENABLE", SHOP_DB)
    assert enabled.outcome == "done", enabled.line
    conn = await client(pgbouncer)
    assert await conn.fetchval("SELECT 1") == 1
    await conn.close()


async def test_kill_drops_the_pools_clients(pgbouncer: PgBouncerServer) -> None:
    victim = await client(pgbouncer)
    await victim.execute("SELECT 1")
    result = await run_command(pgbouncer.admin_dsn(), "KILL", SHOP_DB)
    try:
        assert result.outcome == "done", result.line
        with pytest.raises((asyncpg.PostgresError, asyncpg.InterfaceError, OSError)):
            await asyncio.wait_for(victim.fetchval("SELECT 1"), 5)

        async def gone() -> bool:
            return not any(r["database"] == SHOP_DB for r in await pgbouncer.show("CLIENTS"))

        await eventually(gone, "the killed clients to leave SHOW CLIENTS")
    finally:
        victim.terminate()
        await run_command(pgbouncer.admin_dsn(), "RESUME", SHOP_DB)


async def test_reconnect_replaces_the_pools_server_connections(
    txn_bouncer: PgBouncerServer, primary_pg: PostgresServer
) -> None:
    conn = await client(txn_bouncer)
    try:
        before = await conn.fetchval("SELECT pg_backend_pid()")
        result = await run_command(txn_bouncer.admin_dsn(), "RECONNECT", SHOP_DB)
        assert result.outcome == "done", result.line
        after = await conn.fetchval("SELECT pg_backend_pid()")
        assert after != before  # the released server was closed, a new one serves
    finally:
        await conn.close(timeout=2)


async def test_a_stats_user_gets_pgbouncers_refusal(pgbouncer: PgBouncerServer) -> None:
    result = await run_command(pgbouncer.stats_dsn(), "PAUSE", SHOP_DB)
    assert result.outcome == "refused"
    assert "admin access needed" in result.detail
    assert (await database_row(pgbouncer)).get("paused", 0) == 0


async def test_names_the_console_cannot_take_are_not_sent(pgbouncer: PgBouncerServer) -> None:
    for name in ("x" * 70, "shop\nRESUME", ""):
        result = await run_command(pgbouncer.admin_dsn(), "PAUSE", name)
        assert result.outcome == "not sent", name
    # A quote in a name is quoted, not a way out of the word: PgBouncer (whose `*` entry
    # takes any name) disables a database of exactly that name, and nothing else.
    odd_name = 'shop" ; RESUME "x'
    odd = await run_command(pgbouncer.admin_dsn(), "DISABLE", odd_name)
    assert odd.outcome == "done", odd.line
    # An auto-registered database with no pool leaves the list SHOW DATABASES reads at
    # PgBouncer's next janitor pass (seen in CI): when still listed, it is the disabled one.
    assert (await database_row(pgbouncer, odd_name)).get("disabled", 1) == 1
    assert (await database_row(pgbouncer)).get("disabled", 0) == 0
    await run_command(pgbouncer.admin_dsn(), "ENABLE", odd_name)


async def test_kill_client_on_an_old_pgbouncer_is_refused_by_it(
    pgbouncer: PgBouncerServer,
) -> None:
    async with await psycopg.AsyncConnection.connect(
        pgbouncer.admin_dsn(), autocommit=True, cursor_factory=psycopg.AsyncClientCursor
    ) as conn:
        cur = await conn.execute("SHOW VERSION")
        version = str((await cur.fetchone() or [""])[0])
    if kills_one_client(version):
        pytest.skip(f"{version} has KILL_CLIENT")
    result = await run_command(pgbouncer.admin_dsn(), "KILL_CLIENT", 1)
    assert result.outcome == "refused"


async def test_two_processes_both_take_the_command(
    primary_pg: PostgresServer, make_pgbouncer: Callable[..., PgBouncerServer]
) -> None:
    # shop listed in [databases]: see test_disable_refuses_new_clients_and_enable_lets_them_in
    shop_listed = {SHOP_DB: "", "*": ""}
    bouncers = [make_pgbouncer(primary_pg, databases=shop_listed) for _ in range(2)]
    dsns = [b.admin_dsn() for b in bouncers]
    results = await run_everywhere(dsns, "DISABLE", SHOP_DB)
    text, everywhere = summary(results)
    assert everywhere and "2 of 2 PgBouncer processes took it" in text
    for b in bouncers:
        assert (await database_row(b))["disabled"] == 1
    bouncers[1].stop()
    results = await run_everywhere(dsns, "ENABLE", SHOP_DB, connect_timeout=2)
    text, everywhere = summary(results)
    assert not everywhere and "1 of 2 PgBouncer processes took it" in text
    assert (await database_row(bouncers[0])).get("disabled", 0) == 0


async def test_a_hung_console_costs_a_bounded_wait(
    primary_pg: PostgresServer, make_pgbouncer: Callable[..., PgBouncerServer]
) -> None:
    import os
    import signal

    b = make_pgbouncer(primary_pg)
    assert b.pid is not None
    os.kill(b.pid, signal.SIGSTOP)
    try:
        started = time.monotonic()
        result = await run_command(b.admin_dsn(), "PAUSE", SHOP_DB, connect_timeout=1, deadline=1)
        assert time.monotonic() - started < 5
        assert result.outcome == "not sent"  # it never got as far as the command
    finally:
        os.kill(b.pid, signal.SIGCONT)
    assert (await database_row(b)).get("paused", 0) == 0
