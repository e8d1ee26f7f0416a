"""Rich Text cells shared by the small panes.

DataTable and rich Table parse plain `str` cells as markup, so every cell that may hold
server text goes through `label`, which returns a `Text` (never parsed) made one-line
and free of control characters.
"""

from __future__ import annotations

from rich.text import Text
from textual.coordinate import Coordinate
from textual.widgets import DataTable
from textual.widgets.data_table import CellDoesNotExist

from pgtop.model.capacity import Level, Usage, config_seconds
from pgtop.model.format import one_line

LEVEL_STYLE: dict[Level, str] = {"ok": "", "warn": "bold dark_orange", "crit": "bold red"}
NONE_LABEL = "(none)"


def label(value: str | None, width: int | None = None, style: str = "") -> Text:
    """Server text as a literal Text; empty names become a dimmed '(none)'."""
    if not value:
        return Text(NONE_LABEL, style="dim")
    return Text(one_line(value, width), style=style, no_wrap=True, overflow="ellipsis")


def num(n: int | float | str, style: str = "", dim_zero: bool = True) -> Text:
    """A right-aligned number; zeros are dimmed so the non-zero ones stand out."""
    text = n if isinstance(n, str) else f"{n:g}" if isinstance(n, float) else str(n)
    if dim_zero and n == 0 and not style:
        style = "dim"
    return Text(text, style=style, justify="right")


def pct(u: Usage) -> Text:
    return Text(f"{u.pct:.0f}%", style=LEVEL_STYLE[u.level], justify="right")


# PgBouncer settings in seconds, and those where 0 means "no limit".
_SECONDS_KEYS = {"reserve_pool_timeout", "query_wait_timeout", "query_timeout",
                 "idle_transaction_timeout", "client_idle_timeout", "server_idle_timeout",
                 "server_lifetime"}  # fmt: skip
_ZERO_UNLIMITED = {"max_db_connections", "max_user_connections"}


def config_value(config: dict[str, str], key: str) -> Text:
    """A PgBouncer SHOW CONFIG value made human; 'n/a' when the version does not have it."""
    value = config.get(key)
    if value is None:
        return Text("n/a", style="dim")
    if key in _SECONDS_KEYS and (secs := config_seconds(config, key)) is not None:
        return Text("0 (off)" if secs == 0 else f"{secs:g}s")
    if key in _ZERO_UNLIMITED and value.strip() == "0":
        return Text("0 (unlimited)")
    return Text(one_line(value))


def fit_widths(natural: list[int], room: int, minimum: int = 8) -> list[int]:
    """Widths for name columns: as wide as their longest value, shrunk to share `room`.

    Numbers then sit next to their names instead of at the far edge of a wide screen.
    """
    widths = list(natural)
    while sum(widths) > room and max(widths) > minimum:
        widest = widths.index(max(widths))  # shrink the widest first, one cell at a time
        widths[widest] -= 1
    return widths


def cursor_key(table: DataTable[Text]) -> str | None:
    """The row key under a DataTable's cursor: panes keep the cursor on it across polls."""
    if not table.row_count:
        return None
    try:
        return table.coordinate_to_cell_key(Coordinate(table.cursor_row, 0)).row_key.value
    except CellDoesNotExist:
        return None
