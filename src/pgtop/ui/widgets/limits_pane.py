"""How close PostgreSQL and PgBouncer are to their connection limits, and the timeouts.

A verdict summary stays on top (it must be seen at 80x24 without scrolling); below it
the PostgreSQL and PgBouncer sections scroll, side by side when the pane is wide.
"""

from __future__ import annotations

from typing import Self

from textual.app import ComposeResult
from textual.containers import Vertical, VerticalScroll
from textual.events import Resize
from textual.widgets import Static

from pgtop.model.derive import Rates
from pgtop.model.records import Snapshot
from pgtop.ui.widgets.limits_text import pooler_section, postgres_section, summary_text

_WIDE = 150  # side by side from here; a section needs ~75 columns


class LimitsPane(Vertical):
    """PostgreSQL and PgBouncer limits; side by side when the pane is wide enough."""

    DEFAULT_CSS = """
    LimitsPane { height: 1fr; border: none; border-top: solid $primary; }
    LimitsPane > #limits-summary {
        height: auto; padding: 0 1; border-bottom: solid $primary-darken-2;
    }
    LimitsPane > #limits-body { height: 1fr; }
    LimitsPane #limits-body > Static { height: auto; padding: 0 1; }
    LimitsPane.-wide > #limits-body { layout: horizontal; }
    LimitsPane.-wide #limits-body > Static { width: 1fr; }
    """

    def __init__(
        self,
        *,
        name: str | None = None,
        id: str | None = None,
        classes: str | None = None,
    ) -> None:
        super().__init__(name=name, id=id, classes=classes)
        self.border_title = "Limits"
        self._snapshot: Snapshot | None = None

    def compose(self) -> ComposeResult:
        yield Static(id="limits-summary")
        with VerticalScroll(id="limits-body"):
            yield Static(id="limits-pg")
            yield Static(id="limits-pooler")

    def update_snapshot(self, snapshot: Snapshot, rates: Rates | None) -> None:
        del rates  # limits are levels, not rates
        self._snapshot = snapshot
        if self.is_mounted:  # else on_mount draws it: the children do not exist yet
            self._draw(snapshot)

    def on_mount(self) -> None:
        if self._snapshot is not None:
            self._draw(self._snapshot)

    def _draw(self, snapshot: Snapshot) -> None:
        self.query_one("#limits-summary", Static).update(summary_text(snapshot))
        self.query_one("#limits-pg", Static).update(postgres_section(snapshot))
        self.query_one("#limits-pooler", Static).update(pooler_section(snapshot))

    def focus(self, scroll_visible: bool = True) -> Self:
        """Focusing the pane (key 3) focuses its scrolling sections: the pane itself
        takes no focus, and the arrow and page keys went to no widget at all, so what
        fell below an 80x24 screen could not be reached."""
        if self.is_mounted:
            self.query_one("#limits-body").focus(scroll_visible)
            return self
        return super().focus(scroll_visible)

    def on_resize(self, event: Resize) -> None:
        self.set_class(event.size.width >= _WIDE, "-wide")
