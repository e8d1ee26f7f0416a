"""What the start-up leaves for later, and that it still comes: the footer's keys after the
first paint, the hidden panes when first shown (a wide terminal shows two at once) and
the keys reaching them.
Driven by the sample snapshot under Pilot, no server."""

from __future__ import annotations

from live import until
from sample import fixed_app
from textual.app import App
from textual.color import Color
from textual.css.stylesheet import Stylesheet

from pgtop.ui.widgets.databases_pane import DatabasesPane


def screen_text(app: App[None]) -> str:
    return "\n".join(strip.text for strip in app.screen._compositor.render_strips())


def database_names(pane: DatabasesPane) -> set[str]:
    return {str(row.key.value) for row in pane.ordered_rows}


async def test_the_footer_lists_the_keys_once_started() -> None:
    app = fixed_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await until(pilot, lambda: "q Quit" in screen_text(app), "the footer's keys")
        footer = screen_text(app).splitlines()[-1]
        assert "? Help" in footer and "/ Filter" in footer


async def test_a_hidden_pane_is_built_when_first_shown() -> None:
    app = fixed_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await until(pilot, lambda: "q Quit" in screen_text(app), "the first screen")
        server = app.server
        assert server is not None and not server.query("#databases"), "built while hidden"
        await pilot.press("2")
        pane = app.query_one("#databases", DatabasesPane)
        await until(pilot, lambda: pane.row_count > 0, "the databases pane")
        assert pane.region.height > 0 and database_names(pane) == {"shop", "analytics", "postgres"}
        assert "Connections by database" in screen_text(app)


async def test_a_wide_terminal_shows_the_side_panes_without_a_key() -> None:
    app = fixed_app()
    async with app.run_test(size=(160, 48)) as pilot:
        await until(pilot, lambda: app.server is not None and app.server.panes_ready, "panes")
        side = app.query_one("#side-databases", DatabasesPane)
        await until(pilot, lambda: side.row_count > 0, "the side databases pane")
        assert side.region.height > 0 and "shop" in database_names(side)
        assert "PgBouncer pools" in screen_text(app)


async def test_each_stylesheet_is_parsed_once_on_the_way_to_the_first_screen() -> None:
    # Textual re-parsed every source whenever a mode's screen was made: three parses of
    # each at start-up, ~10 ms of the first screen (PgTopApp.refresh_css).
    parsed: list[object] = []
    original = Stylesheet._parse_rules

    def counting(
        self: Stylesheet,
        css: str,
        read_from: object,
        is_default_rules: bool = False,
        tie_breaker: int = 0,
        scope: str = "",
    ) -> object:
        key = (css, read_from, is_default_rules, tie_breaker, scope)
        if key not in self._parse_cache:  # Textual's own cache key
            parsed.append(key[1:])
        return original(self, css, read_from, is_default_rules, tie_breaker, scope)  # type: ignore[arg-type]

    app = fixed_app()
    Stylesheet._parse_rules = counting  # type: ignore[method-assign,assignment]
    try:
        async with app.run_test(size=(80, 24)) as pilot:
            await until(pilot, lambda: "q Quit" in screen_text(app), "the first screen")
    finally:
        Stylesheet._parse_rules = original  # type: ignore[method-assign]
    twice = {str(source) for source in parsed if parsed.count(source) > 1}
    assert parsed and not twice, f"parsed more than once: {sorted(twice)}"


async def test_a_theme_chosen_after_the_start_restyles_the_screen() -> None:
    # What the command palette's "Change theme" does: the variables change, so every
    # stylesheet is parsed again with the new ones.
    app = fixed_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await until(pilot, lambda: "q Quit" in screen_text(app), "the first screen")
        header = app.query_one("#header")
        before = header.styles.background
        app.theme = "textual-light" if app.theme != "textual-light" else "nord"
        await pilot.pause()
        after = header.styles.background
        assert after != before
        assert after == Color.parse(app.get_css_variables()["panel"])


async def test_the_limits_pane_scrolls_from_the_keyboard_on_a_small_screen() -> None:
    # Key 3 left the focus nowhere (the pane takes none): End and PageDown did nothing,
    # and the PgBouncer settings below the fold of 80x24 could not be reached.
    app = fixed_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await until(pilot, lambda: "q Quit" in screen_text(app), "the first screen")
        await pilot.press("3")
        await until(pilot, lambda: "max_connections" in screen_text(app), "the limits pane")
        assert "default_pool_size" not in screen_text(app)
        await pilot.press("end")
        await until(pilot, lambda: "default_pool_size" in screen_text(app), "scrolled")
