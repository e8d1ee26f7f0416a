"""`?`: every key of the screen or pane underneath, with what it does."""

from __future__ import annotations

from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static

# Lines of at most 76 cells: the box is 80 wide at 80 columns, less border and padding.
FILTER_HELP = (
    ("/", "filter sessions; words match query, user, database, application, client"),
    ("", "db:shop user:app app:NAME client:10.0.0.5 wait:Lock type:NAME pid:123"),
    ("", 'state:idle  state:idle-tx  state:"idle in transaction"  -user:app excludes'),
    ("", "dur>30s (xact, else query) xact>5m age<2s conn>1h · ⏎ keeps · esc clears"),
)
TWO_COLUMNS_FROM = 70  # screen width from which the keys are listed side by side
MOST_COLUMNS = 3


class HelpScreen(ModalScreen[None]):
    BINDINGS = [Binding("escape,q,question_mark", "app.pop_screen", "Close")]

    DEFAULT_CSS = """
    HelpScreen { align: center middle; }
    HelpScreen > VerticalScroll {
        width: 80; max-width: 100%; height: auto; max-height: 100%;
        border: round $accent; background: $surface; padding: 0 1;
    }
    """

    def __init__(
        self,
        keys: list[tuple[str, str]],
        *,
        move: str = "",
        where: str = "",
        with_filter: bool = False,
    ) -> None:
        """`keys`: (keys, description) rows in the order to show them; `move`: the keys
        that move the cursor or scroll; `where` names the screen or pane they belong to;
        `with_filter` adds the filter language."""
        super().__init__()
        self.keys = keys
        self.move = move
        self.where = where
        self.with_filter = with_filter

    def compose(self) -> ComposeResult:
        title = Text(f"Keys of the {self.where}" if self.where else "Keys", "bold")
        title.append("  (esc closes)", "dim")
        with VerticalScroll():
            yield Static(title)
            if self.move:
                yield Static(Text.assemble((self.move, "bold cyan"), "  move, scroll"))
            yield Static(self._keys_table(pairs=self._pairs()))
            if self.with_filter:
                yield Static(self._filter_table())

    def _pairs(self) -> int:
        """How many key lists side by side: two when wide enough, three when two would
        need a scrollbar (which takes the filter lines' last cells at 80 columns)."""
        width, height = self.app.size
        if width < TWO_COLUMNS_FROM or len(self.keys) <= 8:
            return 1
        # Border, title, the move line and the filter lines take the rest of the height.
        room = height - 3 - bool(self.move) - (len(FILTER_HELP) if self.with_filter else 0)
        return min(MOST_COLUMNS, max(2, -(-len(self.keys) // max(1, room))))

    def _keys_table(self, *, pairs: int) -> Table:
        table = Table.grid(padding=(0, 1))
        for pair in range(pairs):
            # Text cells, never markup: keys such as [ and ] are shown as they are.
            table.add_column(style="bold cyan", no_wrap=True)
            table.add_column(no_wrap=True, overflow="ellipsis")
            if pair + 1 < pairs:
                table.add_column(width=1)  # a gap between the two lists
        rows = -(-len(self.keys) // pairs)  # filled down the first column, then the next
        for i in range(rows):
            cells: list[Text] = []
            for pair in range(pairs):
                j = i + pair * rows
                key, description = self.keys[j] if j < len(self.keys) else ("", "")
                cells += [Text(key), Text(description)]
                if pair + 1 < pairs:
                    cells.append(Text(""))
            table.add_row(*cells)
        return table

    def _filter_table(self) -> Table:
        table = Table.grid(padding=(0, 1))
        table.add_column(style="bold cyan", no_wrap=True)
        table.add_column(style="dim", no_wrap=True, overflow="ellipsis")
        for key, line in FILTER_HELP:
            table.add_row(Text(key), Text(line))
        return table
