"""The Findings pane and the header's worst finding, against real PostgreSQL and PgBouncer.

The issue's "done when", as a user does it at 80x24: clients queue at PgBouncer because
sessions idle in transaction hold its pool; the header names that cause within two
refreshes; 5, Enter lands on those sessions; *, k, y terminates them; the queue drains
and the finding goes. A healthy server shows no finding anywhere.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import asyncpg
import pytest
from live import alive, screen_text, shown, target_for, until
from sample import fixed_app, sample_snapshot
from textual.widgets import Static

from pgtop.model.findings import thresholds_from
from pgtop.model.records import Snapshot
from pgtop.target import ConnSettings, Target
from pgtop.ui.app import PgTopApp
from pgtop.ui.screens.confirm import ConfirmScreen
from pgtop.ui.widgets.findings_pane import FindingsPane
from pgtop.ui.widgets.pane_tabs import PaneTabs
from pgtop.ui.widgets.pooler_pane import PoolerPane, pool_key
from pgtop.ui.widgets.sessions_pane import SessionsPane
from support import APP_USER, SHOP_DB, PgBouncerServer, PostgresServer, SessionFactory

POOL = f"{SHOP_DB}/{APP_USER.name}"


@pytest.fixture(autouse=True)
def state_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("PGTOP_STATE_DIR", str(tmp_path))
    return tmp_path


async def pooled_client(bouncer: PgBouncerServer, name: str) -> asyncpg.Connection:
    return await asyncpg.connect(
        bouncer.client_dsn(APP_USER.name, dbname=SHOP_DB),
        server_settings={"application_name": name},
        statement_cache_size=0,
    )


async def wait_at_pool(bouncer: PgBouncerServer, waiting: int, maxwait: float) -> None:
    """Until `waiting` clients have queued for at least `maxwait` seconds."""
    for _ in range(200):
        rows = await bouncer.show("POOLS")
        row = next((r for r in rows if (r["database"], r["user"]) == (SHOP_DB, APP_USER.name)), {})
        if row.get("cl_waiting", 0) >= waiting and row.get("maxwait", 0) >= maxwait:
            return
        await asyncio.sleep(0.1)
    raise AssertionError(f"no {waiting} clients waiting {maxwait} s at {POOL}: {row}")


def header_notes(app: PgTopApp) -> str:
    """The header's fourth line (where the worst finding shows)."""
    return screen_text(app).splitlines()[3]


def polls_seen(app: PgTopApp, seen: set[object]) -> int:
    snap = app.server.state.snapshot()
    if snap is not None:
        seen.add(snap.server.snapshot_time)
    return len(seen)


