"""Acting from the keyboard against a real server: filter, mark, sort, inspect, cancel and
terminate, with the server (pg_stat_activity) and the audit log as the judges."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from pathlib import Path

import pytest
from live import (
    alive,
    audit_lines,
    notifications,
    screen_text,
    sessions_table,
    shown,
    shows_all,
    static_text,
    target_for,
    until,
)
from textual import events
from textual.pilot import Pilot
from textual.widgets import Static

from pgtop.collect.actions import ActionRunner
from pgtop.collect.postgres import PostgresCollector
from pgtop.ui.app import PgTopApp
from pgtop.ui.screens.confirm import ConfirmScreen
from pgtop.ui.screens.help import HelpScreen
from pgtop.ui.screens.inspect import InspectScreen
from pgtop.ui.widgets.databases_pane import DatabasesPane
from pgtop.ui.widgets.sessions_table import SessionsTable
from support import MONITOR, SHOP_DB, PostgresServer, SessionFactory
from support.records import replace


@pytest.fixture(autouse=True)
def state_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("PGTOP_STATE_DIR", str(tmp_path))
    return tmp_path


async def type_filter(pilot: Pilot[None], text: str, *, key_by_key: bool = False) -> None:
    """`/`, the text, enter. Key by key is what a user does but costs ~0.1 s a key, so
    other tests paste it, which the prompt takes the same way as typed text."""
    app = pilot.app
    await pilot.press("slash")
    assert app.server.sessions.filter_prompt.open
    assert app.server.header_state.prompt == ""  # the prompt line is drawn in the header
    if key_by_key:
        await pilot.press(*text)
    else:
        app.query_one(SessionsTable).post_message(events.Paste(text))
        await pilot.pause()
    assert app.server.sessions.filter_prompt.text == text
    await pilot.press("enter")
    assert not app.server.sessions.filter_prompt.open


def confirm_text(app: PgTopApp) -> str:
    screen = app.screen
    assert isinstance(screen, ConfirmScreen)
    return screen.title_text + "\n" + str(screen.body)


def action_workers(app: PgTopApp) -> list[object]:
    return [w for w in app.workers if w.group == "actions"]


async def test_filter_then_terminate_hits_exactly_the_chosen_backend(
    primary_pg: PostgresServer, primary_workload: SessionFactory, state_dir: Path
) -> None:
    tag = primary_workload.tag
    names = [f"{tag}-alpha", f"{tag}-beta", f"{tag}-gamma"]
    pids = [await primary_workload.idle(application_name=n) for n in names]
    victim, *others = pids
    admin = await primary_workload.admin()
    app = PgTopApp(target_for(primary_pg))
    async with app.run_test(size=(80, 24)) as pilot:
        await until(pilot, lambda: shows_all(app, *pids), "the three idle sessions")
        await type_filter(pilot, f"app:{names[0]}", key_by_key=True)
        assert app.server.header_state.filter_text == f"app:{names[0]}"
        await until(pilot, lambda: list(shown(app)) == [victim], "only the chosen session")
        assert sessions_table(app).has_focus
        await pilot.press("k")
        assert isinstance(app.screen, ConfirmScreen)
        text = confirm_text(app)
        assert "Terminate this session?" in text and str(victim) in text
        assert str(victim) in screen_text(app)
        await pilot.press("y")
        assert not isinstance(app.screen, ConfirmScreen)
        await until(pilot, lambda: audit_lines(state_dir), "the audit log entry")
        await primary_workload.wait_for(
            "SELECT NOT EXISTS (SELECT FROM pg_stat_activity WHERE pid = $1)", victim
        )
        assert await alive(admin, *pids) == set(others)
        await until(pilot, lambda: victim not in shown(app), "the victim leaving the list")
        assert any(f"terminate {victim}: done" in n for n in notifications(app))
    (entry,) = audit_lines(state_dir)
    assert entry["pid"] == victim
    assert entry["action"] == "terminate"
    assert entry["result"] == "done"
    assert entry["application"] == names[0]


@pytest.mark.parametrize("answer", ["n", "escape"])
async def test_terminate_declined_leaves_session_running(
    primary_pg: PostgresServer, primary_workload: SessionFactory, state_dir: Path, answer: str
) -> None:
    pid = await primary_workload.idle()
    admin = await primary_workload.admin()
    app = PgTopApp(target_for(primary_pg))
    async with app.run_test(size=(80, 24)) as pilot:
        await until(pilot, lambda: shows_all(app, pid), "the idle session")
        assert sessions_table(app).move_cursor_to_pid(pid)
        await pilot.press("k")
        assert isinstance(app.screen, ConfirmScreen)
        assert str(pid) in confirm_text(app)
        await pilot.press(answer)
        assert not isinstance(app.screen, ConfirmScreen)
        assert action_workers(app) == []  # nothing was sent...
        await pilot.press("ctrl+r")
        await pilot.pause(0.3)
        assert pid in shown(app)
    assert await alive(admin, pid) == {pid}  # ...and the server agrees
    assert audit_lines(state_dir) == []


async def test_guarded_terminate_skips_a_session_whose_start_differs(
    primary_pg: PostgresServer, primary_workload: SessionFactory
) -> None:
    pid = await primary_workload.idle()
    admin = await primary_workload.admin()
    settings = target_for(primary_pg).postgres
    collector = PostgresCollector(settings)
    runner = ActionRunner(settings)
    try:
        snap = await collector.poll()
        session = next(s for s in snap.sessions if s.pid == pid)
        assert session.backend_start is not None
        earlier = session.backend_start - timedelta(seconds=5)
        stale = replace(session, backend_start=earlier)
        (result,) = await runner.signal("terminate", [stale])
        assert result.outcome == "gone" and result.pid == pid
        assert await alive(admin, pid) == {pid}
        # The very same call with the real backend_start does signal: the guard is the
        # only thing that held it back.
        (result,) = await runner.signal("terminate", [session])
        assert result.outcome == "done"
        await primary_workload.wait_for(
            "SELECT NOT EXISTS (SELECT FROM pg_stat_activity WHERE pid = $1)", pid
        )
    finally:
        await runner.close()
        await collector.close()


async def test_terminate_all_sessions_of_a_database(
    primary_pg: PostgresServer, primary_workload: SessionFactory, state_dir: Path
) -> None:
    shop = [
        await primary_workload.idle(),
        await primary_workload.idle(),
        await primary_workload.active_sleep(),
        await primary_workload.idle_in_transaction(),
    ]
    elsewhere = [await primary_workload.idle(dbname="postgres") for _ in range(2)]
    admin = await primary_workload.admin()
    shop_clients_sql = """
        SELECT count(*) FROM pg_stat_activity
         WHERE backend_type = 'client backend' AND datname = $1
    """
    app = PgTopApp(target_for(primary_pg))
    async with app.run_test(size=(80, 24)) as pilot:
        await until(pilot, lambda: shows_all(app, *shop, *elsewhere), "the workload")
        await pilot.press("2")
        pane = app.query_one("#databases", DatabasesPane)
        assert pane.has_focus
        await until(pilot, lambda: pane.row_count > 0, "the databases pane")
        for _ in range(pane.row_count):
            if pane.selected_database() == SHOP_DB:
                break
            await pilot.press("down")
        assert pane.selected_database() == SHOP_DB
        expected = int(await admin.fetchval(shop_clients_sql, SHOP_DB))
        await pilot.press("K")
        assert isinstance(app.screen, ConfirmScreen)
        text = confirm_text(app)
        assert f"Terminate all {expected} client sessions of database {SHOP_DB}?" in text
        await pilot.press("y")
        await until(pilot, lambda: audit_lines(state_dir), "the audit log entries")
        await primary_workload.wait_for(
            "SELECT NOT EXISTS (SELECT FROM pg_stat_activity"
            " WHERE backend_type = 'client backend' AND datname = $1)",
            SHOP_DB,
        )
        assert await alive(admin, *shop) == set()
        assert await alive(admin, *elsewhere) == set(elsewhere)
        own = set(app.server.feed.postgres.own_pids)
        assert len(own) == 2  # the poller's connection and the one that sent the signals
        pgtop_pids = {
            r["pid"]
            for r in await admin.fetch(
                "SELECT pid FROM pg_stat_activity WHERE application_name = 'pgtop'"
            )
        }
        assert own <= pgtop_pids
        # The app keeps polling on its (untouched) connection; back on the sessions pane
        # nothing is left in shop.
        await pilot.press("1")
        await until(
            pilot,
            lambda: not any(s.database == SHOP_DB for s in shown(app).values()),
            "the shop sessions leaving the list",
        )
        assert set(elsewhere) <= set(shown(app))
        assert app.server.header_state.frame.status == "live"
    entries = audit_lines(state_dir)
    assert {e["pid"] for e in entries} >= set(shop)
    assert {e["result"] for e in entries} == {"done"}
    assert {e["database"] for e in entries} == {SHOP_DB}


async def test_read_only_mode_never_signals(
    primary_pg: PostgresServer, primary_workload: SessionFactory, state_dir: Path
) -> None:
    pid = await primary_workload.idle()
    admin = await primary_workload.admin()
    app = PgTopApp(target_for(primary_pg, read_only=True))
    async with app.run_test(size=(160, 48)) as pilot:
        await until(pilot, lambda: shows_all(app, pid), "the idle session")
        assert sessions_table(app).move_cursor_to_pid(pid)
        descriptions = {b.binding.description for b in app.screen.active_bindings.values()}
        assert "Terminate" not in descriptions and "Cancel" not in descriptions
        assert "Terminate" not in screen_text(app)  # the footer does not offer it
        await pilot.press("k")
        assert not isinstance(app.screen, ConfirmScreen)
        await pilot.press("y")
        assert any("read-only" in n for n in notifications(app))
        assert action_workers(app) == []
        for key in ("c", "K"):
            await pilot.press(key)
            assert not isinstance(app.screen, ConfirmScreen)
        await pilot.press("ctrl+r")
        await pilot.pause(0.3)
        assert pid in shown(app)
    assert await alive(admin, pid) == {pid}
    assert audit_lines(state_dir) == []


async def test_refused_signal_is_reported(
    primary_pg: PostgresServer, primary_workload: SessionFactory, state_dir: Path
) -> None:
    # monitor is pg_monitor but not superuser: it sees the superuser's session, and the
    # server refuses to let it terminate one.
    pid = await primary_workload.idle(user=primary_pg.superuser, dbname="postgres")
    admin = await primary_workload.admin()
    app = PgTopApp(target_for(primary_pg, user=MONITOR.name))
    async with app.run_test(size=(80, 24)) as pilot:
        await until(pilot, lambda: shows_all(app, pid), "the superuser's session")
        await type_filter(pilot, f"pid:{pid}")
        await until(pilot, lambda: list(shown(app)) == [pid], "only the superuser's session")
        await pilot.press("k")
        assert str(pid) in confirm_text(app)
        await pilot.press("y")
        await until(pilot, lambda: audit_lines(state_dir), "the audit log entry")
        (entry,) = audit_lines(state_dir)
        assert entry["pid"] == pid and entry["result"] == "refused"
        assert entry["detail"]  # the server's reason, e.g. "permission denied ..."
        assert any(f"terminate {pid}: refused" in n for n in notifications(app))
    assert await alive(admin, pid) == {pid}


async def test_sort_and_filter_keep_the_cursor_on_its_session(
    primary_pg: PostgresServer, primary_workload: SessionFactory
) -> None:
    tag = primary_workload.tag
    pids = [
        await primary_workload.idle(application_name=f"{tag}-keep-c"),
        await primary_workload.idle_in_transaction(application_name=f"{tag}-keep-a"),
        await primary_workload.active_sleep(application_name=f"{tag}-keep-b"),
        await primary_workload.idle(application_name=f"{tag}-other"),
    ]
    chosen = pids[0]
    app = PgTopApp(target_for(primary_pg))
    async with app.run_test(size=(80, 24)) as pilot:
        await until(pilot, lambda: shows_all(app, *pids), "the sessions")
        table = sessions_table(app)
        assert table.move_cursor_to_pid(chosen)
        orders = {tuple(s.pid for s in table.rows)}
        for key in ("s", "s", "s", "r", "greater_than_sign", "less_than_sign", "r"):
            await pilot.press(key)
            assert table.cursor_pid == chosen, (
                f"after {key!r} (sort {app.server.sessions.view.sort})"
            )
            orders.add(tuple(s.pid for s in table.rows))
        assert len(orders) > 1, "the sort keys never changed the order"
        await type_filter(pilot, f"app:{tag}-keep")
        await until(pilot, lambda: set(shown(app)) == set(pids[:3]), "the filtered rows")
        assert table.cursor_pid == chosen
        # The cursor is drawn on the chosen session's line, not just remembered.
        index = [s.pid for s in table.rows].index(chosen)
        assert table.render_line(index - int(table.scroll_y) + 1).text.split()[0] == str(chosen)


async def test_marked_sessions_are_cancelled_together(
    primary_pg: PostgresServer, primary_workload: SessionFactory, state_dir: Path
) -> None:
    tag = primary_workload.tag
    sleepers = [
        await primary_workload.active_sleep(application_name=f"{tag}-sleeper-1"),
        await primary_workload.active_sleep(application_name=f"{tag}-sleeper-2"),
    ]
    bystander = await primary_workload.active_sleep(application_name=f"{tag}-bystander")
    app = PgTopApp(target_for(primary_pg))
    async with app.run_test(size=(80, 24)) as pilot:
        await until(pilot, lambda: shows_all(app, *sleepers, bystander), "the sleepers")
        await type_filter(pilot, f"app:{tag}-sleeper")
        await until(pilot, lambda: set(shown(app)) == set(sleepers), "only the sleepers")
        table = sessions_table(app)
        assert table.move_cursor_to_pid(table.rows[0].pid)
        await pilot.press("space", "space")
        assert set(table.marked) == set(sleepers)
        await pilot.press("c")
        text = confirm_text(app)
        assert "Cancel 2 marked sessions?" in text
        await pilot.press("y")
        await until(pilot, lambda: len(audit_lines(state_dir)) == 2, "two audit entries")
        assert {(e["pid"], e["action"], e["result"]) for e in audit_lines(state_dir)} == {
            (pid, "cancel", "done") for pid in sleepers
        }
        await primary_workload.wait_for(
            "SELECT NOT EXISTS (SELECT FROM pg_stat_activity"
            " WHERE pid = ANY($1::int[]) AND state = 'active')",
            sleepers,
        )
        admin = await primary_workload.admin()
        states = dict(
            await admin.fetch(
                "SELECT pid, state FROM pg_stat_activity WHERE pid = ANY($1::int[])",
                [*sleepers, bystander],
            )
        )
        # Cancelled, not terminated: the sessions live on, idle; the bystander still sleeps.
        assert states == {sleepers[0]: "idle", sleepers[1]: "idle", bystander: "active"}
        await until(pilot, lambda: not table.marked, "the marks cleared after the action")


async def test_inspect_shows_whole_query_and_locks(
    primary_pg: PostgresServer, primary_workload: SessionFactory
) -> None:
    chain = await primary_workload.lock_chain(waiters=0)
    conn = await primary_workload.connect()
    waiter = int(await conn.fetchval("SELECT pg_backend_pid()"))
    padding = "x" * 300
    query = f"SELECT count(*), '{padding}' AS pad, 'tail-marker' AS tail FROM \"{chain.table}\""
    task = asyncio.ensure_future(conn.fetchval(query))
    try:
        await primary_workload.wait_for(
            "SELECT EXISTS (SELECT FROM pg_stat_activity"
            " WHERE pid = $1 AND wait_event_type = 'Lock')",
            waiter,
        )
        app = PgTopApp(target_for(primary_pg))
        async with app.run_test(size=(160, 48)) as pilot:
            await until(pilot, lambda: shows_all(app, waiter), "the waiting session")
            assert "tail-marker" not in screen_text(app)  # cut in the table...
            assert sessions_table(app).move_cursor_to_pid(waiter)
            await pilot.press("enter")
            screen = app.screen
            assert isinstance(screen, InspectScreen) and screen.pid == waiter
            locks = screen.query_one("#inspect-locks", Static)
            await until(pilot, lambda: "WAITING" in static_text(locks), "the waiter's locks")
            query_text = static_text(screen.query_one("#inspect-query", Static), width=400)
            assert padding in query_text and "tail-marker" in query_text  # ...whole here
            assert "AccessShareLock" in static_text(locks)
            blocking = static_text(screen.query_one("#inspect-blocking", Static))
            assert f"blocked by: {chain.holder}" in blocking
            assert str(waiter) in static_text(screen.query_one("#inspect-title", Static))
            await pilot.press("escape")
            assert not isinstance(app.screen, InspectScreen)
            assert sessions_table(app).cursor_pid == waiter
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)


async def test_help_and_palette_list_the_keys(primary_pg: PostgresServer) -> None:
    app = PgTopApp(target_for(primary_pg))
    async with app.run_test(size=(120, 40)) as pilot:
        await until(pilot, lambda: app.server.state.pg_snapshot is not None, "the first snapshot")
        await pilot.press("question_mark")
        screen = app.screen
        assert isinstance(screen, HelpScreen)
        described = dict((d, k) for k, d in screen.keys)
        for description in ("Filter", "Inspect", "Sort", "Cancel", "Terminate", "Pause"):
            assert description in described, description
        assert described["Terminate"] == "k"
        shown_text = "".join(static_text(w) for w in screen.query(Static))
        assert "Terminate" in shown_text and "Keys of the Sessions pane" in shown_text
        await pilot.press("escape")
        assert not isinstance(app.screen, HelpScreen)
        titles = {c.title for c in app.get_system_commands(app.screen)}
        assert {"Filter", "Terminate", "Cancel", "Lock tree"} <= titles


async def inspect_waiter(pilot: Pilot[None], waiter: int) -> InspectScreen:
    """Open the inspect screen on `waiter` and wait until its locks are loaded."""
    app = pilot.app
    await until(pilot, lambda: shows_all(app, waiter), "the waiting session")
    assert sessions_table(app).move_cursor_to_pid(waiter)
    await pilot.press("enter")
    screen = app.screen
    assert isinstance(screen, InspectScreen)
    locks = screen.query_one("#inspect-locks", Static)
    await until(pilot, lambda: "WAITING" in static_text(locks), "the waiter's locks")
    return screen


async def test_leaving_inspect_stops_polling_its_locks(
    primary_pg: PostgresServer, primary_workload: SessionFactory
) -> None:
    chain = await primary_workload.lock_chain(waiters=1)
    app = PgTopApp(target_for(primary_pg))
    async with app.run_test(size=(80, 24)) as pilot:
        await inspect_waiter(pilot, chain.waiters[0])
        await pilot.press("escape")
        assert not isinstance(app.screen, InspectScreen)
        assert app.server.state.pg_snapshot is not None
        left_at = app.server.state.pg_snapshot.server.snapshot_time
        await until(
            pilot,
            lambda: (
                app.server.state.pg_snapshot is not None
                and app.server.state.pg_snapshot.server.snapshot_time > left_at
            ),
            "a poll after leaving the inspect screen",
        )
        assert app.server.feed.postgres.inspect_pid is None
        assert app.server.state.pg_snapshot.inspected_pid is None


async def test_inspect_names_the_relation_in_another_database(
    primary_pg: PostgresServer, primary_workload: SessionFactory
) -> None:
    chain = await primary_workload.lock_chain(waiters=1)  # in shop; pgtop is on postgres
    app = PgTopApp(target_for(primary_pg))
    async with app.run_test(size=(80, 24)) as pilot:
        await inspect_waiter(pilot, chain.waiters[0])
        assert app.server.state.pg_snapshot is not None
        (waiting,) = [
            lock for lock in app.server.state.pg_snapshot.inspected_locks if not lock.granted
        ]
        relation = waiting.relation or ""
        # The table's name, or at least which database the OID belongs to.
        assert chain.table in relation or SHOP_DB in relation, relation


def _burst(app: PgTopApp, text: str) -> None:
    """Keys arriving in one read, as a paste or a laggy SSH link delivers them: all queued
    before the app has handled the first (Pilot.press waits after each key)."""
    names = {"/": "slash", " ": "space", ":": "colon"}
    for ch in text:
        app.post_message(events.Key(names.get(ch, ch), ch))


async def test_keys_right_behind_the_slash_go_into_the_filter(primary_pg: PostgresServer) -> None:
    """ "/cron" in one burst must filter on "cron", not sort (r) and open profiles (o)."""
    app = PgTopApp(target_for(primary_pg))
    async with app.run_test(size=(100, 30)) as pilot:
        await until(pilot, lambda: app.server.state.pg_snapshot is not None, "a first snapshot")
        _burst(app, "/cron")
        await until(
            pilot, lambda: app.server.sessions.filter_prompt.text == "cron", "the filter text"
        )
        assert app.server.sessions.view.sort is None and not app.server.sessions.view.reverse
        assert app.screen is app.default_screen
        await pilot.press("escape")
        # From another pane too: "/" brings the sessions pane back, the rest is typed.
        await pilot.press("2")
        _burst(app, "/ksr")
        await until(
            pilot, lambda: app.server.sessions.filter_prompt.text == "ksr", "the filter text"
        )
        assert app.query_one("#panes").current == "sessions"  # type: ignore[attr-defined]
        assert not isinstance(app.screen, ConfirmScreen) and app.server.sessions.view.sort is None
        await pilot.press("escape")
        # Elsewhere "/" is just a character: the command palette's input gets it.
        await pilot.press("ctrl+p")
        await pilot.press("a", "slash", "b")
        palette_input = app.screen.query_one("Input")
        assert palette_input.value == "a/b"  # type: ignore[attr-defined]
        assert not app.server.sessions.filter_prompt.open


async def test_keys_typed_into_the_filter_do_not_act(primary_pg: PostgresServer) -> None:
    """While the prompt is open, `k`, `s` or `c` are letters of the filter, not actions."""
    app = PgTopApp(target_for(primary_pg))
    async with app.run_test(size=(100, 30)) as pilot:
        await until(pilot, lambda: app.server.state.pg_snapshot is not None, "a first snapshot")
        await pilot.press("slash", "k", "s", "c")
        assert app.server.sessions.filter_prompt.text == "ksc"
        assert not isinstance(app.screen, ConfirmScreen)
        assert app.server.sessions.view.sort is None
        assert app.server.header_state.filter_text == "ksc"
        await pilot.press("escape")
        assert (
            not app.server.sessions.filter_prompt.open and app.server.header_state.filter_text == ""
        )
