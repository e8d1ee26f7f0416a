"""Acting safely: signals only reach the session that was shown, never pgtop itself,
never in read-only mode, and a refusal by the server is reported, not swallowed."""

from __future__ import annotations

import asyncio
import os
import signal
import time
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import pytest
from rel_helpers import (
    assert_healthy,
    conn_settings,
    header_text,
    is_live,
    running,
    target_for,
    until,
)
from textual.pilot import Pilot
from textual.widgets import Static

from pgtop.cli import build_parser, build_target
from pgtop.collect.actions import ActionRunner, guarded_sql
from pgtop.collect.postgres import PostgresCollector
from pgtop.model.records import Session
from pgtop.profiles import Profile, save_profile
from pgtop.ui.app import PgTopApp
from pgtop.ui.screens.confirm import ConfirmScreen
from pgtop.ui.screens.inspect import InspectScreen
from pgtop.ui.screens.profiles import ProfilePicker
from pgtop.ui.widgets.sessions_table import SessionsTable
from support import MONITOR, PostgresServer, SessionFactory
from support.pid_reuse import can_force_pids, connect_with_pid, wait_gone
from support.records import replace


@pytest.fixture
async def factory(rel_pg: PostgresServer) -> AsyncIterator[SessionFactory]:
    f = SessionFactory(rel_pg)
    yield f
    await f.close()


@pytest.fixture
async def collector(rel_pg: PostgresServer) -> AsyncIterator[PostgresCollector]:
    c = PostgresCollector(conn_settings(rel_pg))
    yield c
    await c.close()


async def alive(factory: SessionFactory, *pids: int) -> set[int]:
    admin = await factory.admin()
    rows = await admin.fetch(
        "SELECT pid FROM pg_stat_activity WHERE pid = ANY($1::int[])", list(pids)
    )
    return {r["pid"] for r in rows}


async def session_of(collector: PostgresCollector, pid: int) -> Session:
    snap = await collector.poll()
    return next(s for s in snap.sessions if s.pid == pid)


def notifications(app: PgTopApp) -> list[str]:
    return [str(n.message) for n in app._notifications]


def static_text(widget: Static) -> str:
    return str(widget.render())


def backend_session(pid: int, like: Session) -> Session:
    """A Session record for a backend the collector hides (pgtop's own)."""
    return replace(like, pid=pid)


async def test_no_signal_through_a_reused_pid(
    rel_pg: PostgresServer, factory: SessionFactory, collector: PostgresCollector
) -> None:
    pid = await factory.idle()
    shown = await session_of(collector, pid)
    assert shown.backend_start is not None
    # The screen's record says the backend started a second earlier: another session now.
    stale = replace(shown, backend_start=shown.backend_start - timedelta(seconds=1))
    runner = ActionRunner(conn_settings(rel_pg))
    try:
        for kind in ("cancel", "terminate"):
            (result,) = await runner.signal(kind, [stale])  # type: ignore[arg-type]
            assert result.outcome == "gone", result
        assert await alive(factory, pid) == {pid}
        # The true record does reach it (the guard is not simply refusing everything).
        (result,) = await runner.signal("terminate", [shown])
        assert result.outcome == "done", result
        await factory.wait_for(
            "SELECT NOT EXISTS (SELECT FROM pg_stat_activity WHERE pid = $1)", pid
        )
    finally:
        await runner.close()


