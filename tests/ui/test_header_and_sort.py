"""The header at any width, and the sort keys, on the whole app fed a fixed snapshot."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from rich.style import Style
from sample import NOW, fixed_app, sample_snapshot
from textual.pilot import Pilot

from pgtop.model.records import Snapshot
from pgtop.ui.app import PgTopApp
from pgtop.ui.widgets.header import StatusHeader
from pgtop.ui.widgets.sessions_table import SessionsTable
from support.records import replace


def header_lines(app: PgTopApp) -> list[str]:
    return [text.plain for text in app.query_one(StatusHeader).lines()]


async def started(pilot: Pilot[Any]) -> None:
    app = pilot.app
    for _ in range(50):
        if app.server.state.pg_snapshot is not None:
            break
        await pilot.pause(0.05)
    await pilot.pause()


def busy_snapshot() -> Snapshot:
    """Long figures everywhere: a long host name, a 9-minute transaction, four-digit
    connection counts and a pooled client queued for over a minute."""
    snap = sample_snapshot()
    sessions = tuple(
        replace(s, xact_start=NOW - timedelta(minutes=9, seconds=3)) if s.pid == 103 else s
        for s in snap.sessions
    )
    assert snap.pooler is not None
    pools = tuple(replace(p, maxwait=75.0) if p.cl_waiting else p for p in snap.pooler.pools)
    return replace(
        snap,
        server=replace(snap.server, host="db-primary-01.eu-west-1.compute.internal:5432"),
        sessions=sessions,
        limits=replace(snap.limits, max_connections=2000, client_connections=1234),
        pooler=replace(snap.pooler, pools=pools),
    )


@pytest.mark.parametrize("width", [80, 100, 200])
@pytest.mark.parametrize("profile", [None, "production-eu"])
async def test_the_header_never_cuts_a_number(width: int, profile: str | None) -> None:
    app = fixed_app(busy_snapshot(), profile_name=profile, read_only=True)
    async with app.run_test(size=(width, 24)) as pilot:
        await started(pilot)
        lines = header_lines(app)
        for line in lines:
            assert "…" not in line and len(line) <= width - 2, line
        server, conns, rates, _ = lines
        assert "● live" in server and "read-only" in server
        assert "1234/1997 62%" in conns and "1 lock" in conns
        assert "oldest xact 9m03s" in conns  # cut to "9m…" at 80 columns before
        assert "1 wait max 1m15s" in rates  # was "max 1.…"
        if profile:
            assert server.startswith(f" {profile} ")
        if width == 200:
            assert "db-primary-01.eu-west-1.compute.internal:5432 up 3d00h" in server


async def test_the_header_names_the_profile_and_read_only_only_when_they_apply() -> None:
    app = fixed_app(profile_name="prod", read_only=True)
    async with app.run_test(size=(80, 24)) as pilot:
        await started(pilot)
        server = header_lines(app)[0]
        assert server.startswith(" prod  PostgreSQL 15.8") and "read-only" in server
    app = fixed_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await started(pilot)
        server = header_lines(app)[0]
        assert server.startswith("PostgreSQL 15.8") and "read-only" not in server


async def test_a_lock_waiter_reads_waiting_in_red_at_80_columns() -> None:
    app = fixed_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await started(pilot)
        table = app.query_one(SessionsTable)
        header = table.render_line(0).text.split()
        assert header[:7] == ["PID", "XACT", "AGE", "STATE", "WAIT", "USER", "QUERY"]
        y = next(i for i, s in enumerate(table.rows) if s.pid == 104) + 1
        table.move_cursor_to_pid(101)  # keep the cursor's reverse style off the row
        strip = table.render_line(y)
        assert strip.text.split()[3:6] == ["waiting", "Lock:xid", "report"]
        (state,) = [seg.style for seg in strip if "waiting" in seg.text]
        assert isinstance(state, Style) and state.color is not None
        assert state.color.name == "red"
        active = table.render_line(next(i for i, s in enumerate(table.rows) if s.pid == 101) + 1)
        assert " active " in active.text


def _order(app: PgTopApp) -> list[int]:
    return [s.pid for s in app.query_one(SessionsTable).rows]


async def test_one_key_per_common_order_and_a_way_back_to_the_default() -> None:
    app = fixed_app()
    # 120 wide: at 80 the sample's worst finding leads the line and the sort label yields.
    async with app.run_test(size=(120, 24)) as pilot:
        await started(pilot)
        default = _order(app)
        assert "sort: default (state, age)" in header_lines(app)[3]

        await pilot.press("x")  # transaction age, oldest first; none last
        assert _order(app) == [104, 103, 101, 105, 102, 106]
        assert "sort: xact age ▼" in header_lines(app)[3]
        assert "XACT▼" in app.query_one(SessionsTable).render_line(0).text
        await pilot.press("x")  # again: newest first, still none last
        assert _order(app)[:4] == [105, 101, 103, 104] and set(_order(app)[4:]) == {102, 106}
        assert "sort: xact age ▲" in header_lines(app)[3]

        await pilot.press("d")
        assert app.server.sessions.view.sort == "database" and _order(app)[:2] == [
            105,
            106,
        ]  # analytics
        await pilot.press("e")
        assert (
            app.server.sessions.view.sort == "age"
            and "sort: age in state ▼" in header_lines(app)[3]
        )

        await pilot.press("0")
        assert app.server.sessions.view.sort is None and not app.server.sessions.view.reverse
        assert _order(app) == default
        assert "sort: default (state, age)" in header_lines(app)[3]


@pytest.mark.parametrize(
    ("width", "cycle"),
    [
        (80, ["pid", "xact_age", "age", "state", "wait", "user", "query"]),
        (
            200,
            [
                "pid",
                "xact_age",
                "age",
                "backend_age",
                "state",
                "wait",
                "database",
                "user",
                "application",
                "client",
                "blocked_by",
                "query",
            ],
        ),
    ],
)
async def test_s_cycles_the_columns_on_screen_then_the_default(
    width: int, cycle: list[str]
) -> None:
    app = fixed_app()
    async with app.run_test(size=(width, 40)) as pilot:
        await started(pilot)
        seen = []
        for _ in range(len(cycle) + 1):
            await pilot.press("s")
            seen.append(app.server.sessions.view.sort)
        assert seen == [*cycle, None]
        await pilot.press("less_than_sign")
        assert app.server.sessions.view.sort == cycle[-1]
