"""The sessions table paints its lines without Textual's per-line styling pass
(ui/widgets/plain_lines.py): what reaches the screen must be exactly what Textual's own
pass would paint, line filters and crops included, and Textual's pass must take over as
soon as the table's CSS draws something around its rows."""

from __future__ import annotations

from sample import NOW, sample_snapshot
from textual.app import App, ComposeResult
from textual.filter import Monochrome
from textual.geometry import Region
from textual.strip import Strip
from textual.widget import Widget

from pgtop.ui.widgets.sessions_table import SessionsTable
from support.records import replace


class TableApp(App[None]):
    def compose(self) -> ComposeResult:
        yield SessionsTable()


def _segments(strips: list[Strip]) -> list[list[object]]:
    return [list(strip) for strip in strips]


def _both(table: SessionsTable, crop: Region) -> tuple[list[list[object]], list[list[object]]]:
    """The short path's lines and Textual's own pass over the same lines."""
    table._styles_cache.clear()
    return _segments(table.render_lines(crop)), _segments(Widget.render_lines(table, crop))


async def test_the_short_path_paints_what_textual_would() -> None:
    app = TableApp()
    async with app.run_test(size=(120, 20)) as pilot:
        table = app.query_one(SessionsTable)
        table.set_rows(list(sample_snapshot().sessions), NOW)
        table.marked = {s.pid: s for s in table.rows[1:3]}
        await pilot.pause()
        full = Region(0, 0, table.region.width, table.region.height)
        width, height = table.region.size
        # The left of each row (what ticking ages repaint), a span across its segments,
        # and whole lines.
        crops = (Region(0, 0, 12, height), Region(3, 0, width - 3, height), full)
        for crop in (*crops, Region(7, 1, 30, 4), Region(0, 2, width, 1)):
            fast, textual = _both(table, crop)
            assert fast == textual
        assert "shop" in "".join(s.text for s in table.render_lines(full))

        plain, _ = _both(table, full)
        app._filters.append(Monochrome())  # as with NO_COLOR: a filter on every line
        fast, textual = _both(table, full)
        assert fast == textual
        assert fast != plain  # the filter was applied (the cyan marks turned grey)


async def test_textual_paints_the_table_once_its_css_adds_padding() -> None:
    app = TableApp()
    async with app.run_test(size=(100, 12)) as pilot:
        table = app.query_one(SessionsTable)
        table.set_rows(list(sample_snapshot().sessions), NOW)
        table.styles.padding = (0, 3)
        await pilot.pause()
        full = Region(0, 0, table.region.width, table.region.height)
        fast, textual = _both(table, full)
        assert fast == textual
        assert "".join(str(seg.text) for seg in fast[1]).startswith("   ")  # type: ignore[attr-defined]


async def test_only_lines_marked_dirty_are_drawn_again() -> None:
    """Textual asks for every line at each repaint but sends the terminal only the dirty
    ones: a line drawn while not dirty would be noted by the table as shown (its next
    change then skipped, as the cursor was in a 10,000-session replay) and never sent."""
    app = TableApp()
    async with app.run_test(size=(120, 20)) as pilot:
        table = app.query_one(SessionsTable)
        table.set_rows(list(sample_snapshot().sessions), NOW)
        await pilot.pause()
        full = Region(0, 0, table.region.width, table.region.height)
        table.render_lines(full)  # every line drawn once
        asked: list[int] = []
        render_line = table.render_line

        def counting(y: int) -> Strip:
            asked.append(y)
            return render_line(y)

        table.render_line = counting  # type: ignore[method-assign]
        table.refresh(Region(0, 3, 12, 1))
        lines = table.render_lines(full)
        assert asked == [3] and len(lines) == full.height
        asked.clear()
        table.render_lines(full)
        assert asked == []  # nothing dirty: last strips reused


async def test_the_cursor_scrolls_into_view_past_the_last_visible_row() -> None:
    """PlainLines is a mixin, not a Widget: as a Widget among the bases it brought
    Widget's default CSS after the scroll view's (overflow hidden), and a cursor moved
    below the screen, as sorting moves it at 50,000 sessions, stayed out of sight."""
    app = TableApp()
    async with app.run_test(size=(100, 12)) as pilot:
        table = app.query_one(SessionsTable)
        like = sample_snapshot().sessions[0]
        rows = [replace(like, pid=1000 + i) for i in range(60)]
        table.set_rows(rows, NOW)
        table.focus()
        await pilot.pause()
        for _ in range(25):
            await pilot.press("down")
        await pilot.pause()
        assert table.cursor_pid == 1025
        top = int(table.scroll_y)
        assert top > 0 and top <= 25 < top + table.size.height - 1  # on screen
        shown = [strip.text for strip in table.render_lines(Region(0, 0, *table.size))]
        assert any(line.lstrip().startswith("1025 ") for line in shown)