async def test_pgtop_never_signals_its_own_backends(
    rel_pg: PostgresServer, factory: SessionFactory, collector: PostgresCollector
) -> None:
    other = await factory.idle()
    like = await session_of(collector, other)
    runner = ActionRunner(conn_settings(rel_pg))
    try:
        runner_pid = await runner.connect()
        collector.exclude_pid(runner_pid)
        own = collector.own_pids
        poller_pid = own[0]
        admin = await factory.admin()
        starts = {
            r["pid"]: r["backend_start"]
            for r in await admin.fetch(
                "SELECT pid, backend_start FROM pg_stat_activity WHERE pid = ANY($1::int[])",
                list(own),
            )
        }
        targets = [replace(like, pid=p, backend_start=starts[p]) for p in (poller_pid, runner_pid)]
        for kind in ("cancel", "terminate"):
            # As the app calls it: own pids protected.
            results = await runner.signal(kind, targets, protected=own)  # type: ignore[arg-type]
            assert [r.outcome for r in results] == ["refused", "refused"], results
            # Even if a caller forgot to protect them, the runner never signals itself.
            (result,) = await runner.signal(kind, [targets[1]])  # type: ignore[arg-type]
            assert result.outcome == "gone", result
        assert await alive(factory, poller_pid, runner_pid) == {poller_pid, runner_pid}
        assert collector.connected and runner_pid == runner.pid
        await collector.poll()  # the poller's connection still works
    finally:
        await runner.close()


async def test_read_only_has_no_path_to_a_signal(
    rel_pg: PostgresServer, factory: SessionFactory
) -> None:
    victim = await factory.active_sleep()
    app = PgTopApp(target_for(rel_pg, read_only=True))
    async with running(app, (120, 30)) as pilot:
        table = app.query_one(SessionsTable)
        await until(pilot, lambda: table.move_cursor_to_pid(victim), "the victim on screen")
        for key in ("c", "k", "K"):
            await pilot.press(key)
            assert not isinstance(app.screen, ConfirmScreen), key
        for action in ("cancel", "terminate", "terminate_database"):
            await app.run_action(action)
            await pilot.pause(0.05)
            assert not isinstance(app.screen, ConfirmScreen), action
        # The palette lists no cancel/terminate commands either.
        commands = {c.title for c in app.get_system_commands(app.screen)}
        assert not {"Cancel", "Terminate", "Kill all in db"} & commands, commands
        await pilot.pause(0.3)
        assert app.server.acting.runner is None, "read-only mode opened an action connection"
        assert await alive(factory, victim) == {victim}
        admin = await factory.admin()
        state = await admin.fetchval("SELECT state FROM pg_stat_activity WHERE pid = $1", victim)
        assert state == "active"  # not even cancelled
        assert_healthy(app)
        assert is_live(app)


async def test_refused_signal_is_reported_with_the_servers_message(
    rel_pg: PostgresServer, factory: SessionFactory, collector: PostgresCollector
) -> None:
    superuser_pid = await factory.idle(user=rel_pg.superuser, dbname="postgres")
    shown = await session_of(collector, superuser_pid)
    runner = ActionRunner(conn_settings(rel_pg, user=MONITOR.name))
    try:
        (result,) = await runner.signal("terminate", [shown])
    finally:
        await runner.close()
    assert result.outcome == "refused", result
    # The server's own words: "permission denied to terminate process" (16+) or
    # "must be a superuser to terminate superuser process" (15 and older).
    assert "permission denied" in result.detail or "superuser" in result.detail, result
    assert "\n" not in result.line
    assert await alive(factory, superuser_pid) == {superuser_pid}


# -- identity: marks and the inspect screen never follow a pid to a new backend -----------


async def _reuse_pid(factory: SessionFactory, pid: int, application_name: str) -> None:
    """End `pid`'s backend (as someone else would) and give its pid to a new session."""
    admin = await factory.admin()
    await admin.execute("SELECT pg_terminate_backend($1)", pid)
    await wait_gone(admin, pid)
    await connect_with_pid(pid, lambda: factory.connect(application_name=application_name))


def _needs_pid_reuse() -> None:
    if not can_force_pids():
        pytest.skip("forcing a pid needs root (/proc/sys/kernel/ns_last_pid)")


def _holds(app: PgTopApp, pid: int, application: str) -> bool:
    snap = app.server.state.pg_snapshot
    return snap is not None and any(
        s.pid == pid and s.application == application for s in snap.sessions
    )


def _confirm_text(app: PgTopApp) -> str:
    screen = app.screen
    assert isinstance(screen, ConfirmScreen)
    return screen.title_text + "\n" + str(screen.body)