async def test_queue_behind_idle_in_transaction_is_named_jumped_to_and_cleared(
    primary_pg: PostgresServer,
    pgbouncer: PgBouncerServer,
    primary_workload: SessionFactory,
) -> None:
    name = f"{primary_workload.tag}-iit"
    holders = [await pooled_client(pgbouncer, name) for _ in range(pgbouncer.default_pool_size)]
    for conn in holders:
        await conn.execute("BEGIN")
        await conn.execute("SELECT txid_current()")
    admin = await primary_workload.admin()
    rows = await admin.fetch(
        "SELECT pid FROM pg_stat_activity WHERE application_name = $1 AND state = $2",
        name,
        "idle in transaction",
    )
    held = {r["pid"] for r in rows}
    assert len(held) == pgbouncer.default_pool_size
    waiters = [await pooled_client(pgbouncer, f"{name}-w") for _ in range(2)]
    queries = [asyncio.ensure_future(c.fetchval("SELECT 1")) for c in waiters]
    try:
        # Past the default queue_wait_s (1 s) before pgtop starts: the finding can show
        # from its first poll with the pooler's data.
        await wait_at_pool(pgbouncer, 2, 1.0)
        app = PgTopApp(target_for(primary_pg, pgbouncer=pgbouncer))
        async with app.run_test(size=(80, 24)) as pilot:
            seen: set[object] = set()
            await until(pilot, lambda: polls_seen(app, seen), "the first poll")
            await until(
                pilot,
                lambda: "idle in transaction" in header_notes(app) or polls_seen(app, seen) > 2,
                "the header to name the cause or a third poll",
            )
            notes = header_notes(app)
            assert f"2 waiting at {POOL}: idle in transaction" in notes, (len(seen), notes)
            assert "5 Findings 1" in screen_text(app).splitlines()[4]  # the tab's badge

            await pilot.press("5")
            pane = app.query_one(FindingsPane)
            await until(pilot, lambda: pane.findings, "the findings listed")
            assert pane.highlighted is not None and pane.highlighted.kind == "pooler_queue"
            assert "Terminate them (k)" in screen_text(app)  # what to do, under the list
            await pilot.press("enter")
            sessions = app.query_one(SessionsPane)
            assert (
                sessions.filter_text == f"state:idle-tx age>=1s db:{SHOP_DB} user:{APP_USER.name}"
            )
            assert set(shown(app)) == held
            assert app.focused is sessions.table

            await pilot.press("asterisk")  # mark all shown: k then asks once for all
            assert set(sessions.table.marked) == held
            await pilot.press("k")
            confirm = app.screen
            assert isinstance(confirm, ConfirmScreen)
            assert confirm.title_text == f"Terminate {len(held)} marked sessions?"
            await pilot.press("y")
            await until(pilot, lambda: not isinstance(app.screen, ConfirmScreen), "the answer")
            for _ in range(100):
                if not await alive(admin, *held):
                    break
                await pilot.pause(0.1)
            assert not await alive(admin, *held)
            # The queue drains into new server connections; the finding goes with it.
            assert await asyncio.wait_for(asyncio.gather(*queries), 10) == [1, 1]
            await until(
                pilot,
                lambda: "▲" not in header_notes(app) and not app.server.state.frame.findings,
                "the finding gone from the header",
            )
            await pilot.press("5")
            await until(pilot, lambda: "No findings" in screen_text(app), "the calm line")
    finally:
        for conn in [*holders, *waiters]:
            conn.terminate()


async def test_a_healthy_server_shows_no_finding(
    primary_pg: PostgresServer, pgbouncer: PgBouncerServer
) -> None:
    app = PgTopApp(target_for(primary_pg, pgbouncer=pgbouncer))
    async with app.run_test(size=(80, 24)) as pilot:
        seen: set[object] = set()
        await until(pilot, lambda: polls_seen(app, seen) >= 2, "two polls")
        await pilot.press("5")
        pane = app.query_one(FindingsPane)
        calm = pane.query_one("#findings-calm", Static)
        await until(pilot, lambda: calm.display and "No findings" in screen_text(app), "calm")
        assert pane.findings == ()
        assert "▲" not in header_notes(app)
        assert app.query_one(PaneTabs).badges.get("findings", "") == ""


async def test_the_first_frame_gets_its_findings_without_waiting_for_a_poll(
    primary_pg: PostgresServer, primary_workload: SessionFactory
) -> None:
    # The first frame is drawn before findings are derived (start-up time); they must
    # follow at once, from the same poll, not a refresh later.
    pid = await primary_workload.idle_in_transaction()
    await asyncio.sleep(1.2)
    target = target_for(primary_pg).replace(
        refresh=30.0, findings=thresholds_from({"idle_in_transaction_s": 1})
    )
    app = PgTopApp(target)
    async with app.run_test(size=(80, 24)) as pilot:
        await until(pilot, lambda: app.server.state.pg_snapshot is not None, "the first poll")
        first_poll = app.server.state.pg_snapshot
        await until(pilot, lambda: "idle in transaction" in header_notes(app), "the finding")
        assert app.server.state.pg_snapshot is first_poll  # no second poll was needed
        assert pid in app.server.state.frame.findings[0].pids


# -- fixed data: the sample snapshot's findings (tests/ui/sample.py) ---------------------------


async def started(pilot: Any) -> None:
    await until(pilot, lambda: pilot.app.server.state.pg_snapshot is not None, "the data")
    await pilot.pause()


