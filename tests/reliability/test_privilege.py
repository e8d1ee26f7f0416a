"""Too little privilege: pgtop shows what it can, says what is missing, and breaks nothing."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from rel_helpers import (
    assert_healthy,
    header_text,
    is_live,
    running,
    screen_lines,
    table_lines,
    target_for,
    until,
)
from textual.widgets import ContentSwitcher, Static

from pgtop.ui.app import PgTopApp
from pgtop.ui.widgets.sessions_table import SessionsTable
from support import APP_USER, PLAIN_USER, PgBouncerServer, PostgresServer, SessionFactory

SIZE = (120, 30)
INSUFFICIENT = "<insufficient privilege>"


@pytest.fixture
async def factory(rel_pg: PostgresServer) -> AsyncIterator[SessionFactory]:
    f = SessionFactory(rel_pg)
    yield f
    await f.close()


async def test_plain_user_sees_hidden_sessions_and_a_hint(
    rel_pg: PostgresServer, factory: SessionFactory
) -> None:
    others = {
        await factory.idle(user=APP_USER.name),
        await factory.active_sleep(user=APP_USER.name),
        await factory.idle_in_transaction(user=APP_USER.name),
    }
    app = PgTopApp(target_for(rel_pg, user=PLAIN_USER.name))
    async with running(app, SIZE) as pilot:
        table = app.query_one(SessionsTable)
        await until(pilot, lambda: others <= {s.pid for s in table.rows}, "other users' sessions")
        snap = app.server.state.pg_snapshot
        assert snap is not None
        assert snap.server.can_see_all is False
        assert snap.server.current_user == PLAIN_USER.name
        rows = {s.pid: s for s in table.rows}
        for pid in others:
            assert rows[pid].query == INSUFFICIENT, rows[pid]
            assert rows[pid].state is None, rows[pid]
            assert rows[pid].user == APP_USER.name  # who it is stays visible
        lines = table_lines(app)  # also: every line is the widget's width
        assert sum(INSUFFICIENT in line for line in lines) >= len(others)

        text = header_text(app)
        assert "limited view" in text and "GRANT pg_monitor" in text, text
        # Hidden states are counted as hidden, not as idle.
        counts = next(line for line in text.splitlines() if line.startswith("conns"))
        hidden = sum(1 for s in snap.sessions if s.is_client and s.state is None)
        assert hidden >= len(others)  # ours plus the factory's admin connection
        assert f" {hidden} hidden" in counts, counts
        assert "  0 act 0 idle 0 idle-tx" in counts, counts

        # Every pane still draws.
        for key, pane in (("2", "databases"), ("3", "limits"), ("4", "pooler"), ("1", "sessions")):
            await pilot.press(key)
            await until(pilot, lambda p=pane: app.query_one(ContentSwitcher).current == p, pane)
            await pilot.pause(0.1)
            assert_healthy(app)
        assert is_live(app)


async def test_pooler_user_not_in_stats_or_admin_users(
    rel_pg: PostgresServer, rel_bouncer: PgBouncerServer
) -> None:
    # app_user is in PgBouncer's userlist but in neither admin_users nor stats_users.
    pooler = rel_bouncer.client_dsn(APP_USER.name, dbname="pgbouncer")
    app = PgTopApp(target_for(rel_pg, pooler=pooler))
    async with running(app, SIZE) as pilot:
        await until(
            pilot,
            lambda: app.server.state.pooler_error is not None and is_live(app),
            "pooler error",
        )
        error = app.server.state.pooler_error or ""
        assert "\n" not in error
        assert "admin_users" in error or "stats_users" in error or "not allowed" in error, error
        await pilot.press("4")
        await until(
            pilot,
            lambda: app.query_one("#pooler #pooler-message", Static).display,
            "the pooler pane's message",
        )
        shown = "\n".join(screen_lines(app))
        assert "PgBouncer: " in shown and "stats_users" in shown, shown
        assert_healthy(app)
