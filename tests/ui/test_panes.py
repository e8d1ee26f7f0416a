"""The databases, limits and pooler panes, driven by a hand-built snapshot under Pilot.

Assertions read what a user would see: DataTable cells and the screen's text. Each test
runs at 80x24 (the smallest supported terminal) and 160x48.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from sample import MARKUP_APP, SAMPLE_RATES, sample_snapshot
from textual.app import App, ComposeResult
from textual.pilot import Pilot
from textual.widget import Widget
from textual.widgets import DataTable, Static

from pgtop.model.derive import Rates
from pgtop.model.records import Snapshot
from pgtop.ui.widgets.databases_pane import DatabasesPane
from pgtop.ui.widgets.limits_pane import LimitsPane
from pgtop.ui.widgets.limits_text import EXHAUST, NO_POOLER
from pgtop.ui.widgets.pooler_pane import PoolerPane, pool_key
from support.records import replace

SIZES = [pytest.param((80, 24), id="80x24"), pytest.param((160, 48), id="160x48")]
# Set PGTOP_PANE_SCREENSHOTS=/tmp/panes to look at the panes by eye.
SHOTS = os.environ.get("PGTOP_PANE_SCREENSHOTS")


class PaneApp(App[None]):
    def __init__(self, pane: Widget) -> None:
        super().__init__()
        self.pane = pane

    def compose(self) -> ComposeResult:
        yield self.pane


async def feed(pilot: Pilot[None], snapshot: Snapshot, rates: Rates | None = None) -> None:
    pane = pilot.app.pane  # type: ignore[attr-defined]
    pane.update_snapshot(snapshot, rates)
    await pilot.pause()


def screen_text(app: App[None]) -> str:
    return "\n".join(strip.text for strip in app.screen._compositor.render_strips())


def cells(table: DataTable[object], key: str) -> list[str]:
    return [getattr(v, "plain", str(v)) for v in table.get_row(key)]


def column(table: DataTable[object], col: int = 0) -> list[str]:
    return [cells(table, row.key.value or "")[col] for row in table.ordered_rows]


def shoot(app: App[None], name: str, size: tuple[int, int]) -> None:
    if SHOTS:
        Path(SHOTS).mkdir(parents=True, exist_ok=True)
        stem = f"{name}-{size[0]}x{size[1]}"
        app.save_screenshot(f"{stem}.svg", SHOTS)
        Path(SHOTS, f"{stem}.txt").write_text(screen_text(app))


@pytest.mark.parametrize("size", SIZES)
async def test_databases_pane_groups_and_regroups(size: tuple[int, int]) -> None:
    pane = DatabasesPane()
    app = PaneApp(pane)
    async with app.run_test(size=size) as pilot:
        await feed(pilot, sample_snapshot())
        # Every database, busiest first; the background worker is not counted.
        assert column(pane) == ["shop", "analytics", "postgres"]
        assert cells(pane, "shop") == ["shop", "4", "2", "1", "1", "0", "1", "0", "5", "80%"]
        assert cells(pane, "postgres")[1:] == ["0"] * 7 + ["—", ""]
        assert pane.border_title == "Connections by database"
        pane.focus()
        await pilot.press("down")
        assert pane.selected_database() == "analytics"
        shoot(app, "databases", size)

        await pilot.press("g")
        assert pane.border_title == "Connections by user"
        assert column(pane) == ["app", "report", "admin"]
        assert [cells(pane, k)[1] for k in ("app", "report", "admin")] == ["3", "2", "1"]
        assert pane.selected_database() is None

        await pilot.press("g")
        assert pane.border_title == "Connections by application"
        assert column(pane)[0] == "web"
        assert cells(pane, "")[0] == "(none)"
        assert MARKUP_APP in column(pane)
        assert MARKUP_APP in screen_text(app)

        await pilot.press("g", "g")
        assert pane.border_title == "Connections by database"


@pytest.mark.parametrize("size", SIZES)
async def test_databases_pane_keeps_cursor_on_same_group(size: tuple[int, int]) -> None:
    pane = DatabasesPane()
    async with PaneApp(pane).run_test(size=size) as pilot:
        await feed(pilot, sample_snapshot())
        assert pane.selected_database() == "shop"
        # Same databases, but shop loses three sessions and drops below analytics: the
        # rows are re-sorted in place and the cursor follows shop, not the row number.
        snap = sample_snapshot()
        await feed(pilot, replace(snap, sessions=snap.sessions[3:]))
        assert column(pane) == ["analytics", "shop", "postgres"]
        assert cells(pane, "shop")[1] == "1"
        assert pane.selected_database() == "shop"
        assert pane.cursor_row == 1


@pytest.mark.parametrize("size", SIZES)
async def test_limits_pane_shows_limits_budget_and_queue(size: tuple[int, int]) -> None:
    pane = LimitsPane()
    app = PaneApp(pane)
    async with app.run_test(size=size) as pilot:
        await feed(pilot, sample_snapshot())
        text = screen_text(app)
        assert "n/a (PostgreSQL < 16)" in text
        assert "5min" in text and "0 (off)" in text
        shoot(app, "limits", size)
        # Whatever the scroll position, the whole content is there in order.
        full = _rendered(pane)
        assert "the pooler fits: up to 35 server connections, 94 slots left" in full
        assert EXHAUST not in full
        assert "75 s before query_wait_timeout drops the oldest queued client" in full
        assert "restart required" in full

        await feed(pilot, sample_snapshot(max_connections=30, pg16=True))
        full = _rendered(pane)
        # 30 - 3 superuser - 2 reserved - 3 other clients = 22 slots for 35 possible.
        assert f"{EXHAUST}: up to 35 server connections, 22 slots left" in full
        # The verdict is on screen without scrolling, even at 80x24.
        assert EXHAUST in screen_text(app)
        assert "reserved_connections" in full and "n/a (PostgreSQL < 16)" not in full

        await feed(pilot, sample_snapshot(pooler=False))
        assert NO_POOLER in _rendered(pane)
        await feed(pilot, sample_snapshot(pooler_error="[bold]connection refused"))
        assert "[bold]connection refused" in _rendered(pane)


def _rendered(pane: LimitsPane) -> str:
    """The text of both sections as rendered at the pane's width, scrolled or not."""
    from rich.console import Console

    statics = [pane.query_one("#limits-summary", Static), *pane.query("#limits-body > Static")]
    console = Console(width=statics[0].content_size.width, color_system=None, record=True)
    for static in statics:
        console.print(static.content)  # type: ignore[attr-defined]
    # Long sentences wrap at word boundaries on narrow screens; compare them unwrapped.
    return " ".join(console.export_text().split())


