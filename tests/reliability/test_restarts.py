"""Servers going away and coming back while pgtop runs.

PostgreSQL restarted (fast and immediate), PgBouncer stopped and started, pgtop's own
backend terminated by someone else: pgtop says why it is reconnecting, keeps the last data
on screen marked stale, and is live again within two refreshes of the server accepting
connections, whatever the password came from. No traceback and no busy loop meanwhile.
"""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from rel_helpers import (
    RECOVERY_BUDGET,
    assert_healthy,
    header_text,
    is_live,
    live_since,
    running,
    screen_lines,
    target_for,
    until,
    utcnow,
)
from textual.widgets import Static

from pgtop.profiles import apply_password_command
from pgtop.target import Target
from pgtop.ui.app import PgTopApp
from pgtop.ui.widgets.sessions_table import SessionsTable
from support import PgBouncerServer, PostgresServer, SessionFactory

SIZE = (100, 30)


@pytest.fixture
async def factory(rel_pg: PostgresServer) -> SessionFactory:
    f = SessionFactory(rel_pg)
    yield f  # type: ignore[misc]
    await f.close()


@pytest.mark.parametrize("mode", ["fast", "immediate"])
async def test_postgres_restart_shows_reconnecting_then_recovers(
    rel_pg: PostgresServer, factory: SessionFactory, mode: str
) -> None:
    idle_pid = await factory.idle()
    app = PgTopApp(target_for(rel_pg))
    async with running(app, SIZE) as pilot:
        table = app.query_one(SessionsTable)
        await until(pilot, lambda: any(s.pid == idle_pid for s in table.rows), "the idle session")

        await asyncio.to_thread(rel_pg.stop, mode)
        await until(
            pilot, lambda: app.server.header_state.frame.status == "reconnecting", "reconnecting"
        )
        reason = app.server.header_state.frame.reason
        assert reason and "\n" not in reason, f"reason must be one non-empty line: {reason!r}"
        assert table.rows, "the last data must stay visible while reconnecting"
        assert table.stale, "the last data must be marked stale"
        text = header_text(app)
        assert "reconnecting" in text and "stale: data from" in text, text
        assert_healthy(app)

        await asyncio.to_thread(rel_pg.start)
        since = utcnow()
        took = await until(pilot, lambda: live_since(app, since), "live data after the restart")
        assert took <= RECOVERY_BUDGET, f"live again {took:.2f} s after start (> {RECOVERY_BUDGET})"
        assert not table.stale
        assert app.server.header_state.frame.reason == ""
        assert_healthy(app)


async def test_no_busy_loop_while_postgres_is_down(rel_pg: PostgresServer) -> None:
    app = PgTopApp(target_for(rel_pg))
    async with running(app, SIZE) as pilot:
        await until(pilot, lambda: is_live(app), "live")
        await asyncio.to_thread(rel_pg.stop, "fast")
        await until(
            pilot, lambda: app.server.header_state.frame.status == "reconnecting", "reconnecting"
        )
        failures_before = app.server.feed.pg_poller.failures
        cpu0, wall0 = time.process_time(), time.monotonic()
        while time.monotonic() - wall0 < 3.0:  # a measurement window, not a wait
            await pilot.pause(0.1)
        cpu = time.process_time() - cpu0
        retries = app.server.feed.pg_poller.failures - failures_before
        assert cpu < 1.0, f"{cpu:.2f} s CPU in 3 s while the server was down: a busy loop"
        # Retries once per refresh (0.5 s): about 6 in 3 s, never a tight loop.
        assert 2 <= retries <= 9, f"{retries} connection attempts in 3 s"
        assert app.server.header_state.frame.status == "reconnecting"
        assert_healthy(app)
        await asyncio.to_thread(rel_pg.start)
        since = utcnow()
        await until(pilot, lambda: live_since(app, since), "live again")


def pooler_message(app: PgTopApp) -> Static:
    return app.query_one("#pooler #pooler-message", Static)


def tab_line(app: PgTopApp) -> str:
    return next(line for line in screen_lines(app) if "1 Sessions" in line)


async def test_pgbouncer_stop_and_start(
    rel_pg: PostgresServer, rel_bouncer: PgBouncerServer
) -> None:
    app = PgTopApp(target_for(rel_pg, pooler=rel_bouncer.admin_dsn()))
    async with running(app, SIZE) as pilot:
        await until(
            pilot,
            lambda: (
                app.server.state.pooler_snapshot is not None
                and app.server.state.pooler_error is None
                and is_live(app)
            ),
            "PostgreSQL and PgBouncer data",
        )
        await asyncio.to_thread(rel_bouncer.stop)
        await until(pilot, lambda: app.server.state.pooler_error is not None, "a pooler error")
        error = app.server.state.pooler_error
        assert error and "\n" not in error and "pooler" in error
        await until(pilot, lambda: "Pooler !" in tab_line(app), "the ! badge on the Pooler tab")
        # PostgreSQL is unaffected: still live, still getting new snapshots.
        since = utcnow()
        await until(pilot, lambda: live_since(app, since), "PostgreSQL data, pooler down")
        assert_healthy(app)

        await asyncio.to_thread(rel_bouncer.start)
        since = utcnow()
        took = await until(
            pilot,
            lambda: (
                app.server.state.pooler_error is None
                and app.server.state.pooler_snapshot is not None
                and app.server.state.pooler_snapshot.polled_at > since
            ),
            "pooler data after PgBouncer restarted",
        )
        assert took <= RECOVERY_BUDGET, f"pooler back {took:.2f} s after start"
        await until(pilot, lambda: "Pooler !" not in tab_line(app), "the badge cleared")
        assert_healthy(app)


