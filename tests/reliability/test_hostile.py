"""Hostile data from the server is shown literally and never reaches the terminal raw.

Query texts carry escape sequences (the server keeps them; application_name would turn
them into '?'), markup, control characters, a query as long as the server keeps, wide and
right-to-left text; names carry spaces and quotes. The sessions pane shows the visible
stand-ins from model.format, every line keeps its width, the inspect screen opens, and the
bytes the real `pgtop` writes to a pseudo-terminal contain none of the sequences.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import asyncpg
import pytest
from psycopg import sql
from rel_helpers import (
    QUERY_SIZE,
    assert_healthy,
    is_live,
    pgtop_env,
    run_pgtop_in_pty,
    running,
    screen_lines,
    table_lines,
    target_for,
    until,
)
from rich.cells import cell_len

from pgtop.model.format import one_line
from pgtop.ui.app import PgTopApp
from pgtop.ui.screens.inspect import InspectScreen
from pgtop.ui.widgets.sessions_table import SessionsTable
from support import PostgresServer, SessionFactory

ODD_DB = 'my "db" x'
ODD_ROLE = "o'brien x"
ODD_PASSWORD = 'it\'s a "pw"'
MARKUP_APP = "[@click=app.quit]app"  # application_name keeps printable ASCII

# name -> text placed first in a running query's SELECT list
PAYLOADS: dict[str, str] = {
    "sgr": "\x1b[38;5;199;48;5;17mPWN\x1b[2J",
    "osc-title": "\x1b]0;owned-by-data\x07",
    "osc52": "\x1b]52;c;ZXZpbA==\x07",
    "c1-csi": "\x9b31mC1-CSI",
    "markup": "[bold red]RED[/] [@click=app.quit]Q[/] [link=http://x]L[/link]",
    "controls": "".join(chr(c) for c in range(1, 32) if chr(c) not in "\t\n\v\f\r") + "END",
    "whitespace": "tab\there\nnew\r\nline",
    "wide": "漢字テスト全角 🐘🎉👩‍👩‍👧",
    "rtl": "\u202eRTL-OVERRIDE עברית العربية",
}
# Sequences that must never reach the terminal (distinctive, so Textual cannot emit them).
FORBIDDEN = [
    b"\x1b]0;owned-by-data",
    b"\x1b]52;c;ZXZpbA==",
    b"\x1b[38;5;199;48;5;17mPWN",
    "\x9b31mC1-CSI".encode(),
    "\u202eRTL-OVERRIDE".encode(),
]


def query_for(payload: str) -> str:
    return "SELECT '" + payload.replace("'", "''") + "' AS p, pg_sleep(60)"


@dataclass
class Hostile:
    pids: dict[str, int]  # payload name (and "long", "names") -> backend pid
    queries: dict[str, str]


@pytest.fixture(scope="module")
async def hostile(_rel_pg_server: PostgresServer) -> AsyncIterator[Hostile]:
    server = _rel_pg_server
    if not server.running:
        server.start()
    with server.admin_connect_sync() as conn:
        conn.execute(
            sql.SQL("CREATE ROLE {} LOGIN PASSWORD {}").format(
                sql.Identifier(ODD_ROLE), sql.Literal(ODD_PASSWORD)
            )
        )
        conn.execute(
            sql.SQL("CREATE DATABASE {} OWNER {}").format(
                sql.Identifier(ODD_DB), sql.Identifier(ODD_ROLE)
            )
        )
    factory = SessionFactory(server)
    pids: dict[str, int] = {}
    queries: dict[str, str] = {}

    async def start(name: str, query: str, conn: asyncpg.Connection) -> None:
        pid = await factory._pid(conn)
        factory._background(conn.execute(query))
        await factory._wait_state(pid, "state = 'active' AND query LIKE 'SELECT%pg_sleep%'")
        pids[name], queries[name] = pid, query

    try:
        for name, payload in PAYLOADS.items():
            conn = await factory.connect("postgres", "postgres", MARKUP_APP, server.password)
            await start(name, query_for(payload), conn)
        filler = "x" * (QUERY_SIZE + 500)  # longer than the server keeps
        conn = await factory.connect("postgres", "postgres", "long-query", server.password)
        # pg_sleep first: the server cuts the text at track_activity_query_size - 1 bytes.
        await start("long", f"SELECT pg_sleep(60), 'LONG {filler}' AS p", conn)
        conn = await factory.connect(ODD_ROLE, ODD_DB, "odd names", ODD_PASSWORD)
        await start("names", query_for("names"), conn)
        yield Hostile(pids, queries)
    finally:
        await factory.close()
        if server.running:
            with server.admin_connect_sync() as conn:
                conn.execute(sql.SQL("DROP DATABASE IF EXISTS {}").format(sql.Identifier(ODD_DB)))
                conn.execute(sql.SQL("DROP ROLE IF EXISTS {}").format(sql.Identifier(ODD_ROLE)))


def row_text(app: PgTopApp, pid: int) -> str:
    table = app.query_one(SessionsTable)
    assert table.move_cursor_to_pid(pid)
    index = next(i for i, s in enumerate(table.rows) if s.pid == pid)
    return table.render_line(index - int(table.scroll_y) + 1).text


async def test_sessions_pane_shows_hostile_data_literally(
    rel_pg: PostgresServer, hostile: Hostile
) -> None:
    width, height = 220, 40
    app = PgTopApp(target_for(rel_pg))
    async with running(app, (width, height)) as pilot:
        table = app.query_one(SessionsTable)
        await until(
            pilot, lambda: set(hostile.pids.values()) <= {s.pid for s in table.rows}, "sessions"
        )
        rows = {s.pid: s for s in table.rows}
        for name, payload in PAYLOADS.items():
            pid = hostile.pids[name]
            # The collector hands over the text exactly as the server has it ...
            assert payload in rows[pid].query, name
            # ... and the pane shows its visible stand-ins (whitespace collapsed).
            line = row_text(app, pid)
            expected = one_line(payload)[:24]
            assert expected in line, f"{name}: {expected!r} not in {line!r}"
            assert "[@click=app" in line, line  # markup in a name is text, not an action
        for line in table_lines(app):  # asserts each line's width, too
            assert not any(ch in line for ch in "\x1b\x07\x9b\u202e"), repr(line)
        for line in screen_lines(app):
            assert cell_len(line) == width, (cell_len(line), line)
        assert "␛]0;owned-by-data␇" in row_text(app, hostile.pids["osc-title"])
        assert "\\x9b31mC1-CSI" in row_text(app, hostile.pids["c1-csi"])
        assert "<U+202E>RTL-OVERRIDE" in row_text(app, hostile.pids["rtl"])
        assert "[@click=app.quit]Q[/]" in row_text(app, hostile.pids["markup"])

        long_query = rows[hostile.pids["long"]].query
        assert len(long_query.encode()) == QUERY_SIZE - 1  # what the server keeps
        names = rows[hostile.pids["names"]]
        assert (names.user, names.database) == (ODD_ROLE, ODD_DB)
        line = row_text(app, hostile.pids["names"])
        assert ODD_ROLE in line and ODD_DB in line, line
        assert_healthy(app)
        assert app.return_code is None  # [@click=app.quit] did not quit


async def test_inspect_opens_on_every_hostile_session(
    rel_pg: PostgresServer, hostile: Hostile
) -> None:
    app = PgTopApp(target_for(rel_pg))
    async with running(app, (120, 40)) as pilot:
        table = app.query_one(SessionsTable)
        await until(
            pilot, lambda: set(hostile.pids.values()) <= {s.pid for s in table.rows}, "sessions"
        )
        for name, pid in hostile.pids.items():
            assert table.move_cursor_to_pid(pid)
            app.server.sessions.action_inspect()
            await until(
                pilot,
                lambda p=pid: (
                    isinstance(app.screen, InspectScreen) and str(p) in "\n".join(screen_lines(app))
                ),
                f"the inspect screen of {name}",
            )
            text = "\n".join(screen_lines(app))
            assert not any(ch in text for ch in "\x1b\x07\x9b\u202e"), name
            if name == "osc-title":
                assert "␛]0;owned-by-data" in text, text
            app.pop_screen()
            await until(pilot, lambda: not isinstance(app.screen, InspectScreen), "back")
            assert_healthy(app)
        assert is_live(app)


def test_terminal_bytes_hold_nothing_from_the_data(
    rel_pg: PostgresServer, hostile: Hostile, tmp_path: Path
) -> None:
    """The real console script on a pty: the sequences never reach the terminal."""
    env = pgtop_env(tmp_path)
    run = run_pgtop_in_pty(
        [rel_pg.dsn(), "--refresh", "0.5"],
        env,
        cols=120,
        rows=40,
        wait_for="␛]0;owned-by-data".encode(),
    )
    assert run.returncode == 0, run.text[-2000:]
    assert run.quit_after < 5, f"took {run.quit_after:.1f} s to quit"
    for sequence in FORBIDDEN:
        assert sequence not in run.output, sequence
    # Any BEL is Textual's own (an OSC it sends ends with one), never one from the data.
    for i in (i for i, b in enumerate(run.output) if b == 0x07):
        start = run.output.rfind(b"\x1b]", 0, i)
        assert start >= 0 and b"owned" not in run.output[start:i], run.output[max(0, i - 40) : i]
    text = run.text
    assert "␛]0;owned-by-data" in text
    assert "[bold red]RED[/]" in text  # markup in the data is printed as text
    assert "Traceback" not in text
