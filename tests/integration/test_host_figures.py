"""Host figures: present for a server on this machine, absent (not zero) otherwise."""

from __future__ import annotations

import os
from datetime import timedelta

from pgtop.collect.host import HostCollector, is_local_backend
from pgtop.collect.postgres import PostgresCollector
from pgtop.target import ConnSettings, Target
from pgtop.ui.app import PgTopApp
from pgtop.ui.widgets.sessions_table import SessionsTable
from support import PostgresServer, SessionFactory


def _settings(server: PostgresServer) -> ConnSettings:
    return ConnSettings(
        {
            "host": server.host,
            "port": str(server.port),
            "user": server.superuser,
            "dbname": "postgres",
            "password": server.password,
        }
    )


async def test_locality_is_proven_by_pid_and_start_time(primary_pg: PostgresServer) -> None:
    collector = PostgresCollector(_settings(primary_pg))
    try:
        await collector.poll()
        own = collector.own_backend
        assert own is not None
        pid, started, _ = own
        assert is_local_backend(pid, started)
        # The same pid with another start time is someone else's process: not local.
        assert started is not None
        assert not is_local_backend(pid, started - timedelta(minutes=5))
        # A live process that is not a PostgreSQL backend is not one either.
        assert not is_local_backend(os.getpid(), started)
        stats, procs = HostCollector().sample([pid])
        assert stats.cpus >= 1 and 0 <= stats.mem_used_percent <= 100
        assert procs[pid].rss > 0
    finally:
        await collector.close()


async def test_host_columns_appear_for_a_local_server(
    primary_pg: PostgresServer, primary_workload: SessionFactory
) -> None:
    pid = await primary_workload.idle(application_name="host-figures")
    app = PgTopApp(Target(_settings(primary_pg), refresh=0.5))
    async with app.run_test(size=(160, 40)) as pilot:
        for _ in range(100):
            if app.server.header_state.host is not None:
                break
            await pilot.pause(0.1)
        assert app.server.header_state.host is not None, "the header shows host load/mem/disk"
        await pilot.press("h")
        table = app.query_one(SessionsTable)
        for _ in range(50):
            if table.procs:
                break
            await pilot.pause(0.1)
        assert table.procs and pid in table.procs, "per-backend figures for the visible rows"
        assert table.procs[pid].rss > 0
        assert "CPU%" in table.render_line(0).text and "MEM" in table.render_line(0).text


async def test_host_columns_are_absent_when_not_local(primary_pg: PostgresServer) -> None:
    app = PgTopApp(Target(_settings(primary_pg), refresh=0.5))
    app.server.host.checked = True  # as if the check had failed: the server is elsewhere
    async with app.run_test(size=(160, 40)) as pilot:
        for _ in range(50):
            if app.server.state.pg_snapshot is not None:
                break
            await pilot.pause(0.1)
        await pilot.press("h")
        await pilot.pause(0.6)
        header = app.query_one(SessionsTable).render_line(0).text
        assert "CPU%" not in header and "MEM" not in header
        assert app.server.header_state.host is None
        assert any("not this machine" in str(n.message) for n in app._notifications)
