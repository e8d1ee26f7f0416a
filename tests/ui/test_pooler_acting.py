"""PgBouncer commands from the keyboard (issue 19): the real keys under Pilot, against real
PgBouncers in front of primary_pg, checked on the admin console and in the audit log."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import asyncpg
import pytest
from live import audit_lines, notifications, screen_text, target_for, until
from textual.pilot import Pilot

from pgtop.ui.app import PgTopApp
from pgtop.ui.screens.confirm import ConfirmScreen
from pgtop.ui.screens.pool_detail import PoolDetailScreen
from pgtop.ui.widgets.header import StatusHeader
from pgtop.ui.widgets.pooler_pane import PoolerPane, pool_key
from support import APP_USER, SHOP_DB, PgBouncerServer, PostgresServer, find_pgbouncer
from support.records import replace


@pytest.fixture(autouse=True)
def state_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("PGTOP_STATE_DIR", str(tmp_path))
    return tmp_path


@pytest.fixture
async def bouncer(
    primary_pg: PostgresServer,
) -> AsyncIterator[tuple[PgBouncerServer, asyncpg.Connection]]:
    """A PgBouncer of its own (commands change its state) with one idle client of shop.
    shop has its own [databases] entry, as in production: a database only reached through
    `*` is forgotten once KILL empties it, and with it its paused state."""
    if find_pgbouncer() is None:
        pytest.skip("pgbouncer binary not found")
    b = PgBouncerServer(primary_pg, pool_mode="transaction", databases={SHOP_DB: "", "*": ""})
    b.setup()
    try:
        conn = await asyncpg.connect(b.client_dsn(APP_USER.name), statement_cache_size=0)
        await conn.execute("SELECT 1")
        try:
            yield b, conn
        finally:
            conn.terminate()
    finally:
        b.cleanup()


async def db_flag(b: PgBouncerServer, flag: str) -> int:
    rows = await b.show("DATABASES")
    return int(next((r[flag] for r in rows if r["name"] == SHOP_DB), 0))


def confirm_text(app: PgTopApp) -> str:
    screen = app.screen
    assert isinstance(screen, ConfirmScreen)
    return screen.title_text + "\n" + str(screen.body)


def header_text(app: PgTopApp) -> str:
    header = app.server.query_one(StatusHeader)
    return "\n".join(strip.text for strip in header.render_lines(header.region.reset_offset))


async def open_shop_pool(pilot: Pilot[object], app: PgTopApp) -> PoolerPane:
    await pilot.press("4")
    pane = app.query_one("#pooler", PoolerPane)
    key = pool_key(SHOP_DB, APP_USER.name)
    await until(pilot, lambda: key in pane.table.rows, "the shop pool in the pooler pane")
    pane.table.move_cursor(row=pane.table.get_row_index(key))
    assert pane.selected_database() == SHOP_DB
    return pane


async def answered(pilot: Pilot[object], app: PgTopApp, text: str) -> None:
    await until(pilot, lambda: any(text in n for n in notifications(app)), repr(text))


async def test_pause_from_the_pooler_pane_holds_queries_until_resume(
    primary_pg: PostgresServer,
    bouncer: tuple[PgBouncerServer, asyncpg.Connection],
    state_dir: Path,
) -> None:
    b, conn = bouncer
    app = PgTopApp(target_for(primary_pg, pgbouncer=b))
    async with app.run_test(size=(100, 30)) as pilot:
        pane = await open_shop_pool(pilot, app)
        await pilot.press("P")
        text = confirm_text(app)
        assert f"Pause database {SHOP_DB} on PgBouncer?" in text
        assert f"127.0.0.1:{b.port}" in text and "clients   1" in text
        await pilot.press("enter")  # the focused button is No
        assert not isinstance(app.screen, ConfirmScreen)
        await pilot.pause(0.3)
        assert await db_flag(b, "paused") == 0 and audit_lines(state_dir) == []

        await pilot.press("P")
        await pilot.press("y")
        await answered(pilot, app, f"PAUSE {SHOP_DB}: done")
        assert await db_flag(b, "paused") == 1
        held = asyncio.ensure_future(conn.fetchval("SELECT 7"))
        await until(pilot, lambda: f"pooler: {SHOP_DB} PAUSED" in header_text(app), "header")
        assert f"{SHOP_DB} PAUSED" in screen_text(app)  # on the pool's line too
        await asyncio.sleep(0.5)
        assert not held.done()

        await pilot.press("R")
        assert f"Resume database {SHOP_DB} on PgBouncer?" in confirm_text(app)
        await pilot.press("y")
        await answered(pilot, app, f"RESUME {SHOP_DB}: done")
        assert await asyncio.wait_for(held, 5) == 7
        await until(pilot, lambda: "PAUSED" not in header_text(app), "the header to clear")
        assert pane.selected_database() == SHOP_DB
    entries = audit_lines(state_dir)
    assert [(e["action"], e["database"], e["result"]) for e in entries] == [
        ("pgbouncer PAUSE", SHOP_DB, "done"),
        ("pgbouncer RESUME", SHOP_DB, "done"),
    ]


async def test_disable_enable_and_kill_from_the_keyboard(
    primary_pg: PostgresServer,
    bouncer: tuple[PgBouncerServer, asyncpg.Connection],
    state_dir: Path,
) -> None:
    b, conn = bouncer
    app = PgTopApp(target_for(primary_pg, pgbouncer=b))
    async with app.run_test(size=(80, 24)) as pilot:
        await open_shop_pool(pilot, app)
        await pilot.press("D", "y")
        await answered(pilot, app, f"DISABLE {SHOP_DB}: done")
        assert await db_flag(b, "disabled") == 1
        await until(pilot, lambda: "DISABLED" in header_text(app), "the header")
        await pilot.press("E", "y")
        await answered(pilot, app, f"ENABLE {SHOP_DB}: done")
        assert await db_flag(b, "disabled") == 0
        await pilot.press("C", "y")
        await answered(pilot, app, f"RECONNECT {SHOP_DB}: done")
        await pilot.press("K")
        assert "Kill all of database" in confirm_text(app)
        await pilot.press("y")
        await answered(pilot, app, f"KILL {SHOP_DB}: done")
        with pytest.raises((asyncpg.PostgresError, asyncpg.InterfaceError, OSError)):
            await asyncio.wait_for(conn.fetchval("SELECT 1"), 5)
        # KILL leaves the database paused, and pgtop says so.
        await until(pilot, lambda: f"{SHOP_DB} PAUSED" in header_text(app), "the header")
        # Its pools are gone, but the paused database keeps a line to resume it from.
        pane = app.query_one("#pooler", PoolerPane)
        await until(pilot, lambda: f"{SHOP_DB} PAUSED" in screen_text(app), "the pane line")
        shop_row = next(k for k in pane.table.rows if str(k.value).startswith(f"{SHOP_DB}\x1f"))
        pane.table.move_cursor(row=pane.table.get_row_index(shop_row))
        await pilot.press("R", "y")
        await answered(pilot, app, f"RESUME {SHOP_DB}: done")
    assert [e["action"] for e in audit_lines(state_dir)] == [
        "pgbouncer DISABLE",
        "pgbouncer ENABLE",
        "pgbouncer RECONNECT",
        "pgbouncer KILL",
        "pgbouncer RESUME",
    ]


async def test_reconnect_shows_until_the_held_server_is_released(
    primary_pg: PostgresServer,
    bouncer: tuple[PgBouncerServer, asyncpg.Connection],
) -> None:
    b, conn = bouncer
    tx = conn.transaction()
    await tx.start()
    before = await conn.fetchval("SELECT pg_backend_pid()")  # holds its server
    app = PgTopApp(target_for(primary_pg, pgbouncer=b))
    async with app.run_test(size=(80, 24)) as pilot:
        await open_shop_pool(pilot, app)
        await pilot.press("C")
        assert "Reconnect the server connections of database shop" in confirm_text(app)
        await pilot.press("y")
        await answered(pilot, app, f"RECONNECT {SHOP_DB}: done")
        await until(pilot, lambda: f"{SHOP_DB} RECONNECTING" in header_text(app), "header")
        await tx.commit()
        await until(pilot, lambda: "RECONNECTING" not in header_text(app), "header to clear")
    assert await conn.fetchval("SELECT pg_backend_pid()") != before


async def test_a_stats_user_sees_pgbouncers_refusal(
    primary_pg: PostgresServer,
    bouncer: tuple[PgBouncerServer, asyncpg.Connection],
    state_dir: Path,
) -> None:
    b, _ = bouncer
    target = replace(target_for(primary_pg), pooler=b.stats_dsn())
    app = PgTopApp(target)
    async with app.run_test(size=(80, 24)) as pilot:
        await open_shop_pool(pilot, app)
        await pilot.press("P", "y")
        await answered(pilot, app, "admin access needed")
        assert any("PAUSE shop: refused" in n for n in notifications(app))
    assert await db_flag(b, "paused") == 0
    (entry,) = audit_lines(state_dir)
    assert entry["result"] == "refused" and "admin access needed" in entry["detail"]


async def test_read_only_offers_no_pooler_command(
    primary_pg: PostgresServer,
    bouncer: tuple[PgBouncerServer, asyncpg.Connection],
    state_dir: Path,
) -> None:
    b, _ = bouncer
    app = PgTopApp(target_for(primary_pg, pgbouncer=b, read_only=True))
    async with app.run_test(size=(160, 48)) as pilot:
        await open_shop_pool(pilot, app)
        descriptions = {b.binding.description for b in app.screen.active_bindings.values()}
        assert not any("(pooler)" in d for d in descriptions)
        for key in ("P", "D", "K", "C"):
            await pilot.press(key)
            assert not isinstance(app.screen, ConfirmScreen)
            await pilot.press("y")
        assert any("read-only" in n for n in notifications(app))
        await pilot.press("enter")  # the pool's detail screen: no command there either
        assert isinstance(app.screen, PoolDetailScreen)
        await pilot.press("P", "k")
        assert isinstance(app.screen, PoolDetailScreen)
    assert await db_flag(b, "paused") == 0 and await db_flag(b, "disabled") == 0
    assert audit_lines(state_dir) == []


async def test_detail_screen_kill_client_says_which_version_it_needs_and_pauses(
    primary_pg: PostgresServer,
    bouncer: tuple[PgBouncerServer, asyncpg.Connection],
    state_dir: Path,
) -> None:
    b, _ = bouncer
    app = PgTopApp(target_for(primary_pg, pgbouncer=b))
    async with app.run_test(size=(100, 30)) as pilot:
        await open_shop_pool(pilot, app)
        await pilot.press("enter")
        assert isinstance(app.screen, PoolDetailScreen)
        detail = app.screen
        await until(pilot, lambda: detail.members.clients, "the pool's client")
        version = app.server.state.snapshot().pooler.version  # type: ignore[union-attr]
        await pilot.press("k")
        if version.startswith("1.1") or version < "1.24":
            assert not isinstance(app.screen, ConfirmScreen)
            await answered(pilot, app, "needs PgBouncer 1.24 or newer")
        else:
            assert "Kill client" in confirm_text(app)
            await pilot.press("n")
        await pilot.press("P")
        assert f"Pause database {SHOP_DB}" in confirm_text(app)
        await pilot.press("y")
        await answered(pilot, app, f"PAUSE {SHOP_DB}: done")
        await until(pilot, lambda: "PAUSED" in screen_text(app), "the detail title")
        await pilot.press("R", "y")
        await answered(pilot, app, f"RESUME {SHOP_DB}: done")
    assert await db_flag(b, "paused") == 0


async def test_two_pgbouncer_processes_both_take_it(
    primary_pg: PostgresServer,
    make_pgbouncer: Callable[..., PgBouncerServer],
    state_dir: Path,
) -> None:
    bouncers = [make_pgbouncer(primary_pg), make_pgbouncer(primary_pg)]
    conns = [
        await asyncpg.connect(b.client_dsn(APP_USER.name), statement_cache_size=0) for b in bouncers
    ]
    target = replace(
        target_for(primary_pg, pgbouncer=bouncers[0]), poolers=(bouncers[1].admin_dsn(),)
    )
    app = PgTopApp(target)
    try:
        async with app.run_test(size=(100, 30)) as pilot:
            await open_shop_pool(pilot, app)
            await pilot.press("D")
            assert "(2 processes)" in confirm_text(app)
            await pilot.press("y")
            await answered(pilot, app, f"DISABLE {SHOP_DB}: 2 of 2 PgBouncer processes took it")
            assert [await db_flag(b, "disabled") for b in bouncers] == [1, 1]
            await pilot.press("E", "y")
            await answered(pilot, app, f"ENABLE {SHOP_DB}: 2 of 2 PgBouncer processes took it")
    finally:
        for c in conns:
            c.terminate()
    assert [await db_flag(b, "disabled") for b in bouncers] == [0, 0]
    assert len(audit_lines(state_dir)) == 4  # a line per process and command


async def test_a_replay_has_no_pooler_keys(tmp_path: Path, state_dir: Path) -> None:
    """A recording of a paused pooler shows it paused, and offers nothing to act with."""
    from sample import sample_snapshot

    from pgtop.collect.record import Recorder
    from pgtop.collect.replay import load_recording
    from pgtop.target import Target

    snap = sample_snapshot()
    assert snap.pooler is not None
    paused = replace(snap.pooler.databases[0], paused=True)
    pooler = replace(snap.pooler, databases=(paused, *snap.pooler.databases[1:]))
    path = tmp_path / "r.pgtop"
    recorder = Recorder(path)
    for _ in range(2):
        recorder.record(replace(snap, pooler=pooler))
    recorder.close()
    app = PgTopApp(Target(read_only=True), replay=load_recording(path))
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.press("4")
        pane = app.query_one("#pooler", PoolerPane)
        await until(pilot, lambda: pane.table.row_count > 0, "the recorded pools")
        await until(pilot, lambda: f"{paused.name} PAUSED" in header_text(app), "the header")
        described = {b.binding.description for b in app.screen.active_bindings.values()}
        assert not any("(pooler)" in d for d in described)
        await pilot.press("P", "K", "R")
        assert not isinstance(app.screen, ConfirmScreen)
        assert not any("read-only" in n for n in notifications(app))  # no key at all
    assert audit_lines(state_dir) == []


async def test_a_pause_that_waits_never_holds_up_the_keys(
    primary_pg: PostgresServer,
    make_pgbouncer: Callable[..., PgBouncerServer],
    state_dir: Path,
) -> None:
    # Session pooling: PAUSE waits for this client to leave, i.e. past its deadline.
    b = make_pgbouncer(primary_pg)
    conn = await asyncpg.connect(b.client_dsn(APP_USER.name), statement_cache_size=0)
    await conn.execute("SELECT 1")
    app = PgTopApp(target_for(primary_pg, pgbouncer=b))
    try:
        async with app.run_test(size=(80, 24)) as pilot:
            await open_shop_pool(pilot, app)
            await pilot.press("P", "y")
            await until(pilot, lambda: app.server.acting.pooler_busy, "the PAUSE to go out")
            await pilot.press("P")  # a second command is not queued behind it
            assert not isinstance(app.screen, ConfirmScreen)
            await answered(pilot, app, "still waits for PgBouncer's answer")
            await pilot.press("1")  # and every other key works meanwhile
            assert app.server.current_pane() == "sessions"
            await answered(pilot, app, "the pause stays in effect")
            assert any(f"PAUSE {SHOP_DB}: unknown" in n for n in notifications(app))
            await until(pilot, lambda: f"{SHOP_DB} PAUSED" in header_text(app), "the header")
            await open_shop_pool(pilot, app)
            await pilot.press("R", "y")
            await answered(pilot, app, f"RESUME {SHOP_DB}: done")
    finally:
        conn.terminate()
    assert [e["result"] for e in audit_lines(state_dir)] == ["unknown", "done"]
