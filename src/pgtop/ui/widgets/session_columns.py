"""The sessions table's columns: labels, widths, which to drop first when narrow.

Columns are shown in a fixed order, but chosen by priority, by what a DBA needs first:
at 80 columns pid, state (a lock waiter reads "waiting"), age, wait, user, transaction
age and the query fit; wider terminals add database, blocked-by, application, client,
then widen the columns whose text is often cut (wait, application, client).
The ages tick every second, so they sit on the left: Textual re-sends a changed line
from its left edge to the last changed cell, and a tick then costs a few dozen bytes
per row instead of the whole row (sessions_table.py, _changed_extent).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime
from typing import TYPE_CHECKING, NamedTuple

from rich.cells import cell_len
from rich.segment import Segment
from rich.style import Style

from pgtop.model.derive import seconds_between
from pgtop.model.format import age, one_line, size, truncate
from pgtop.model.pooler_join import client_app_shown
from pgtop.model.records import (
    ACTIVE,
    IDLE,
    IDLE_IN_TRANSACTION,
    IDLE_IN_TRANSACTION_ABORTED,
    Session,
)
from pgtop.model.view import activity_age_start

if TYPE_CHECKING:
    from pgtop.model.host import ProcessStats

STATE_LABELS = {
    ACTIVE: "active",
    IDLE: "idle",
    IDLE_IN_TRANSACTION: "idle-tx",
    IDLE_IN_TRANSACTION_ABORTED: "abort-tx",
    "fastpath function call": "fastpath",
    "disabled": "disabled",
}

STATE_STYLES = {
    ACTIVE: Style(color="green", bold=True),
    IDLE: Style(dim=True),
    IDLE_IN_TRANSACTION: Style(color="yellow", bold=True),
    IDLE_IN_TRANSACTION_ABORTED: Style(color="red", bold=True),
}
WAITING = "waiting"  # the state word of a session waiting on a lock (it is "active")
WAIT_STYLE = Style(color="magenta")
LOCK_STYLE = Style(color="red", bold=True)
NONE_STYLE = Style()
DIM_STYLE = Style(dim=True)


def state_label(s: Session) -> str:
    """The STATE cell: a background process shows its type (cut with an ellipsis, and
    named in full in the query cell), a lock waiter "waiting" rather than "active"."""
    if s.state is None:
        return "?" if s.is_client else s.backend_type
    if s.waits_on_lock:
        return WAITING
    return STATE_LABELS.get(s.state, s.state)


def _state_style(s: Session) -> Style:
    return LOCK_STYLE if s.waits_on_lock else STATE_STYLES.get(s.state or "", NONE_STYLE)


def _query(s: Session, now: datetime) -> str:
    if not s.query and not s.is_client and s.state is None:
        return s.backend_type  # a background process: its full name, cut in STATE
    return s.query


def _wait(s: Session) -> str:
    """The wait event; only lock waits keep their type, the rest read well alone."""
    if not s.wait_event_type:
        return ""
    if s.wait_event_type == "Lock":
        event = s.wait_event or ""
        return f"Lock:{LOCK_ABBREVIATIONS.get(event, event)}"
    return s.wait_event or s.wait_event_type


LOCK_ABBREVIATIONS = {"transactionid": "xid", "virtualxid": "vxid"}


def _cut_wait(text: str, width: int) -> str:
    """A lock wait too long for its column drops "Lock:": the state says "waiting"."""
    if text.startswith("Lock:") and cell_len(text) > width:
        text = text.removeprefix("Lock:")
    return one_line(text, width)


# Waiting for the client or for work is the normal state of an idle session: keep it quiet.
QUIET_WAITS = {"Client", "Activity", "Timeout", "Extension"}


def _wait_style(s: Session) -> Style:
    if s.waits_on_lock:
        return LOCK_STYLE
    return DIM_STYLE if s.wait_event_type in QUIET_WAITS else WAIT_STYLE


POOLED = "⇄"  # this backend was opened by PgBouncer; what follows is PgBouncer's client


def client_text(s: Session, now: datetime | None = None) -> str:
    """The real client behind PgBouncer when the pooler join found one, else the backend's."""
    link = s.pooler
    if link is None:
        return s.client
    if link.client is None:
        return f"{POOLED} no client"  # idle in its pool: no application holds it now
    return f"{POOLED} {link.client.address}"