async def test_a_mark_never_follows_its_pid_to_a_new_session(
    rel_pg: PostgresServer, factory: SessionFactory
) -> None:
    _needs_pid_reuse()
    tag = factory.tag
    first = await factory.idle(application_name=f"{tag}-marked-1")
    second = await factory.idle(application_name=f"{tag}-marked-2")
    newcomer_app = f"{tag}-newcomer"
    app = PgTopApp(target_for(rel_pg))
    async with running(app, (120, 30)) as pilot:
        table = app.query_one(SessionsTable)
        await until(pilot, lambda: {first, second} <= {s.pid for s in table.rows}, "both")
        await pilot.press("slash", *f"app:{tag}-marked", "enter")
        await until(pilot, lambda: {s.pid for s in table.rows} == {first, second}, "filtered")
        for pid in (first, second):
            assert table.move_cursor_to_pid(pid)
            await pilot.press("space")
        assert "2 marked" in header_text(app)
        # Paused, so no poll sees the pid free: it goes straight from the marked session
        # to the newcomer, which the filter hides.
        await pilot.press("p")
        await _reuse_pid(factory, first, newcomer_app)
        await pilot.press("p")
        await until(pilot, lambda: _holds(app, first, newcomer_app), "the newcomer polled")
        assert f"1 marked session ended: pid {first}" in notifications(app)
        assert set(table.marked) == {second}
        assert "1 marked" in header_text(app) and "2 marked" not in header_text(app)
        await pilot.press("k")
        text = _confirm_text(app)
        assert str(second) in text and str(first) not in text, text
        await pilot.press("y")
        await factory.wait_for(
            "SELECT NOT EXISTS (SELECT FROM pg_stat_activity WHERE pid = $1)", second
        )
        await until(
            pilot, lambda: any(f"terminate {second}: done" in n for n in notifications(app)), "done"
        )
        assert await alive(factory, first) == {first}  # the newcomer lives on
        assert _holds(app, first, newcomer_app)
        assert_healthy(app)


async def test_inspect_says_session_ended_and_never_acts_on_a_newcomer(
    rel_pg: PostgresServer, factory: SessionFactory
) -> None:
    _needs_pid_reuse()
    tag = factory.tag
    pid = await factory.idle(application_name=f"{tag}-inspected")
    newcomer_app = f"{tag}-newcomer"
    app = PgTopApp(target_for(rel_pg))
    async with running(app, (120, 30)) as pilot:
        table = app.query_one(SessionsTable)
        await until(pilot, lambda: table.move_cursor_to_pid(pid), "the session on screen")
        await pilot.press("enter")
        screen = app.screen
        assert isinstance(screen, InspectScreen)
        await pilot.press("p")  # the pid passes straight to the newcomer between two polls
        await _reuse_pid(factory, pid, newcomer_app)
        await pilot.press("p")
        await until(pilot, lambda: _holds(app, pid, newcomer_app), "the newcomer polled")
        await until(pilot, lambda: screen.ended, "the screen to notice")
        title = static_text(screen.query_one("#inspect-title", Static))
        fields = static_text(screen.query_one("#inspect-fields", Static))
        assert "session ended" in title, title
        assert f"{tag}-inspected" in title and newcomer_app not in title + fields
        assert screen.has_class("-ended")  # the last data stays, dimmed
        for key in ("k", "c"):
            await pilot.press(key)
            assert app.screen is screen, key  # no confirmation to hit the newcomer
            assert f"session ended: pid {pid}" in notifications(app)[-1]
        await pilot.pause(0.3)
        assert app.server.acting.runner is None
        assert await alive(factory, pid) == {pid}
        assert_healthy(app)


# -- what the confirmation names ---------------------------------------------------------


