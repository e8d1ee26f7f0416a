"""The live screen against real servers: what pgtop lists is what the server has.

Each test opens sessions in known states (tests/support/workload.py), starts the whole
PgTopApp under Pilot with a 0.5 s refresh and waits, by polling, until the sessions show.
"""

from __future__ import annotations

import gc
from pathlib import Path

import pytest
from live import (
    cursor_line,
    line_of,
    screen_text,
    sessions_table,
    shown,
    shows_all,
    target_for,
    until,
)
from textual.widgets import DataTable

from pgtop import gc_pause
from pgtop.model.records import ACTIVE, IDLE, IDLE_IN_TRANSACTION
from pgtop.ui.app import PgTopApp
from pgtop.ui.widgets.databases_pane import DatabasesPane
from pgtop.ui.widgets.header import StatusHeader
from pgtop.ui.widgets.pooler_pane import PoolerPane, pool_key
from support import APP_USER, SHOP_DB, PgBouncerServer, PostgresServer, SessionFactory

MARKUP_APP = "[bold red]x"
HOSTILE_QUERY = "select '[@click=app.quit]\x1b[2J'"


@pytest.fixture(autouse=True)
def state_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("PGTOP_STATE_DIR", str(tmp_path))
    return tmp_path


def cell(table: DataTable[object], row: str, column: str) -> str:
    value = table.get_cell(row, column)
    return getattr(value, "plain", str(value))


async def test_sessions_pane_lists_workload_with_states(
    pg_server: PostgresServer, workload: SessionFactory
) -> None:
    idle = await workload.idle()
    active = await workload.active_sleep()
    in_tx = await workload.idle_in_transaction()
    chain = await workload.lock_chain(waiters=1)
    (waiter,) = chain.waiters
    app = PgTopApp(target_for(pg_server))
    async with app.run_test(size=(160, 48)) as pilot:
        pids = (idle, active, in_tx, chain.holder, waiter)
        await until(pilot, lambda: shows_all(app, *pids), "the workload in the sessions pane")
        rows = shown(app)
        assert rows[idle].state == IDLE
        assert rows[active].state == ACTIVE and "pg_sleep" in rows[active].query
        assert rows[in_tx].state == IDLE_IN_TRANSACTION
        assert rows[chain.holder].state == IDLE_IN_TRANSACTION
        assert rows[waiter].state == ACTIVE
        assert rows[waiter].wait_event_type == "Lock"
        assert rows[waiter].blocked_by == (chain.holder,)
        for pid in pids:
            assert rows[pid].database == SHOP_DB and rows[pid].user == APP_USER.name
        # What the user reads on each line agrees.
        table = sessions_table(app)
        assert " idle " in line_of(table, idle)
        assert " active " in line_of(table, active)
        assert " idle-tx " in line_of(table, in_tx)
        assert str(chain.holder) in line_of(table, waiter)  # BLOCKED BY column
        # pgtop's own connection is not listed.
        own = set(app.server.feed.postgres.own_pids)
        assert own and not own & set(rows)
        assert all(s.application != "pgtop" for s in rows.values())


async def test_databases_pane_counts_match_pg_stat_activity(
    pg_server: PostgresServer, workload: SessionFactory
) -> None:
    admin = await workload.admin()
    await workload.idle()
    await workload.idle()
    await workload.active_sleep()
    await workload.idle_in_transaction()
    await workload.idle(dbname="postgres")
    count_sql = """
        SELECT datname, count(*) FROM pg_stat_activity
         WHERE backend_type = 'client backend' AND application_name <> 'pgtop'
         GROUP BY 1
    """
    app = PgTopApp(target_for(pg_server))
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("2")
        pane = app.query_one("#databases", DatabasesPane)
        assert pane.has_focus

        async def compare() -> tuple[dict[str, int], dict[str, int], dict[str, int]]:
            """Server counts before and after a fresh snapshot, and what the pane shows."""
            before = {r["datname"]: r["count"] for r in await admin.fetch(count_sql)}
            started = (
                app.server.state.pg_snapshot.server.snapshot_time
                if app.server.state.pg_snapshot
                else None
            )
            await until(
                pilot,
                lambda: (
                    app.server.state.pg_snapshot is not None
                    and app.server.state.pg_snapshot.server.snapshot_time != started
                    and pane.row_count > 0
                ),
                "a fresh snapshot in the databases pane",
            )
            await pilot.pause()
            keys = [str(row.key.value) for row in pane.ordered_rows]
            totals = {k: int(cell(pane, k, "total")) for k in keys}
            after = {r["datname"]: r["count"] for r in await admin.fetch(count_sql)}
            return before, totals, after

        # The workload is static, but a backend of the previous test may still be on its
        # way out: allow a few rounds for the server to settle. A real miscount persists.
        for _ in range(5):
            before, totals, after = await compare()
            expected = {name: before.get(name, 0) for name in totals}
            if before == after and totals == expected:
                break
        assert before == after, "the server's sessions kept changing"
        assert totals == expected
        assert set(before) <= set(totals)
        assert before[SHOP_DB] >= 4  # the workload's; a leftover from another test may add one


