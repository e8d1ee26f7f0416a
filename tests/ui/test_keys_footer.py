"""pgtop's footer lists the same keys, drawn the same way, as Textual's; it rebuilds
them only when they change (a switch between fleet servers rebuilt them several times)."""

from __future__ import annotations

from textual.app import App, ComposeResult
from textual.binding import Binding
from textual.widget import Widget
from textual.widgets import Footer
from textual.widgets._footer import FooterKey

from pgtop.ui.widgets.keys_footer import KeysFooter


class Plain(Widget, can_focus=True):
    BINDINGS = [Binding("x", "app.bell", "Ring")]


class Extra(Widget, can_focus=True):
    BINDINGS = [Binding("x", "app.bell", "Ring"), Binding("y", "app.why", "Why")]


class Keys(App[None]):
    BINDINGS = [Binding("q", "quit", "Quit"), Binding("h", "bell", "Hidden", show=False)]

    def __init__(self, footer: Footer) -> None:
        super().__init__()
        self.footer = footer

    def compose(self) -> ComposeResult:
        yield Plain(id="one")
        yield Plain(id="two")
        yield Extra(id="extra")
        yield self.footer


def drawn(footer: Footer) -> list[tuple[str, str, bool, frozenset[str]]]:
    return [
        (k.key, k.description, k.compact, frozenset(k.classes)) for k in footer.query(FooterKey)
    ]


async def footer_after_focus(
    footer: Footer, widget_id: str
) -> list[tuple[str, str, bool, frozenset[str]]]:
    app = Keys(footer)
    async with app.run_test() as pilot:
        app.query_one(f"#{widget_id}").focus()
        await pilot.pause()
        await pilot.pause()
        return drawn(footer)


async def test_keys_and_their_look_are_textuals() -> None:
    for focus in ("one", "extra"):
        ours = await footer_after_focus(KeysFooter(), focus)
        textuals = await footer_after_focus(Footer(), focus)
        assert ours == textuals
        assert any(key == "ctrl+p" for key, *_ in ours)  # the palette key, drawn compact


async def test_rebuilt_only_when_the_keys_change() -> None:
    footer = KeysFooter()
    app = Keys(footer)
    async with app.run_test() as pilot:
        app.query_one("#one").focus()
        await pilot.pause()
        await pilot.pause()
        first = list(footer.query(FooterKey))
        assert [k.key for k in first] == ["x", "q", "ctrl+p"]
        app.query_one("#two").focus()  # the same keys: the same widgets stay
        await pilot.pause()
        await pilot.pause()
        assert list(footer.query(FooterKey)) == first
        app.query_one("#extra").focus()  # one more key: listed
        await pilot.pause()
        await pilot.pause()
        assert "y" in [k.key for k in footer.query(FooterKey)]
        app.query_one("#one").focus()  # and gone again
        await pilot.pause()
        await pilot.pause()
        assert "y" not in [k.key for k in footer.query(FooterKey)]