async def test_many_session_confirmation_lists_each_target_and_blocks_n(
    rel_pg: PostgresServer, factory: SessionFactory
) -> None:
    chain = await factory.lock_chain(waiters=2)
    idle = await factory.idle(application_name=f"{factory.tag}-idle-marked")
    app = PgTopApp(target_for(rel_pg))
    async with running(app, (120, 30)) as pilot:
        table = app.query_one(SessionsTable)
        await until(
            pilot,
            lambda: (
                all(
                    any(s.pid == w and s.blocked_by == (chain.holder,) for s in table.rows)
                    for w in chain.waiters[:1]
                )
                and table.move_cursor_to_pid(idle)
            ),
            "the lock chain on screen",
        )
        # One blocker alone: its confirmation says how many wait behind it.
        assert table.move_cursor_to_pid(chain.holder)
        await pilot.press("k")
        assert "blocks 2" in _confirm_text(app)
        await pilot.press("n")
        for pid in (chain.holder, idle):
            assert table.move_cursor_to_pid(pid)
            await pilot.press("space")
        await pilot.press("k")
        text = _confirm_text(app)
        assert "Terminate 2 marked sessions?" in text
        lines = text.splitlines()
        holder_line = next(line for line in lines if line.split()[:1] == [str(chain.holder)])
        idle_line = next(line for line in lines if line.split()[:1] == [str(idle)])
        assert "idle-tx" in holder_line and "blocks 2" in holder_line
        assert f"{factory.tag}-idle-marked"[:11] + "…" in idle_line and "blocks" not in idle_line
        assert "by user" in text  # the summary is still there
        await pilot.press("n")
        assert await alive(factory, chain.holder, idle) == {chain.holder, idle}


# -- marks after an action, and while paused ---------------------------------------------


async def test_marks_clear_after_a_cancel_and_count_at_once_while_paused(
    rel_pg: PostgresServer, factory: SessionFactory
) -> None:
    tag = factory.tag
    sleepers = [await factory.active_sleep(application_name=f"{tag}-sleeper-{i}") for i in (1, 2)]
    app = PgTopApp(target_for(rel_pg))
    async with running(app, (120, 30)) as pilot:
        table = app.query_one(SessionsTable)
        await until(pilot, lambda: all(table.move_cursor_to_pid(p) for p in sleepers), "both")
        await pilot.press("p")
        assert app.server.header_state.frame.status == "paused"
        for count, pid in enumerate(sleepers, start=1):
            assert table.move_cursor_to_pid(pid)
            await pilot.press("space")
            assert f"{count} marked" in header_text(app)  # no poll needed
        await pilot.press("space")  # on the next row: marks it too...
        await pilot.press("up", "space")  # ...and unmarks it again
        assert "2 marked" in header_text(app)
        await pilot.press("c", "y")
        await until(
            pilot, lambda: any("cancel: 2 done" in n for n in notifications(app)), "cancelled"
        )
        assert not table.marked
        assert "marked" not in header_text(app)  # still paused: redrawn without a poll
        assert not any(table.is_marked(s) for s in table.rows)
        assert app.server.header_state.frame.status == "paused"


# -- a signal the server does not answer -------------------------------------------------


async def test_a_signal_arriving_after_its_deadline_signals_nobody(
    factory: SessionFactory, collector: PostgresCollector
) -> None:
    """What a stopped backend finds in its socket when it wakes: a deadline that passed."""
    pid = await factory.idle()
    shown = await session_of(collector, pid)
    admin = await factory.admin()
    now = await admin.fetchval("SELECT clock_timestamp()")
    late = await admin.fetchrow(
        guarded_sql("terminate"), pid, shown.backend_start, [], now - timedelta(seconds=1)
    )
    assert late is not None and late["in_time"] is False and late["signalled"] is None
    assert await alive(factory, pid) == {pid}
    in_time = await admin.fetchrow(
        guarded_sql("terminate"), pid, shown.backend_start, [], now + timedelta(seconds=30)
    )
    assert in_time is not None and in_time["signalled"] is True  # only the deadline held it


def _stop(pid: int) -> None:
    try:
        os.kill(pid, signal.SIGSTOP)
    except PermissionError:
        pytest.skip("cannot signal the server's processes (tests not run as root/owner)")