async def test_pooler_pane_shows_waiting_clients(
    primary_pg: PostgresServer,
    pgbouncer: PgBouncerServer,
    primary_workload: SessionFactory,
) -> None:
    load = await primary_workload.pooled_sleepers(pgbouncer, clients=4)
    app = PgTopApp(target_for(primary_pg, pgbouncer=pgbouncer))
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("4")
        pane = app.query_one("#pooler", PoolerPane)
        key = pool_key(load.database, load.user)

        def waiting() -> int:
            table = pane.table
            if key not in table.rows:
                return 0
            return int(cell(table, key, "cl_waiting") or 0)

        await until(pilot, lambda: waiting() >= 1, "waiting clients in the pooler pane")
        assert waiting() == 4 - pgbouncer.default_pool_size
        assert int(cell(pane.table, key, "sv_active")) == pgbouncer.default_pool_size
        assert "c.wait" in screen_text(app)


async def test_cursor_stays_on_its_session_when_rows_appear_above(
    primary_pg: PostgresServer, primary_workload: SessionFactory
) -> None:
    first = await primary_workload.idle()
    second = await primary_workload.idle()
    app = PgTopApp(target_for(primary_pg))
    async with app.run_test(size=(80, 24)) as pilot:
        await until(pilot, lambda: shows_all(app, first, second), "the idle sessions")
        table = sessions_table(app)
        assert table.move_cursor_to_pid(second)
        index_before = table.rows.index(shown(app)[second])
        # Idle-in-transaction sessions sort above idle ones in the default order.
        newcomers = [await primary_workload.idle_in_transaction() for _ in range(3)]
        await until(pilot, lambda: shows_all(app, *newcomers), "the new sessions")
        assert table.rows.index(shown(app)[second]) > index_before, "nothing moved above"
        assert table.cursor_pid == second
        assert table.cursor_session is not None and table.cursor_session.pid == second
        drawn = cursor_line(table)
        assert drawn is not None and drawn.split()[0] == str(second)


async def test_header_status_live_and_pause(primary_pg: PostgresServer) -> None:
    app = PgTopApp(target_for(primary_pg))
    async with app.run_test(size=(80, 24)) as pilot:
        await until(pilot, lambda: app.server.header_state.frame.status == "live", "status live")
        assert "● live" in screen_text(app)
        await pilot.press("p")
        assert app.server.header_state.frame.status == "paused"
        # A poll already under way may still land: settle, then watch for 1.5 s.
        await pilot.pause(0.3)
        assert app.server.state.pg_snapshot is not None
        frozen = app.server.state.pg_snapshot.server.snapshot_time
        await pilot.pause(1.5)
        assert app.server.state.pg_snapshot.server.snapshot_time == frozen
        assert app.server.header_state.frame.status == "paused"
        assert "● paused" in screen_text(app)
        await pilot.press("p")
        assert app.server.header_state.frame.status == "live"
        await until(
            pilot,
            lambda: (
                app.server.state.pg_snapshot is not None
                and app.server.state.pg_snapshot.server.snapshot_time != frozen
            ),
            "a new snapshot after resuming",
            timeout=5,
        )
        assert "● live" in screen_text(app)