def cut_address(text: str, width: int) -> str:
    """An address cut to `width` cells keeping what tells clients apart: the port and the
    end of the host, cut where a part of it begins ("⇄…0.0.1:58670", never "7.0.0.1",
    which reads as another address)."""
    text = one_line(text)
    if cell_len(text) <= width:
        return text
    mark = ""
    if text.startswith(POOLED):
        mark, text = POOLED, text[len(POOLED) :].lstrip()
        if cell_len(mark + text) <= width:
            return mark + text
    host, colon, port = text.rpartition(":")
    if not colon or not port.isdigit():
        return truncate(mark + text, width)
    room = width - cell_len(mark) - 1 - len(colon + port)  # 1 for the ellipsis
    if room < 1:
        return truncate(mark + text, width)
    tail = host[-room:]
    cut = min((i + 1 for i, ch in enumerate(tail[:-1]) if ch in ".:"), default=0)
    return f"{mark}…{tail[cut:]}{colon}{port}"


def _ago(get: Callable[[Session], datetime | None]) -> Callable[[Session, datetime], str]:
    return lambda s, now: age(seconds_between(get(s), now))


def _none(s: Session, now: datetime) -> str:
    return ""


def _pct(value: float | None) -> str:
    return "" if value is None else f"{value:.0f}" if value >= 10 else f"{value:.1f}"


def _rate(value: float | None) -> str:
    return "" if value is None else "0" if value < 1 else size(value)


class Column(NamedTuple):
    key: str  # also the sort key name in model.view.SORT_KEYS
    label: str
    width: int  # 0 for the query column, which takes the rest
    priority: int  # lower is kept longer when the terminal is narrow
    text: Callable[[Session, datetime], str]
    right: bool = False
    style: Callable[[Session], Style] | None = None
    # Host columns read the backend's process figures instead (shown only when local).
    host: Callable[[ProcessStats | None], str] | None = None
    wide: int = 0  # a wider width, taken when the query keeps room enough
    cut: Callable[[str, int], str] = one_line  # makes the text safe and cuts it to width
    ticks: bool = False  # the text moves with the clock (an age), not only with the session


# Priorities (lower is kept longer) put first what a DBA needs first: who is stuck and
# for how long (state, age, wait), who it is (user), then the rest; the query comes
# right after the wait so it always keeps some room.
COLUMNS: tuple[Column, ...] = (
    Column("pid", "PID", 7, 0, lambda s, now: str(s.pid), right=True),
    Column("xact_age", "XACT", 6, 7, _ago(lambda s: s.xact_start), right=True, ticks=True),
    Column("age", "AGE", 6, 2, _ago(activity_age_start), right=True, ticks=True),
    Column("backend_age", "CONN", 6, 15, _ago(lambda s: s.backend_start), right=True, ticks=True),
    Column("state", "STATE", 8, 1, lambda s, now: state_label(s), style=_state_style),
    Column(
        "wait", "WAIT", 10, 3, lambda s, now: _wait(s), style=_wait_style, wide=14, cut=_cut_wait
    ),
    Column("database", "DATABASE", 10, 8, lambda s, now: s.database or "", wide=14),
    Column("user", "USER", 10, 5, lambda s, now: s.user or "", wide=14),
    Column("application", "APP", 12, 12, lambda s, now: client_app_shown(s), wide=16),
    # "⇄ 255.255.255.255:65535" whole when there is room.
    Column("client", "CLIENT", 15, 13, client_text, wide=23, cut=cut_address),
    Column("cpu", "CPU%", 5, 6, _none, right=True, host=lambda p: _pct(p and p.cpu_percent)),
    Column("mem", "MEM", 6, 10, _none, right=True, host=lambda p: size(p.rss) if p else ""),
    Column("read", "READ/s", 7, 11, _none, right=True, host=lambda p: _rate(p and p.read_bps)),
    Column("write", "WRIT/s", 7, 11, _none, right=True, host=lambda p: _rate(p and p.write_bps)),
    Column(
        "blocked_by",
        "BLOCKED BY",
        10,
        9,
        lambda s, now: ",".join(map(str, s.blocked_by)),
        style=lambda s: LOCK_STYLE,
    ),
    Column("query", "QUERY", 0, 4, _query),
)

QUERY_MIN = 24  # at least this, or a third of the width, whichever is more
# Then columns widen in this order while the query keeps 1/share of the width: a cut
# address hides which client it is, where a cut name is usually still recognisable.
WIDEN = (("client", 4), ("wait", 3), ("user", 3), ("application", 3), ("database", 3))
HOST_KEYS = ("cpu", "mem", "read", "write")


