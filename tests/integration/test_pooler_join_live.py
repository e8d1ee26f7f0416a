"""Seeing through a real PgBouncer 1.18 (session pooling, pool size 2, in front of
primary_pg): each backend PgBouncer opened is joined to the client that holds it, and the
pool detail screen lists the clients still waiting.

Truth comes from outside pgtop: each client has its own application_name, and its address
and port are read from the client's own socket.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any

import asyncpg
import pytest_asyncio
from psycopg.conninfo import conninfo_to_dict
from textual.pilot import Pilot
from textual.widgets import DataTable, Static

from pgtop.collect.pgbouncer import PgBouncerCollector
from pgtop.collect.postgres import PostgresCollector
from pgtop.model.pooler_join import client_state, link_sessions, pool_members
from pgtop.model.records import Snapshot
from pgtop.target import ConnSettings, Target
from pgtop.ui.app import PgTopApp
from pgtop.ui.screens.inspect import InspectScreen
from pgtop.ui.screens.pool_detail import PoolDetailScreen
from pgtop.ui.widgets.pooler_pane import PoolerPane, pool_key
from pgtop.ui.widgets.session_columns import client_text
from pgtop.ui.widgets.sessions_table import SessionsTable
from support import (
    APP_USER,
    MONITOR,
    SHOP_DB,
    PgBouncerServer,
    PostgresServer,
    SessionFactory,
)
from support.records import replace

HOLDERS, WAITERS = 2, 2  # pool_size 2: two clients get a server, two queue for one


@dataclass
class PooledApp:
    name: str  # application_name, unique per client
    conn: asyncpg.Connection
    addr: str  # the client's end of its socket to PgBouncer
    port: int
    pid: int | None = None  # the backend it holds (from pg_stat_activity), None if waiting


@dataclass
class Pooled:
    holders: list[PooledApp] = field(default_factory=list)
    waiters: list[PooledApp] = field(default_factory=list)
    tasks: list[asyncio.Task[Any]] = field(default_factory=list)


async def _poll(check: Callable[[], Any], what: str, timeout: float = 10.0) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = await check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:g} s waiting for {what}")
        await asyncio.sleep(0.05)


async def _connect(bouncer: PgBouncerServer, name: str) -> PooledApp:
    conn = await asyncpg.connect(
        bouncer.client_dsn(APP_USER.name, dbname=SHOP_DB),
        server_settings={"application_name": name},
        statement_cache_size=0,
    )
    # The client side of the socket: what PgBouncer must report as this client's address.
    addr, port = conn._transport.get_extra_info("sockname")[:2]  # type: ignore[attr-defined]
    return PooledApp(name, conn, addr, port)


@pytest_asyncio.fixture
async def pooled(
    pgbouncer: PgBouncerServer, primary_workload: SessionFactory
) -> AsyncIterator[Pooled]:
    """Two clients through PgBouncer running pg_sleep on their own backend, then two more
    waiting for a server. Names start with the factory's tag, so its teardown terminates
    the backends; this fixture closes the client sockets."""
    load = Pooled()
    admin = await primary_workload.admin()
    try:
        for i in range(1, HOLDERS + 1):
            app = await _connect(pgbouncer, f"{primary_workload.tag}-pooled-app-{i}")
            load.tasks.append(asyncio.ensure_future(app.conn.execute("SELECT pg_sleep(60)")))

            async def backend(name: str = app.name) -> int | None:
                return await admin.fetchval(
                    "SELECT pid FROM pg_stat_activity WHERE application_name = $1 "
                    "AND state = 'active' AND query LIKE '%pg_sleep%'",
                    name,
                )

            app.pid = await _poll(backend, f"the backend of {app.name}")
            load.holders.append(app)
        for i in range(HOLDERS + 1, HOLDERS + WAITERS + 1):
            app = await _connect(pgbouncer, f"{primary_workload.tag}-pooled-app-{i}")
            load.tasks.append(asyncio.ensure_future(app.conn.execute("SELECT pg_sleep(60)")))
            load.waiters.append(app)

        async def queued() -> bool:
            rows = await pgbouncer.show("POOLS")
            pool = [r for r in rows if (r["database"], r["user"]) == (SHOP_DB, APP_USER.name)]
            return bool(pool) and pool[0]["cl_waiting"] >= WAITERS

        await _poll(queued, f"{WAITERS} waiting clients")
        yield load
    finally:
        for task in load.tasks:
            task.cancel()
        await asyncio.gather(*load.tasks, return_exceptions=True)
        for app in [*load.holders, *load.waiters]:
            app.conn.terminate()


def _settings(server: PostgresServer) -> ConnSettings:
    params = conninfo_to_dict(server.dsn(MONITOR.name, dbname="postgres"))
    return ConnSettings({k: str(v) for k, v in params.items() if v is not None})


async def _joined_snapshot(primary_pg: PostgresServer, pgbouncer: PgBouncerServer) -> Snapshot:
    pg = PostgresCollector(_settings(primary_pg))
    bouncer = PgBouncerCollector(pgbouncer.stats_dsn(), connect_timeout=3, poll_timeout=5)
    try:
        await pg.connect()
        snap, pooler = await asyncio.gather(pg.poll(), bouncer.poll())
    finally:
        await pg.close()
        await bouncer.close()
    return link_sessions(replace(snap, pooler=pooler))


async def test_backend_shows_the_client_that_holds_it(
    primary_pg: PostgresServer, pgbouncer: PgBouncerServer, pooled: Pooled
) -> None:
    snap = await _joined_snapshot(primary_pg, pgbouncer)
    assert snap.pooler is not None and snap.pooler.version.startswith("1.")
    sessions = {s.pid: s for s in snap.sessions}
    for app in pooled.holders:
        assert app.pid is not None
        s = sessions[app.pid]
        assert s.client_addr == pgbouncer.host  # PostgreSQL sees PgBouncer, not the app
        link = s.pooler
        assert link is not None, f"{app.name} (pid {app.pid}) not joined"
        assert (link.pool_database, link.pool_user) == (SHOP_DB, APP_USER.name)
        assert link.server_state == "active"
        assert link.client is not None
        assert (link.client.addr, link.client.port) == (app.addr, app.port)
        assert link.client.addr == "127.0.0.1"
        assert link.client.application_name == app.name
        # What PgBouncer 1.18 does with the name: the backend carries the client's own
        # application_name (it is sent to the server), so APP needs no substitution here.
        assert s.application == app.name
    # Only PgBouncer's backends are joined: pgtop's and the factory's own are not.
    joined = {pid for pid, s in sessions.items() if s.pooler is not None}
    assert {app.pid for app in pooled.holders} <= joined
    assert all(sessions[p].client_addr == pgbouncer.host for p in joined)
    assert not snap.pooler.missing  # 1.18 has every column the join needs


async def test_pool_members_list_the_waiting_clients(
    primary_pg: PostgresServer, pgbouncer: PgBouncerServer, pooled: Pooled
) -> None:
    snap = await _joined_snapshot(primary_pg, pgbouncer)
    m = pool_members(snap, SHOP_DB, APP_USER.name)
    by_port = {c.port: c for c in m.clients}
    for app in pooled.waiters:
        c = by_port[app.port]
        assert client_state(c) == "waiting" and c.link is None
        assert c.application_name == app.name
        assert 0 < c.wait_s < 60
        assert c.ptr not in m.backend_of_client
    for app in pooled.holders:
        c = by_port[app.port]
        assert client_state(c) == "active"
        assert m.backend_of_client[c.ptr] == app.pid
    assert set(m.pid_of_server.values()) == {app.pid for app in pooled.holders}
    # Waiting clients come first.
    assert [client_state(c) for c in m.clients[:WAITERS]] == ["waiting"] * WAITERS


# -- the whole app ----------------------------------------------------------------------------


async def _until(pilot: Pilot[Any], condition: Callable[[], object], what: str) -> None:
    deadline = time.monotonic() + 10
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await pilot.pause(0.05)


def _cells(table: DataTable[Any]) -> list[list[str]]:
    return [
        [getattr(v, "plain", str(v)) for v in table.get_row(row.key)] for row in table.ordered_rows
    ]


def _line(table: SessionsTable, pid: int) -> str:
    index = next(i for i, s in enumerate(table.rows) if s.pid == pid)
    return table.render_line(index - int(table.scroll_y) + 1).text


async def test_app_sessions_pool_detail_and_back_to_the_backend(
    primary_pg: PostgresServer, pgbouncer: PgBouncerServer, pooled: Pooled, tmp_path: Any
) -> None:
    # One poll each at start and no more: whatever the screens show comes from that poll,
    # so a screen that waited for the next poll to draw would fail here.
    target = Target(postgres=_settings(primary_pg), pooler=pgbouncer.admin_dsn(), refresh=60)
    holder = pooled.holders[0]
    assert holder.pid is not None
    app = PgTopApp(target)
    async with app.run_test(size=(160, 48)) as pilot:
        table = app.query_one(SessionsTable)

        def joined() -> bool:
            row = next((s for s in table.rows if s.pid == holder.pid), None)
            return row is not None and row.pooler is not None

        await _until(pilot, joined, "the pooled backend joined in the sessions pane")
        line = _line(table, holder.pid)
        # The real client, not PgBouncer, whole: at 160 columns the column has room.
        shown = client_text(next(s for s in table.rows if s.pid == holder.pid))
        assert shown == f"⇄ 127.0.0.1:{holder.port}" and shown in line
        assert holder.name[:8] in line  # APP (cut to its column)

        await pilot.press("4")
        pane = app.query_one("#pooler", PoolerPane)
        key = pool_key(SHOP_DB, APP_USER.name)
        await _until(
            pilot,
            lambda: key in [r.key.value for r in pane.table.ordered_rows],
            "the pool row",
        )
        pane.table.focus()
        pane.table.move_cursor(row=pane.table.get_row_index(key))
        await pilot.press("enter")
        await _until(pilot, lambda: isinstance(app.screen, PoolDetailScreen), "the detail screen")
        detail = app.screen
        assert isinstance(detail, PoolDetailScreen)
        clients = detail.query_one("#pool-clients", DataTable)
        await pilot.pause()
        # Drawn from the pane's last snapshot at once, not only at the next poll.
        assert clients.row_count == HOLDERS + WAITERS
        rows = _cells(clients)
        waiting = [r for r in rows if r[0] == "waiting"]
        assert sorted(r[1] for r in waiting) == sorted(
            f"127.0.0.1:{a.port}" for a in pooled.waiters
        )
        assert {r[2] for r in waiting} == {a.name[:32] for a in pooled.waiters}
        assert all(r[3] and r[5] == "" for r in waiting)  # waited for, holds no backend
        servers = _cells(detail.query_one("#pool-servers", DataTable))
        assert {r[1] for r in servers} >= {str(a.pid) for a in pooled.holders}
        label = str(detail.query_one("#pool-clients-label", Static).content)
        assert label.startswith(f"{HOLDERS + WAITERS} clients:") and f"{WAITERS} waiting" in label

        # Enter on a waiting client: it holds no backend, the screen stays.
        clients.focus()
        clients.move_cursor(row=[r[1] for r in rows].index(waiting[0][1]))
        await pilot.press("enter")
        assert isinstance(app.screen, PoolDetailScreen)

        # Enter on the holder: back on the sessions pane, its backend inspected.
        clients.move_cursor(row=[r[1] for r in rows].index(f"127.0.0.1:{holder.port}"))
        await pilot.press("enter")
        await _until(pilot, lambda: isinstance(app.screen, InspectScreen), "the inspect screen")
        inspect = app.screen
        assert isinstance(inspect, InspectScreen) and inspect.pid == holder.pid
        assert table.cursor_pid == holder.pid
        fields = inspect.query_one("#inspect-fields", Static)
        await _until(pilot, lambda: inspect.session is not None, "the inspected session")
        text = _render(fields)
        assert f"via PgBouncer pool {SHOP_DB}/{APP_USER.name} (session mode)" in text
        assert f"client 127.0.0.1:{holder.port} app {holder.name} (linked now)" in text


def _render(widget: Static) -> str:
    import io

    from rich.console import Console

    out = io.StringIO()
    Console(file=out, width=300, color_system=None).print(widget.content)
    return " ".join(out.getvalue().split())
