"""The terminal: resizing while refreshing, NO_COLOR, and terminals with few colours."""

from __future__ import annotations

from pathlib import Path

import pytest
from rel_helpers import (
    assert_healthy,
    live_since,
    pgtop_env,
    run_pgtop_in_pty,
    running,
    screen_lines,
    table_lines,
    target_for,
    until,
    utcnow,
)
from rich.cells import cell_len
from textual.widgets import ContentSwitcher

from pgtop.ui.app import PgTopApp
from pgtop.ui.widgets.sessions_table import SessionsTable
from support import PostgresServer, SessionFactory

SIZES = [(80, 24), (40, 12), (250, 70), (120, 40), (80, 24)]


@pytest.mark.parametrize("no_color", [False, True], ids=["color", "NO_COLOR"])
async def test_resizing_while_refreshing(
    rel_pg: PostgresServer, monkeypatch: pytest.MonkeyPatch, no_color: bool
) -> None:
    if no_color:
        monkeypatch.setenv("NO_COLOR", "1")
    else:
        monkeypatch.delenv("NO_COLOR", raising=False)
    factory = SessionFactory(rel_pg)
    try:
        pids = {await factory.idle(), await factory.active_sleep()}
        app = PgTopApp(target_for(rel_pg))
        async with running(app, SIZES[0]) as pilot:
            table = app.query_one(SessionsTable)
            await until(pilot, lambda: pids <= {s.pid for s in table.rows}, "the sessions")
            for width, height in SIZES:
                await pilot.resize_terminal(width, height)
                since = utcnow()
                await until(
                    pilot, lambda t=since: live_since(app, t), f"a refresh at {width}x{height}"
                )
                await pilot.pause(0.05)
                assert app.size == (width, height)
                lines = screen_lines(app)
                assert len(lines) == height
                assert all(cell_len(line) == width for line in lines), (width, lines)
                assert table_lines(app)  # each line exactly the table's width
                await pilot.press("down", "up")
                await pilot.press("2")
                await until(
                    pilot, lambda: app.query_one(ContentSwitcher).current == "databases", "key 2"
                )
                await pilot.press("1")
                assert_healthy(app)
    finally:
        await factory.close()


async def test_wide_layout_follows_each_resize(rel_pg: PostgresServer) -> None:
    app = PgTopApp(target_for(rel_pg))
    async with running(app, (80, 24)) as pilot:
        seen = []
        for width, height in [(250, 70), (120, 40), (200, 50), (80, 24)]:
            await pilot.resize_terminal(width, height)
            await pilot.pause(0.1)
            seen.append(((width, height), app.screen.has_class("-wide")))
        assert seen == [
            ((250, 70), True),
            ((120, 40), False),
            ((200, 50), True),
            ((80, 24), False),
        ]


@pytest.mark.parametrize(
    ("term", "no_color"), [("xterm", False), ("vt100", True)], ids=["xterm", "vt100-NO_COLOR"]
)
def test_real_terminal_with_few_colours(
    rel_pg: PostgresServer, tmp_path: Path, term: str, no_color: bool
) -> None:
    env = pgtop_env(tmp_path, TERM=term, **({"NO_COLOR": "1"} if no_color else {}))
    run = run_pgtop_in_pty(
        [rel_pg.dsn(), "--refresh", "0.5"],
        env,
        cols=80,
        rows=24,
        wait_for=b"live",
        min_seconds=2.5,
        resizes=[(40, 12), (160, 50), (80, 24)],
    )
    assert run.returncode == 0, run.text[-2000:]
    assert run.quit_after < 5
    text = run.text
    assert "live" in text and "Traceback" not in text, text[-2000:]
    if term == "xterm" and not no_color:
        assert b"\x1b[38;2;" not in run.output, "truecolor sent to a 256/8-colour terminal"
    if no_color:
        assert b"\x1b[38;5;" not in run.output and b"\x1b[38;2;" not in run.output