def fit_columns(width: int, host: bool = False) -> tuple[Column, ...]:
    """The columns to show at `width` cells, in display order; the query takes the rest.

    Columns are taken by priority until the next one does not fit, so a column is never
    shown while a more important one is not. Host columns exist only when `host` (pgtop
    on the database host, figures asked for).
    """
    query_min = max(QUERY_MIN, width // 3)
    chosen: dict[str, Column] = {}
    used = query_min
    for col in sorted(COLUMNS, key=lambda c: c.priority):
        if col.key == "query" or (col.host is not None and not host):
            continue
        if used + col.width + 1 > width:
            break
        chosen[col.key] = col
        used += col.width + 1
    for key, share in WIDEN:
        col = chosen.get(key)
        grow = col.wide - col.width if col else 0
        if col and used - query_min + grow + max(QUERY_MIN, width // share) <= width:
            chosen[key] = col._replace(width=col.wide)
            used += grow
    return tuple(chosen.get(c.key, c) for c in COLUMNS if c.key in chosen or c.key == "query")


SORT_ARROWS = {False: "▲", True: "▼"}
HEADER_STYLE = Style(bold=True, reverse=True)  # the column header's line


def pad_cell(text: str, col: Column) -> str:
    """The cell padded to its column in terminal cells (CJK and emoji take two)."""
    if not col.width:
        return text
    gap = " " * max(0, col.width - cell_len(text))
    return gap + text if col.right else text + gap


def column_labels(columns: tuple[Column, ...], sort_column: str | None, descending: bool) -> str:
    """The table's header line: each column's label, the sorted one with its arrow."""
    return " ".join(
        pad_cell(c.label + (SORT_ARROWS[descending] if c.key == sort_column else ""), c)
        for c in columns
    )


LeadPart = tuple[str, Style]  # a piece of text drawn before a query, in its style


def row_segments(
    s: Session,
    columns: tuple[Column, ...],
    texts: tuple[str, ...],
    start: int,
    base: Style,
    cursor: bool,
    lead: tuple[LeadPart, ...] | None,
) -> tuple[Segment, ...]:
    """A row's segments for the cells from column `start` on (`texts` from cell_texts,
    with `lead`'s text first in the query), each cell preceded by the space between
    columns. Cells of one style go out as one segment: each segment costs its own escape
    codes on the wire, the larger part of the bytes sent per line. On the cursor's row
    (`cursor`) the cells keep the base style alone."""
    segments: list[Segment] = []
    run: list[str] = []
    run_style = base
    for i in range(start, len(columns)):
        col, text = columns[i], texts[i]
        style = base + col.style(s) if col.style and not cursor else base
        cell = pad_cell(text, col) if i == 0 else " " + pad_cell(text, col)
        parts = lead if col.key == "query" and not cursor else None
        for piece, piece_style in _lead_pieces(cell, 0 if i == 0 else 1, style, parts):
            if piece_style != run_style and run:
                segments.append(Segment("".join(run), run_style))
                run = []
            run_style = piece_style
            run.append(piece)
    if run:
        segments.append(Segment("".join(run), run_style))
    return tuple(segments)


def _lead_pieces(
    cell: str, at: int, style: Style, parts: tuple[LeadPart, ...] | None
) -> list[LeadPart]:
    """The query cell split into its lead's parts, each in its own style, and the rest;
    the lead starts at `at` (after the space between columns)."""
    if not parts:
        return [(cell, style)]
    pieces = [(cell[:at], style)]
    for text, part_style in parts:
        pieces.append((cell[at : at + len(text)], style + part_style))
        at += len(text)
    pieces.append((cell[at:], style))
    return [p for p in pieces if p[0]]


def cell_texts(
    s: Session,
    now: datetime,
    columns: tuple[Column, ...],
    width: int,
    lead: str = "",
    procs: Mapping[int, ProcessStats] | None = None,
) -> tuple[str, ...]:
    """Each shown column's text, made safe and cut to fit; `lead` (our own text, kept
    as is: its leading spaces are the tree's indentation) goes before the query."""
    fixed = sum(c.width + 1 for c in columns if c.width)
    query_width = max(1, width - fixed)
    out = []
    for c in columns:
        if c.host is not None:
            text = c.host(procs.get(s.pid) if procs else None)
        elif c.key == "query" and lead:
            # The lead (tree guides, "blocks N") keeps its spaces: it never goes through cut.
            room = query_width - cell_len(lead)
            out.append(
                lead + c.cut(c.text(s, now), room) if room > 0 else truncate(lead, query_width)
            )
            continue
        else:
            text = c.text(s, now)
        out.append(c.cut(text, c.width or query_width))
    return tuple(out)
