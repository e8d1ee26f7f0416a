"""Servers that stop answering: pgtop times out, keeps answering keys, and recovers.

(a) pgtop's own backend SIGSTOPped mid-run (as root we may signal the `postgres` user's
processes); (b) a TCP listener that accepts and never replies, as the PostgreSQL target
and as the pooler.
"""

from __future__ import annotations

import os
import signal
import time

import pytest
from rel_helpers import (
    REFRESH,
    assert_healthy,
    assert_keys_answer,
    is_live,
    live_since,
    running,
    silent_listener,
    target_for,
    until,
    utcnow,
)

from pgtop.target import ConnSettings, Target
from pgtop.ui.app import PgTopApp
from support import PostgresServer

SIZE = (100, 30)
POLL_TIMEOUT = max(5.0, 3 * REFRESH)  # as collect/monitor.poll_timeout sets it


def _can_signal(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except PermissionError:
        return False
    return True


async def test_stopped_backend_times_out_keys_answer_and_recovers(rel_pg: PostgresServer) -> None:
    app = PgTopApp(target_for(rel_pg))
    async with running(app, SIZE) as pilot:
        await until(pilot, lambda: is_live(app), "live")
        (pid,) = app.server.feed.postgres.own_pids
        if not _can_signal(pid):
            pytest.skip("cannot signal the server's processes (tests not run as root/owner)")
        stopped_at = time.monotonic()
        os.kill(pid, signal.SIGSTOP)
        try:
            took = await until(
                pilot,
                lambda: app.server.header_state.frame.status == "reconnecting",
                "the poll to time out",
                timeout=POLL_TIMEOUT + 2 * REFRESH + 3,
            )
            # Stopping happens between polls or mid-poll: either way, one poll timeout at most.
            assert time.monotonic() - stopped_at <= POLL_TIMEOUT + REFRESH + 1.5, took
            reason = app.server.header_state.frame.reason
            assert f"no answer in {POLL_TIMEOUT:g} s" in reason, reason
            assert "\n" not in reason
            await assert_keys_answer(pilot, app)
            assert_healthy(app)
        finally:
            os.kill(pid, signal.SIGCONT)
        since = utcnow()
        await until(pilot, lambda: live_since(app, since), "live again after SIGCONT")
        assert app.server.feed.postgres.own_pids and app.server.feed.postgres.own_pids[0] != pid
        assert_healthy(app)


async def test_keys_answer_during_a_stuck_poll(rel_pg: PostgresServer) -> None:
    """Mid-poll, not only after the timeout: the poll waits, the UI does not."""
    app = PgTopApp(target_for(rel_pg))
    async with running(app, SIZE) as pilot:
        await until(pilot, lambda: is_live(app), "live")
        (pid,) = app.server.feed.postgres.own_pids
        if not _can_signal(pid):
            pytest.skip("cannot signal the server's processes")
        os.kill(pid, signal.SIGSTOP)
        try:
            await pilot.pause(2 * REFRESH)  # a poll is now waiting on the stopped backend
            assert app.server.header_state.frame.status == "live"  # not timed out yet (5 s)
            await assert_keys_answer(pilot, app)
            assert app.server.header_state.frame.status == "live"  # all of that while the poll hung
        finally:
            os.kill(pid, signal.SIGCONT)
        since = utcnow()
        await until(pilot, lambda: live_since(app, since), "live after SIGCONT")
        assert_healthy(app)


async def test_silent_postgres_target_at_start_exits_with_one_line() -> None:
    """A server that accepts and never answers, from the start: no hang, no traceback.

    At start-up a failure to connect is far more often a wrong host or port than an
    outage, so pgtop says why in one line and exits (mid-run it retries: see the
    SIGSTOP tests above).
    """
    with silent_listener() as port:
        target = Target(
            postgres=ConnSettings(
                {"host": "127.0.0.1", "port": str(port), "user": "x", "dbname": "x"}
            ),
            refresh=REFRESH,
            connect_timeout=1.0,
        )
        app = PgTopApp(target, password="x")
        started = time.monotonic()
        async with app.run_test(size=SIZE) as pilot:
            await until(pilot, lambda: app.exit_message is not None, "an exit message", 6)
        assert time.monotonic() - started < 6
        message = app.exit_message or ""
        assert "timed out" in message or "no answer" in message, message
        assert "\n" not in message


async def test_silent_pooler_does_not_delay_postgres(rel_pg: PostgresServer) -> None:
    with silent_listener() as port:
        target = target_for(
            rel_pg, pooler=f"postgresql://x@127.0.0.1:{port}/pgbouncer", connect_timeout=1.0
        )
        app = PgTopApp(target)
        async with running(app, SIZE) as pilot:
            await until(pilot, lambda: is_live(app), "live")
            await until(
                pilot, lambda: app.server.state.pooler_error is not None, "a pooler error", 6
            )
            error = app.server.state.pooler_error or ""
            assert any(w in error for w in ("timed out", "timeout", "no answer")), error
            # PostgreSQL snapshots keep arriving every refresh while the pooler hangs.
            seen: list[object] = []
            start = time.monotonic()
            while time.monotonic() - start < 2.0:
                snap = app.server.state.pg_snapshot
                if snap is not None and (not seen or seen[-1] is not snap):
                    seen.append(snap)
                await pilot.pause(0.05)
            assert len(seen) >= 3, f"only {len(seen)} PostgreSQL snapshots in 2 s at 0.5 s"
            await assert_keys_answer(pilot, app)
            assert is_live(app)
            assert_healthy(app)
