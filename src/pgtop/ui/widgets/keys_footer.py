"""The footer of pgtop's screens: Textual's Footer, rebuilt only when the keys it lists
change.

Textual's Footer throws its keys away and builds them again at every binding refresh of
its screen (a focus change, the screen coming back on top), once per refresh even when
several come together, and each key it builds is restyled twice more by its `compact`
watcher. Going from server to server in a fleet paid that several times a switch (a
third of a switch's time). This footer draws the same keys the same way; it only skips
the work when there is nothing new to draw.

Who owns what: the keys come from the screen's `active_bindings` (the screen's); the
footer owns `_listed`, what it drew last, and `_refresh_due`, a rebuild already asked for.
"""

from __future__ import annotations

from collections.abc import Hashable

from textual.app import ComposeResult
from textual.screen import Screen
from textual.widgets import Footer
from textual.widgets._footer import FooterKey

COMPACT_DEFAULT = True  # FooterKey.compact = reactive(True)


class KeysFooter(Footer):
    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self._listed: tuple[Hashable, ...] | None = None
        self._refresh_due = False

    def bindings_changed(self, screen: Screen[object]) -> None:
        """As Textual's, but one rebuild for refreshes that come together, and none when
        the keys listed are those on screen already."""
        self._bindings_ready = True
        if not screen.app.app_focus:
            return
        if self.is_attached and screen is self.screen and not self._refresh_due:
            self._refresh_due = True
            self.call_after_refresh(self._rebuild_if_changed)

    async def _rebuild_if_changed(self) -> None:
        self._refresh_due = False
        if not self.is_attached:
            return
        listed = self._keys_listed()
        if listed != self._listed:
            self._listed = listed
            await self.recompose()

    def _keys_listed(self) -> tuple[Hashable, ...]:
        """Everything Footer.compose draws from the bindings, for comparison."""
        return tuple(
            (key, b.key, b.action, b.description, b.show, b.group, enabled, tooltip)
            for key, (_, b, enabled, tooltip) in self.screen.active_bindings.items()
        )

    def compose(self) -> ComposeResult:
        for widget in super().compose():
            if isinstance(widget, FooterKey):
                # Born with the `compact` it would end up with on mount: the footer's
                # when bound to it, else its own default (the palette key). Its watcher
                # then never runs, so the key is styled once, when it mounts.
                bound = "compact" in (widget._reactive_connect or {})
                compact = self.compact if bound else COMPACT_DEFAULT
                widget.set_reactive(FooterKey.compact, compact)
                widget.set_class(compact, "-compact", update=False)
            yield widget
