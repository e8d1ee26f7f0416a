"""The fleet screen's columns: which fit the width, and each cell of a FleetLine.

Pure functions over model/fleet_line.py's lines; nothing here holds state. Columns are
kept by priority (name and status first, the connection bar next...): at 80 columns
the least important go whole, and what a wide terminal has left goes to the status
and, last, to the reason a server is down.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime

from rich.text import Text

from pgtop.model.fleet_line import LONG_XACT_S, FleetLine
from pgtop.model.format import age, one_line
from pgtop.ui.widgets.env_label import env_label
from pgtop.ui.widgets.header_lines import bar, usage_style

BAR_WIDTH = 6
STATUS_MIN, STATUS_MAX = 17, 30
# A narrow status column says the reason short; the detail line has it whole.
SHORT_STATUS = {"refused: bad password": "bad password"}
REASON_MIN = 16
STATUS_STYLES = {"live": "green", "connecting": "yellow", "reconnecting": "bold yellow"}
DOWN_STYLE = "bold red"


@dataclass(frozen=True, slots=True)
class FleetColumn:
    key: str  # also the sort key it stands for (model/fleet_line.py SORT_KEYS), if any
    label: str
    width: int
    priority: int  # 0 is always shown; higher numbers are dropped first
    right: bool = False


def _columns(name_width: int, env_width: int) -> tuple[FleetColumn, ...]:
    """Every column, in the order they read from left to right."""
    return (
        FleetColumn("name", "server", name_width, 0),
        FleetColumn("env", "env", env_width, 2),
        FleetColumn("status", "status", STATUS_MIN, 0),
        FleetColumn("version", "ver", 5, 9),
        FleetColumn("used", "conns", BAR_WIDTH + 5, 1),
        FleetColumn("slots", "n/max", 9, 8, right=True),
        FleetColumn("active", "act", 4, 4, right=True),
        FleetColumn("idle_tx", "itx", 4, 4, right=True),
        FleetColumn("waiting", "lock", 4, 3, right=True),
        FleetColumn("xact", "xact", 6, 3, right=True),
        FleetColumn("tps", "tps", 6, 6, right=True),
        FleetColumn("pool_wait", "qwait", 5, 5, right=True),
        FleetColumn("pool_longest", "maxwait", 7, 7, right=True),
        FleetColumn("reason", "why", REASON_MIN, 10),
    )


def fit_columns(width: int, lines: Sequence[FleetLine]) -> tuple[FleetColumn, ...]:
    """The columns that fit `width` cells (one space between), most important first to
    get room; the status, then the reason, take what is left."""
    name_width = max([6, *(min(24, len(one_line(line.name))) for line in lines)])
    env_width = max([3, *(min(18, len(one_line(line.env)) + 2) for line in lines)])
    every = _columns(name_width, env_width)
    kept: set[str] = set()
    used = -1
    for col in sorted(every, key=lambda c: c.priority):
        if used + 1 + col.width <= width or col.priority == 0:
            kept.add(col.key)
            used += 1 + col.width
    spare = max(0, width - used)
    out = []
    for col in every:
        if col.key not in kept:
            continue
        if col.key == "status":
            grow = min(spare, STATUS_MAX - col.width)
            spare -= grow
            col = FleetColumn(col.key, col.label, col.width + grow, col.priority)
        out.append(col)
    if "reason" in kept and spare:
        out[-1] = FleetColumn("reason", "why", out[-1].width + spare, 10)
    return tuple(out)


def status_text(line: FleetLine, now: datetime, width: int = STATUS_MAX) -> Text:
    """The status, and since when for a server that is not live ("unreachable 3m05s")."""
    style = STATUS_STYLES.get(line.status, DOWN_STYLE)
    since = "" if line.status == "live" else age(max(0.0, (now - line.since).total_seconds()))
    word = line.status
    if len(word) + 1 + len(since) > width:
        word = SHORT_STATUS.get(word, word)
    t = Text(word, style)
    if since:
        t.append(f" {since}", "dim")
    return t


def _number(value: float | None, style: str = "", fmt: str = "{:.0f}") -> Text:
    return Text("–", "dim") if value is None else Text(fmt.format(value), style)


def _conns(line: FleetLine) -> Text:
    if line.used_pct is None:
        return Text("–", "dim")
    pct = line.used_pct
    return bar(pct, BAR_WIDTH).append(f" {pct:3.0f}%", usage_style(pct))


def _slots(line: FleetLine) -> Text:
    if line.used is None or line.slots is None:
        return Text("–", "dim")
    return Text(f"{line.used}/{line.slots}")


def _xact(line: FleetLine) -> Text:
    s = line.oldest_xact_s
    if s is None:
        return Text("–", "dim")
    return Text(age(s), "bold yellow" if s >= LONG_XACT_S else "")


CELLS: dict[str, Callable[[FleetLine], Text]] = {
    "name": lambda line: Text(one_line(line.name), "bold"),
    "env": lambda line: env_label(line.env, line.colour),
    "version": lambda line: Text(line.version or "–", "" if line.version else "dim"),
    "used": _conns,
    "slots": _slots,
    "active": lambda line: _number(line.active, "green"),
    "idle_tx": lambda line: _number(line.idle_in_transaction,
                                    "yellow" if line.idle_in_transaction else ""),
    "waiting": lambda line: _number(line.waiting, "bold red" if line.waiting else ""),
    "xact": _xact,
    "tps": lambda line: _number(line.tps),
    "pool_wait": lambda line: _number(line.pool_waiting,
                                      "bold red" if line.pool_waiting else ""),
    "pool_longest": lambda line: (
        Text(age(line.pool_longest_wait_s), "red" if line.pool_waiting else "")
        if line.pool_longest_wait_s is not None
        else Text("–", "dim")
    ),
    "reason": lambda line: Text(one_line(line.reason), "red"),
}  # fmt: skip


def cell(col: FleetColumn, line: FleetLine, now: datetime) -> Text:
    """`line`'s cell in `col`, cut or padded to the column's width."""
    t = status_text(line, now, col.width) if col.key == "status" else CELLS[col.key](line)
    t.truncate(col.width, overflow="ellipsis")
    if col.right:
        t.pad_left(col.width - t.cell_len)
    else:
        t.pad_right(col.width - t.cell_len)
    return t


def row_text(columns: Sequence[FleetColumn], line: FleetLine, now: datetime) -> Text:
    t = Text(no_wrap=True)
    for i, col in enumerate(columns):
        if i:
            t.append(" ")
        t.append_text(cell(col, line, now))
    return t


def header_text(columns: Sequence[FleetColumn], sort_key: str, descending: bool) -> Text:
    t = Text(no_wrap=True)
    for i, col in enumerate(columns):
        label = col.label + (("▼" if descending else "▲") if col.key == sort_key else "")
        if i:
            t.append(" ")
        t.append(label.rjust(col.width) if col.right else label.ljust(col.width))
    return t