async def test_garbage_collector_back_on_after_first_screen(primary_pg: PostgresServer) -> None:
    """`pgtop` starts with the cyclic collector off (gc_pause); a long-running app that
    never turned it back on would leak every reference cycle it makes."""
    gc_pause.pause()
    try:
        assert not gc.isenabled()
        app = PgTopApp(target_for(primary_pg))
        async with app.run_test(size=(80, 24)) as pilot:
            await until(
                pilot, lambda: app.server.state.pg_snapshot is not None, "the first snapshot"
            )
            await until(pilot, gc.isenabled, "the collector back on after the first frame")
            assert "● live" in screen_text(app)
    finally:
        gc_pause.resume()
        gc.enable()


async def test_layout_80x24(primary_pg: PostgresServer) -> None:
    app = PgTopApp(target_for(primary_pg))
    async with app.run_test(size=(80, 24)) as pilot:
        await until(pilot, lambda: app.server.state.pg_snapshot is not None, "the first snapshot")
        await pilot.pause()
        header = sessions_table(app).render_line(0).text
        for label in ("PID", "STATE", "XACT", "AGE", "QUERY"):
            assert label in header.split(), label
        assert len(header) == sessions_table(app).content_width
        assert not app.query_one("#wide-extras").display


async def test_a_lock_waiter_at_80x24_reads_waiting_with_its_wait_and_user(
    primary_pg: PostgresServer, primary_workload: SessionFactory
) -> None:
    chain = await primary_workload.lock_chain(waiters=2)
    app = PgTopApp(target_for(primary_pg))
    async with app.run_test(size=(80, 24)) as pilot:
        pids = (chain.holder, *chain.waiters)
        await until(pilot, lambda: shows_all(app, *pids), "the lock chain in the sessions pane")
        table = sessions_table(app)
        for waiter in chain.waiters:
            cells = line_of(table, waiter).split()
            # Not the green "active" of a running query: the state says it waits, the
            # wait column on what ("Lock:relation" gives up its "Lock:" to fit).
            assert cells[3:6] == ["waiting", "relation", APP_USER.name], cells
        assert line_of(table, chain.holder).split()[3] == "idle-tx"
        header = "\n".join(t.plain for t in app.query_one(StatusHeader).lines())
        assert "…" not in header and "lock" in header


async def test_layout_160x48_shows_side_panes(
    primary_pg: PostgresServer, primary_workload: SessionFactory
) -> None:
    await primary_workload.idle()
    app = PgTopApp(target_for(primary_pg))
    async with app.run_test(size=(160, 48)) as pilot:
        await until(pilot, lambda: app.server.panes_ready, "the side panes mounted")
        extras = app.query_one("#wide-extras")
        side_dbs = app.query_one("#side-databases", DatabasesPane)
        await until(pilot, lambda: side_dbs.row_count > 0, "the side databases pane filled")
        assert extras.display and extras.region.height > 0
        assert side_dbs.region.height > 0 and side_dbs.region.width > 0
        assert app.query_one("#side-pooler", PoolerPane).region.height > 0
        assert SHOP_DB in [row.key.value for row in side_dbs.ordered_rows]
        header = sessions_table(app).render_line(0).text.split()
        assert {"DATABASE", "USER", "APP", "QUERY"} <= set(header)
        text = screen_text(app)
        assert "Connections by database" in text and "PgBouncer pools" in text


async def test_hostile_text_is_shown_literally(
    primary_pg: PostgresServer, primary_workload: SessionFactory
) -> None:
    conn = await primary_workload.connect(application_name=MARKUP_APP)
    pid = int(await conn.fetchval("SELECT pg_backend_pid()"))
    await conn.execute(HOSTILE_QUERY)
    await primary_workload.wait_for(
        "SELECT EXISTS (SELECT FROM pg_stat_activity WHERE pid = $1 AND state = 'idle'"
        " AND query LIKE '%@click%')",
        pid,
    )
    app = PgTopApp(target_for(primary_pg))
    async with app.run_test(size=(160, 48)) as pilot:
        await until(pilot, lambda: shows_all(app, pid), "the hostile session")
        await pilot.pause()
        assert app.is_running  # the [@click=app.quit] did not fire
        row = shown(app)[pid]
        assert row.application == MARKUP_APP and row.query == HOSTILE_QUERY
        text = line_of(sessions_table(app), pid)
        assert MARKUP_APP in text
        assert "[@click=app.quit]" in text
        assert "\x1b" not in text
        screen = screen_text(app)
        assert MARKUP_APP in screen and "\x1b" not in screen
