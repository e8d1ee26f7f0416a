"""Helpers for driving the whole PgTopApp against real servers under Pilot.

Nothing here sleeps for a fixed time: `until` polls a condition while letting the app
run, and fails with a description of what it waited for.
"""

from __future__ import annotations

import io
import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import asyncpg
from rich.console import Console
from rich.style import Style
from textual.app import App
from textual.pilot import Pilot
from textual.widgets import Static

from pgtop.model.records import Session
from pgtop.target import ConnSettings, Target
from pgtop.ui.widgets.sessions_table import SessionsTable
from support import PgBouncerServer, PostgresServer
from support.roles import password_for

REFRESH = 0.5  # the fastest refresh pgtop allows: keeps the tests short


def target_for(
    server: PostgresServer,
    *,
    pgbouncer: PgBouncerServer | None = None,
    user: str | None = None,
    read_only: bool = False,
) -> Target:
    user = user or server.superuser
    password = server.password if user == server.superuser else password_for(user)
    settings = ConnSettings(
        {
            "host": server.host,
            "port": str(server.port),
            "user": user,
            "dbname": "postgres",
            "password": password,
        }
    )
    return Target(
        postgres=settings,
        pooler=pgbouncer.admin_dsn() if pgbouncer else None,
        refresh=REFRESH,
        read_only=read_only,
    )


async def until(
    pilot: Pilot[Any], condition: Callable[[], object], what: str, timeout: float = 10.0
) -> None:
    """Let the app run until `condition()` is truthy; fail after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:g} s waiting for {what}")
        await pilot.pause(0.05)


def sessions_table(app: App[Any]) -> SessionsTable:
    return app.query_one(SessionsTable)


def shown(app: App[Any]) -> dict[int, Session]:
    """The sessions pane's rows by pid."""
    return {s.pid: s for s in sessions_table(app).rows}


def shows_all(app: App[Any], *pids: int) -> bool:
    return set(pids) <= set(shown(app))


def line_of(table: SessionsTable, pid: int) -> str:
    """The text the table draws for `pid`'s row (whether or not it is scrolled into view)."""
    index = next(i for i, s in enumerate(table.rows) if s.pid == pid)
    return table.render_line(index - int(table.scroll_y) + 1).text


def cursor_line(table: SessionsTable) -> str | None:
    """The text of the line drawn with the cursor (reverse) style, if one is on screen."""
    for y in range(1, table.size.height):
        strip = table.render_line(y)
        styles = [seg.style for seg in strip if seg.text.strip()]
        if styles and all(isinstance(st, Style) and st.reverse for st in styles):
            return strip.text
    return None


def screen_text(app: App[Any]) -> str:
    return "\n".join(strip.text for strip in app.screen._compositor.render_strips())


def static_text(widget: Static, width: int = 200) -> str:
    """What a Static shows, rendered without wrapping at `width` cells."""
    out = io.StringIO()
    Console(file=out, width=width, color_system=None, legacy_windows=False).print(widget.content)
    return out.getvalue()


def notifications(app: App[Any]) -> list[str]:
    return [n.message for n in app._notifications]


def audit_lines(state_dir: Path) -> list[dict[str, Any]]:
    path = state_dir / "audit.log"
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


async def alive(admin: asyncpg.Connection, *pids: int) -> set[int]:
    """Which of `pids` pg_stat_activity still lists."""
    rows = await admin.fetch(
        "SELECT pid FROM pg_stat_activity WHERE pid = ANY($1::int[])", list(pids)
    )
    return {r["pid"] for r in rows}