async def test_runner_times_out_on_a_stopped_backend_and_queues_nothing(
    rel_pg: PostgresServer, factory: SessionFactory, collector: PostgresCollector
) -> None:
    victims = [await factory.idle(), await factory.idle()]
    first, second = [await session_of(collector, pid) for pid in victims]
    runner = ActionRunner(conn_settings(rel_pg))
    try:
        stuck = await runner.connect()
        _stop(stuck)
        try:
            started = time.monotonic()
            pending = asyncio.ensure_future(runner.signal("terminate", [first]))
            await asyncio.sleep(0.3)
            assert runner.busy
            # A second signal meanwhile is refused at once instead of waiting in line.
            (refused,) = await runner.signal("terminate", [second])
            assert refused.outcome == "not sent" and "pending" in refused.detail, refused
            assert time.monotonic() - started < 2
            (result,) = await pending
            took = time.monotonic() - started
        finally:
            os.kill(stuck, signal.SIGCONT)
        assert result.outcome == "not sent", result
        assert result.line == f"terminate {first.pid}: not sent (no answer in 5 s)"
        assert 5 <= took < 5 + 2, took
        assert not runner.busy and runner.pid is None  # the stuck connection was dropped
        # Once awake, the stuck backend reads what was queued, then its closed socket.
        await factory.wait_for(
            "SELECT NOT EXISTS (SELECT FROM pg_stat_activity WHERE pid = $1)", stuck
        )
        assert await alive(factory, *victims) == set(victims)
        (again,) = await runner.signal("terminate", [second])  # a fresh connection
        assert again.outcome == "done" and runner.pid not in (None, stuck), again
    finally:
        await runner.close()


async def test_terminate_key_on_a_stopped_action_backend_says_so_and_never_fires_later(
    rel_pg: PostgresServer, factory: SessionFactory
) -> None:
    victim = await factory.idle(application_name=f"{factory.tag}-victim")
    other = await factory.idle(application_name=f"{factory.tag}-other")
    app = PgTopApp(target_for(rel_pg))
    async with running(app, (120, 30)) as pilot:
        table = app.query_one(SessionsTable)
        await until(pilot, lambda: table.move_cursor_to_pid(victim), "the sessions on screen")
        # A first cancel (harmless on an idle session) opens the action connection.
        assert table.move_cursor_to_pid(other)
        await pilot.press("c", "y")
        await until(pilot, lambda: f"cancel {other}: done" in notifications(app), "cancel done")
        assert app.server.acting.runner is not None and app.server.acting.runner.pid is not None
        stuck = app.server.acting.runner.pid
        _stop(stuck)
        try:
            assert table.move_cursor_to_pid(victim)
            await pilot.press("k", "y")
            started = time.monotonic()
            await pilot.pause(0.3)
            assert table.move_cursor_to_pid(other)
            await pilot.press("k")
            assert not isinstance(app.screen, ConfirmScreen)  # nothing queues behind it
            assert "still waits for the server's answer" in notifications(app)[-1]
            line = f"terminate {victim}: not sent (no answer in 5 s)"
            await until(pilot, lambda: line in notifications(app), line, timeout=5 + 3)
            assert time.monotonic() - started < 5 + 2
            assert_healthy(app)
        finally:
            os.kill(stuck, signal.SIGCONT)
        await factory.wait_for(
            "SELECT NOT EXISTS (SELECT FROM pg_stat_activity WHERE pid = $1)", stuck
        )
        assert await alive(factory, victim, other) == {victim, other}
        assert is_live(app)


# -- profile switches: --read-only holds, marks go ----------------------------------------