async def test_pooler_pane_and_header_say_pgbouncer_is_down(
    rel_pg: PostgresServer, rel_bouncer: PgBouncerServer
) -> None:
    app = PgTopApp(target_for(rel_pg, pooler=rel_bouncer.admin_dsn()))
    async with running(app, SIZE) as pilot:
        await until(
            pilot, lambda: app.server.state.pooler_snapshot is not None and is_live(app), "data"
        )
        await pilot.press("4")
        await asyncio.to_thread(rel_bouncer.stop)
        await until(pilot, lambda: app.server.state.pooler_error is not None, "a pooler error")
        await pilot.pause(2 * 0.5)  # let both panes redraw from the error
        message = pooler_message(app)
        shown = "\n".join(screen_lines(app))
        assert message.display and "PgBouncer: " in shown, shown
        assert app.query_one("#pooler").has_class("-stale"), "old pools must be dimmed"
        assert "pooler: unreachable" in header_text(app)


async def test_own_backend_terminated_recovers(rel_pg: PostgresServer) -> None:
    app = PgTopApp(target_for(rel_pg))
    async with running(app, SIZE) as pilot:
        await until(pilot, lambda: is_live(app), "live")
        old = app.server.feed.postgres.own_pids
        admin = await rel_pg.admin_connect()
        try:
            killed = await admin.fetchval(
                "SELECT bool_and(pg_terminate_backend(p)) FROM unnest($1::int[]) p", list(old)
            )
        finally:
            await admin.close()
        assert killed
        since = utcnow()
        took = await until(
            pilot,
            lambda: live_since(app, since) and app.server.feed.postgres.own_pids[0] != old[0],
            "live on a new backend",
        )
        assert took <= RECOVERY_BUDGET + 2 * 0.5, f"took {took:.2f} s"
        assert_healthy(app)


# -- whatever the password came from, reconnecting works --------------------------------


def _prompt(server: PostgresServer, tmp: Path, mp: pytest.MonkeyPatch) -> tuple[Target, str | None]:
    return target_for(server, with_password=False), server.password


def _uri(server: PostgresServer, tmp: Path, mp: pytest.MonkeyPatch) -> tuple[Target, str | None]:
    return target_for(server), None


def _command(
    server: PostgresServer, tmp: Path, mp: pytest.MonkeyPatch
) -> tuple[Target, str | None]:
    target = target_for(server, with_password=False).replace(
        password_command=f"printf %s '{server.password}'"
    )
    target = apply_password_command(target)
    assert target.postgres.get("password") == server.password
    return target, None


def _pgpass(server: PostgresServer, tmp: Path, mp: pytest.MonkeyPatch) -> tuple[Target, str | None]:
    pgpass = tmp / ".pgpass"
    pgpass.write_text(f"{server.host}:{server.port}:*:{server.superuser}:{server.password}\n")
    pgpass.chmod(0o600)
    return target_for(server, with_password=False), None


def _pgpassword(
    server: PostgresServer, tmp: Path, mp: pytest.MonkeyPatch
) -> tuple[Target, str | None]:
    mp.setenv("PGPASSWORD", server.password)
    return target_for(server, with_password=False), None


PASSWORD_SOURCES: dict[
    str, Callable[[PostgresServer, Path, pytest.MonkeyPatch], tuple[Target, str | None]]
] = {
    "prompt": _prompt,
    "uri": _uri,
    "password_command": _command,
    "pgpass": _pgpass,
    "PGPASSWORD": _pgpassword,
}


@pytest.mark.parametrize("source", list(PASSWORD_SOURCES))
async def test_reconnects_whatever_the_password_source(
    rel_pg: PostgresServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, source: str
) -> None:
    home = tmp_path / "home"
    home.mkdir()
    # Only the source under test may supply the password: no stray ~/.pgpass or PG* vars.
    monkeypatch.setenv("HOME", str(home))
    for var in ("PGPASSWORD", "PGPASSFILE", "PGSERVICE", "PGSERVICEFILE"):
        monkeypatch.delenv(var, raising=False)
    target, password = PASSWORD_SOURCES[source](rel_pg, home, monkeypatch)
    assert os.environ["HOME"] == str(home)
    app = PgTopApp(target, password=password)
    async with running(app, SIZE) as pilot:
        await until(pilot, lambda: is_live(app), f"live with the password from {source}")
        await asyncio.to_thread(rel_pg.restart, "fast")
        since = utcnow()
        took = await until(pilot, lambda: live_since(app, since), "live after the restart")
        assert took <= RECOVERY_BUDGET + 0.5, f"took {took:.2f} s"
        assert_healthy(app)