@pytest.mark.parametrize("size", SIZES)
async def test_pooler_pane_pools_rates_and_errors(size: tuple[int, int]) -> None:
    pane = PoolerPane()
    app = PaneApp(pane)
    async with app.run_test(size=size) as pilot:
        await feed(pilot, sample_snapshot(), SAMPLE_RATES)
        table = pane.table
        shop = cells(table, pool_key("shop", "app"))
        assert shop[:8] == ["shop", "app", "8", "1", "2", "0", "1", "45s"]
        assert shop[8] in {"txn", "transaction"}
        style = str(table.get_cell(pool_key("shop", "app"), "cl_waiting").style)
        assert "red" in style  # the waiting count stands out
        text = screen_text(app)
        assert "PgBouncer 1.18.0 at 127.0.0.1:6432" in text
        assert "42.5 xact/s" in text and "120.0 queries/s" in text
        assert "query_wait_timeout 120s" in text
        shoot(app, "pooler", size)

        table.focus()
        await pilot.press("down")
        await feed(pilot, sample_snapshot(), None)
        assert table.cursor_row == 1
        text = screen_text(app)  # no rates before a second poll: a dash, never "n/a ms"
        assert "— xact/s" in text and "avg wait —" in text and "n/a" not in text

        await feed(pilot, sample_snapshot(pooler_error="pgbouncer: [red]timeout"))
        text = screen_text(app)
        assert "PgBouncer: pgbouncer: [red]timeout" in text
        assert pane.has_class("-stale") and table.row_count == 2  # last pools kept, dimmed
        shoot(app, "pooler-error", size)

        await feed(pilot, sample_snapshot(pooler=False))
        text = screen_text(app)
        assert "--pooler" in text and "stats_users" in text
        assert not table.display


async def test_pooler_pane_error_without_any_pools() -> None:
    pane = PoolerPane()
    async with PaneApp(pane).run_test(size=(80, 24)) as pilot:
        await feed(pilot, sample_snapshot(pooler_error="connection refused"))
        assert "connection refused" in screen_text(pilot.app)
        assert pane.has_class("-absent") and not pane.has_class("-stale")


@pytest.mark.parametrize("pane_class", [DatabasesPane, LimitsPane, PoolerPane])
async def test_snapshot_given_before_mount_is_drawn(pane_class: type[Widget]) -> None:
    pane = pane_class()
    pane.update_snapshot(sample_snapshot(), SAMPLE_RATES)  # type: ignore[attr-defined]
    app = PaneApp(pane)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        assert "shop" in screen_text(app)


@pytest.mark.parametrize("size", SIZES)
async def test_long_names_end_in_an_ellipsis_and_controls_are_visible(
    size: tuple[int, int],
) -> None:
    snap = sample_snapshot()
    long_app = "nightly-report-generator-for-the-finance-department-\x1b[2J-" + "x" * 80
    sessions = tuple(replace(s, application=long_app) for s in snap.sessions)
    pane = DatabasesPane(grouping="application")
    app = PaneApp(pane)
    async with app.run_test(size=size) as pilot:
        await feed(pilot, replace(snap, sessions=sessions))
        shown = cells(pane, long_app)[0]
        assert shown.startswith("nightly-report-generator")
        assert shown.endswith("…")
        assert "\x1b" not in screen_text(app)
        assert all(len(line) <= size[0] for line in screen_text(app).splitlines())
