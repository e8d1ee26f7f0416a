"""Acting safely: signals only reach the session that was shown, never pgtop itself,
never in read-only mode, and a refusal by the server is reported, not swallowed."""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator
from datetime import timedelta

import pytest
from rel_helpers import assert_healthy, conn_settings, is_live, running, target_for, until

from pgtop.collect.actions import ActionRunner
from pgtop.collect.postgres import PostgresCollector
from pgtop.model.records import Session
from pgtop.ui.app import PgTopApp
from pgtop.ui.screens.confirm import ConfirmScreen
from pgtop.ui.widgets.sessions_table import SessionsTable
from support import MONITOR, PostgresServer, SessionFactory


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


def backend_session(pid: int, like: Session) -> Session:
    """A Session record for a backend the collector hides (pgtop's own)."""
    return dataclasses.replace(like, pid=pid)


async def test_no_signal_through_a_reused_pid(
    rel_pg: PostgresServer, factory: SessionFactory, collector: PostgresCollector
) -> None:
    pid = await factory.idle()
    shown = await session_of(collector, pid)
    assert shown.backend_start is not None
    # The screen's record says the backend started a second earlier: another session now.
    stale = dataclasses.replace(shown, backend_start=shown.backend_start - timedelta(seconds=1))
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
        targets = [
            dataclasses.replace(like, pid=p, backend_start=starts[p])
            for p in (poller_pid, runner_pid)
        ]
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
        assert app._runner is None, "read-only mode opened an action connection"
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