@pytest.fixture
def saved_profiles(
    rel_pg: PostgresServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> list[str]:
    """Profiles "rw" and "ro" (read_only = true), both on rel_pg, in a private file."""
    monkeypatch.setenv("PGTOP_CONFIG", str(tmp_path / "config" / "profiles.toml"))
    monkeypatch.setenv("PGPASSWORD", rel_pg.password)  # nothing secret in the file
    conn = {
        "host": rel_pg.host,
        "port": str(rel_pg.port),
        "user": rel_pg.superuser,
        "dbname": "postgres",
    }
    for name, read_only in (("rw", False), ("ro", True)):
        save_profile(Profile(name=name, conn=conn, refresh=0.5, read_only=read_only))
    return ["rw", "ro"]


async def _switch_to(pilot: Pilot[None], app: PgTopApp, name: str, names: list[str]) -> None:
    """`o`, move to `name` in the picker, enter; until that server's data is back."""
    await pilot.press("o")
    await until(pilot, lambda: isinstance(app.screen, ProfilePicker), "the profile picker")
    step = names.index(name) - names.index(app.server.target.profile_name or names[0])
    await pilot.press(*(["down"] * step if step > 0 else ["up"] * -step), "enter")
    await until(
        pilot,
        lambda: app.server.target.profile_name == name and app.server.state.pg_snapshot is not None,
        f"data from profile {name}",
    )


async def _k_opens_a_confirmation(pilot: Pilot[None], app: PgTopApp, pid: int) -> bool:
    table = app.query_one(SessionsTable)
    await until(pilot, lambda: table.move_cursor_to_pid(pid), "the session on screen")
    await pilot.press("k")
    opened = isinstance(app.screen, ConfirmScreen)
    if opened:
        await pilot.press("n")
    else:
        assert "read-only" in notifications(app)[-1]
    return opened


async def test_read_only_from_the_command_line_holds_across_profile_switches(
    saved_profiles: list[str], factory: SessionFactory
) -> None:
    victim = await factory.idle()
    target = build_target(build_parser().parse_args(["-P", "rw", "--read-only"]))
    app = PgTopApp(target)
    async with running(app, (120, 30)) as pilot:
        assert not await _k_opens_a_confirmation(pilot, app, victim)
        await _switch_to(pilot, app, "rw", saved_profiles)  # the same profile again
        assert not await _k_opens_a_confirmation(pilot, app, victim)
        await _switch_to(pilot, app, "ro", saved_profiles)
        await _switch_to(pilot, app, "rw", saved_profiles)
        assert not await _k_opens_a_confirmation(pilot, app, victim)
        assert app.server.acting.runner is None, "read-only mode opened an action connection"
        assert "read-only" in notifications(app)[-1]
    assert await alive(factory, victim) == {victim}


async def test_a_profiles_own_read_only_applies_to_it_alone(
    saved_profiles: list[str], factory: SessionFactory
) -> None:
    victim = await factory.idle()
    app = PgTopApp(build_target(build_parser().parse_args(["-P", "rw"])))
    async with running(app, (120, 30)) as pilot:
        assert await _k_opens_a_confirmation(pilot, app, victim)
        await _switch_to(pilot, app, "ro", saved_profiles)
        assert not await _k_opens_a_confirmation(pilot, app, victim)
        await _switch_to(pilot, app, "rw", saved_profiles)
        assert await _k_opens_a_confirmation(pilot, app, victim)
    assert await alive(factory, victim) == {victim}


async def test_marks_are_cleared_by_a_profile_switch(
    saved_profiles: list[str], factory: SessionFactory
) -> None:
    marked = await factory.idle()
    app = PgTopApp(build_target(build_parser().parse_args(["-P", "rw"])))
    async with running(app, (120, 30)) as pilot:
        table = app.query_one(SessionsTable)
        await until(pilot, lambda: table.move_cursor_to_pid(marked), "the session on screen")
        await pilot.press("space")
        assert set(table.marked) == {marked}
        # Even onto the same server, where the marked session still runs.
        await _switch_to(pilot, app, "rw", saved_profiles)
        table = app.query_one(SessionsTable)  # the new server screen's
        await until(pilot, lambda: marked in {s.pid for s in table.rows}, "the session again")
        assert not table.marked
        assert "marked" not in header_text(app)
        assert not any("marked session" in n for n in notifications(app))
        await pilot.press("k")  # acts on the cursor's session, not on a leftover mark
        assert "Terminate this session on rw?" in _confirm_text(app)  # a profile names its server
        await pilot.press("n")
