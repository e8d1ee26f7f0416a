"""`?`: every key of the screen underneath, with what it does."""

from __future__ import annotations

from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static

FILTER_HELP = (
    "Filter (/): free text matches query, user, database, application, client.\n"
    "  db:shop user:app state:idle-tx app:NAME client:10.0.0.5 wait:Lock pid:123\n"
    '  state:"idle in transaction"  dur>30s (transaction or query age)  xact>5m  age<2s\n'
    "  -user:postgres excludes.  esc clears the filter."
)


class HelpScreen(ModalScreen[None]):
    BINDINGS = [Binding("escape,q,question_mark", "app.pop_screen", "Close")]

    DEFAULT_CSS = """
    HelpScreen { align: center middle; }
    HelpScreen > VerticalScroll {
        width: 90; max-width: 100%; height: auto; max-height: 100%;
        border: round $accent; background: $surface; padding: 0 1;
    }
    """

    def __init__(self, keys: list[tuple[str, str]]) -> None:
        super().__init__()
        self.keys = keys

    def compose(self) -> ComposeResult:
        table = Table.grid(padding=(0, 2))
        table.add_column(style="bold cyan", no_wrap=True)
        table.add_column()
        for key, description in self.keys:
            table.add_row(key, description)
        with VerticalScroll():
            yield Static(Text("pgtop keys (esc closes)", "bold"))
            yield Static(table)
            yield Static(Text(FILTER_HELP, "dim"))