async def test_findings_worst_first_and_enter_goes_to_a_pool_or_a_lock_pile_up() -> None:
    app = fixed_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await started(pilot)
        await pilot.press("5")
        pane = app.query_one(FindingsPane)
        await until(pilot, lambda: pane.findings, "the findings listed")
        severities = [f.severity for f in pane.findings]
        assert severities == sorted(severities, key=["critical", "warning", "info"].index)
        assert [f.kind for f in pane.findings][:3] == [
            "pooler_queue", "limit_reached", "lock_pileup"
        ]  # fmt: skip
        lines = screen_text(app).splitlines()
        assert lines[3].startswith(" ▲ 1 waiting at shop/app: opening servers")
        assert "5 Findings 5" in lines[4] and "CRITICAL  pooler queue" in screen_text(app)
        tabs = app.query_one(PaneTabs)
        assert tabs.badge_styles["findings"] == "bold red"  # a critical one among them
        # A pool finding without sessions to show: its pool, in the Pooler pane.
        await pilot.press("enter")
        pooler = app.query_one("#pooler", PoolerPane)
        assert app.server.current_pane() == "pooler"
        row = pooler.table.coordinate_to_cell_key((pooler.table.cursor_row, 0)).row_key
        assert row.value == pool_key("shop", "app")
        # A lock pile-up: the lock tree, on its root blocker.
        await pilot.press("5", "down", "down")
        assert pane.highlighted is not None and pane.highlighted.kind == "lock_pileup"
        assert "⏎ goes to pid 101 in the lock tree" in screen_text(app)
        await pilot.press("enter")
        sessions = app.server.sessions
        assert app.server.current_pane() == "sessions" and sessions.blocking_tree
        assert sessions.table.cursor_pid == 101 and sessions.filter_text == ""


async def test_a_finding_that_no_longer_holds_goes_at_the_next_frame() -> None:
    snaps: list[Snapshot] = [sample_snapshot()]

    async def source() -> Snapshot:
        return snaps[-1]

    settings = ConnSettings({"host": "db1", "port": "5432"})
    app = PgTopApp(Target(settings, refresh=0.5), snapshot_source=source)
    async with app.run_test(size=(80, 24)) as pilot:
        await started(pilot)
        await pilot.press("5")
        pane = app.query_one(FindingsPane)
        await until(pilot, lambda: any(f.kind == "pooler_queue" for f in pane.findings), "queue")
        await pilot.press("down")  # the cursor on the second one: it stays on it
        second = pane.highlighted
        assert second is not None and second.kind == "limit_reached"
        snaps.append(sample_snapshot(pooler=False))  # the pooler's queue is gone
        await until(pilot, lambda: pane.findings[0].kind != "pooler_queue", "the queue gone")
        assert pane.highlighted is not None and pane.highlighted.summary == second.summary
        assert "waiting at" not in screen_text(app).splitlines()[3]


async def test_help_and_palette_have_the_panes_keys() -> None:
    from textual.command import CommandList, CommandPalette

    from pgtop.ui.screens.help import HelpScreen

    app = fixed_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await started(pilot)
        await pilot.press("question_mark")
        assert isinstance(app.screen, HelpScreen)
        keys = {description: key for key, description in app.screen.keys}
        assert keys["Mark all shown"] == "*" and keys["Findings"] == "5"
        await pilot.press("escape", "5", "question_mark")
        assert isinstance(app.screen, HelpScreen)
        keys = {description: key for key, description in app.screen.keys}
        assert keys["Go to sessions/pool"] == "⏎" and "Findings pane" in screen_text(app)
        assert "Mark all shown" not in keys  # a key of the sessions pane
        await pilot.press("escape", "ctrl+p")
        assert isinstance(app.screen, CommandPalette)
        commands = app.screen.query_one(CommandList)
        await until(pilot, lambda: commands.option_count > 0, "the palette's commands")
        await pilot.pause(0.2)
        titles = {
            str(commands.get_option_at_index(i).prompt).splitlines()[0]
            for i in range(commands.option_count)
        }
        assert {"Go to sessions/pool", "Findings"} <= titles
        await pilot.press(*"go to sessions")
        await pilot.pause(0.3)
        await pilot.press("enter")  # the first finding: the queue at pool shop/app
        await until(pilot, lambda: app.server.current_pane() == "pooler", "the Pooler pane")
