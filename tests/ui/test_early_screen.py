"""The early screen (ui/early_screen.py) is the app's first screen drawn before Textual is
up: the same text at the same places, at every size, so that when the app takes over
nothing moves. Each case draws one snapshot both ways and reads them side by side.
No server: the sample snapshot, with more sessions where the table must scroll."""

from __future__ import annotations

import io
import re
from datetime import timedelta

import pytest
from live import until
from sample import SESSIONS, fixed_app, sample_snapshot
from textual.app import App

from pgtop.model.records import ACTIVE, IDLE, IDLE_IN_TRANSACTION, Snapshot
from pgtop.target import ConnSettings, Target
from pgtop.ui import alt_screen, early_screen
from support.records import replace

STATES = (IDLE, ACTIVE, IDLE_IN_TRANSACTION, IDLE)


def crowded_snapshot(extra: int) -> Snapshot:
    """The sample with `extra` more sessions (varied states and ages) behind its own."""
    snap = sample_snapshot()
    base = SESSIONS[1]
    more = tuple(
        replace(
            base,
            pid=300 + i,
            state=STATES[i % 4],
            state_change=base.state_change - timedelta(seconds=7 * i),
            query=f"select {i} from orders where id = {i * 13}",
        )
        for i in range(extra)
    )
    return replace(snap, sessions=snap.sessions + more)


def app_lines(app: App[None]) -> list[str]:
    return [strip.text for strip in app.screen._compositor.render_strips()]


def sample_target() -> Target:
    """fixed_app's target."""
    return Target(ConnSettings({"host": "db1", "port": "5432"}), pooler="x", refresh=60)


def early_text(snap: Snapshot, cols: int, rows: int) -> list[str]:
    lines = early_screen.early_lines(snap, sample_target(), cols, rows)
    return [line.plain.rstrip() for line in lines]


@pytest.mark.parametrize(
    ("cols", "rows", "extra"),
    [(80, 24, 0), (80, 24, 60), (120, 40, 60), (160, 40, 60), (200, 50, 100), (100, 30, 10)],
)
async def test_the_early_screen_draws_the_app_first_screen_in_place(
    cols: int, rows: int, extra: int
) -> None:
    snap = crowded_snapshot(extra)
    app = fixed_app(snap)
    async with app.run_test(size=(cols, rows)) as pilot:
        await until(pilot, lambda: "select" in "".join(app_lines(app)), "the sessions")
        drawn = app_lines(app)
        early = early_text(snap, cols, rows)
    table_end = 5 + early_screen.table_height(cols, rows)
    assert len(early) == min(table_end, 6 + len(snap.sessions) - 1)  # no background row
    # The server and connections lines, and the rates' (one poll: no tps yet), as drawn.
    assert early[:3] == [line.rstrip() for line in drawn[:3]]
    # The view's summary ends the notes line (the findings come before it, later).
    assert drawn[3].rstrip().endswith(early[3].strip())
    assert drawn[4].startswith(early[4])  # the tabs, before their badges come
    # The column header and every row: the same text in the same cells; the app then
    # adds only the scrollbar in the last column when the rows overflow.
    for y in range(5, len(early)):
        assert drawn[y][: len(early[y])] == early[y], f"line {y}"
        assert not drawn[y][len(early[y]) :].strip(" ▁▂▃▄▅▆▇█"), f"line {y} has more"
    # Below the last row: the app shows no further session either (its footer, the side
    # panes' border, or blank table lines when the sessions do not fill it).
    assert "select" not in drawn[len(early)], "the app's table is longer"


def test_the_early_screen_leaves_the_terminal_as_found_if_the_app_never_starts() -> None:
    snap = crowded_snapshot(30)
    text = early_screen.ansi(early_screen.early_lines(snap, sample_target(), 100, 30), 100)
    # On the alternate screen, cursor hidden, each line placed by its row (the column
    # header on line 6), nothing left to wrap or scroll: pid 101 says it blocks 104.
    assert text.startswith("\x1b[?1049h\x1b[?25l") and "\n" not in text
    placed = re.split(r"\x1b\[(\d+);1H", text)[1:]
    lines = {int(y): line for y, line in zip(placed[::2], placed[1::2], strict=True)}
    assert sorted(lines) == list(range(1, 30)) and "PID" in lines[6]
    (row,) = [line for line in lines.values() if "    101 " in line]
    assert "blocks 1 · " in row
    terminal = io.StringIO()
    alt_screen.early_screen_shown()  # as show() leaves it
    alt_screen.restore(terminal)
    assert terminal.getvalue().endswith("\x1b[?25h\x1b[?1049l")  # cursor back, screen left
    alt_screen.restore(terminal)  # once only: a second would move the cursor back
    assert terminal.getvalue().count("\x1b[?1049l") == 1


def test_no_color_draws_the_early_screen_without_colours(monkeypatch: pytest.MonkeyPatch) -> None:
    lines = early_screen.early_lines(crowded_snapshot(30), sample_target(), 100, 30)
    assert re.search(r"\x1b\[[0-9;]*3[1-7]m", early_screen.ansi(lines, 100)), "no colour at all"
    monkeypatch.setenv("NO_COLOR", "1")
    lines = early_screen.early_lines(crowded_snapshot(30), sample_target(), 100, 30)
    text = early_screen.ansi(lines, 100)
    assert not re.search(r"\x1b\[[0-9;]*3[0-9]m", text), "a colour despite NO_COLOR"
    assert "\x1b[1;7m" in text  # the column header stays bold and reversed, as in the app


def test_escape_codes_in_a_query_reach_the_early_screen_as_text() -> None:
    hostile = "select '[bold]x[/]' /* \x1b[2J\x1b]0;pwned\x07\x1b[31m \r\n */"
    snap = crowded_snapshot(0)
    snap = replace(snap, sessions=(replace(snap.sessions[0], query=hostile), *snap.sessions[1:]))
    text = early_screen.ansi(early_screen.early_lines(snap, sample_target(), 120, 30), 120)
    body = text.removeprefix(alt_screen.ENTER)
    assert "\x1b]" not in body and "\x07" not in body and "\x1b[2J" not in body
    assert "\r" not in body and "\n" not in body
    assert "select '[bold]x[/]' /* ␛[2J␛]" in body  # shown as typed, escapes as symbols
