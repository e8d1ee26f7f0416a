"""The sessions table's columns: labels, widths, which to drop first when narrow.

Columns are shown in a fixed order, but chosen by priority: at 80 columns pid, the two
ages, state, database and the start of the query fit; wider terminals add the rest.
The ages tick every second, so they sit on the left: Textual re-sends a changed line
from its left edge to the last changed cell, and a tick then costs a few dozen bytes
per row instead of the whole row (sessions_table.py, _changed_extent).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime

from rich.cells import cell_len
from rich.style import Style

from pgtop.model.derive import seconds_between
from pgtop.model.format import age, one_line, size, truncate
from pgtop.model.host import ProcessStats
from pgtop.model.pooler_join import client_app_shown
from pgtop.model.records import (
    ACTIVE,
    IDLE,
    IDLE_IN_TRANSACTION,
    IDLE_IN_TRANSACTION_ABORTED,
    Session,
)
from pgtop.model.view import activity_age_start

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
WAIT_STYLE = Style(color="magenta")
LOCK_STYLE = Style(color="red", bold=True)
NONE_STYLE = Style()
DIM_STYLE = Style(dim=True)


def state_label(s: Session) -> str:
    if s.state is None:
        return "?" if s.is_client else s.backend_type.split()[0][:8]
    return STATE_LABELS.get(s.state, s.state[:8])


def _wait(s: Session) -> str:
    """The wait event; only lock waits keep their type, the rest read well alone."""
    if not s.wait_event_type:
        return ""
    if s.wait_event_type == "Lock":
        event = s.wait_event or ""
        return f"Lock:{LOCK_ABBREVIATIONS.get(event, event)}"
    return s.wait_event or s.wait_event_type


LOCK_ABBREVIATIONS = {"transactionid": "xid", "virtualxid": "vxid"}
# Waiting for the client or for work is the normal state of an idle session: keep it quiet.
QUIET_WAITS = {"Client", "Activity", "Timeout", "Extension"}


def _wait_style(s: Session) -> Style:
    if s.waits_on_lock:
        return LOCK_STYLE
    return DIM_STYLE if s.wait_event_type in QUIET_WAITS else WAIT_STYLE


CLIENT_WIDTH = 15
POOLED = "⇄"  # this backend was opened by PgBouncer; what follows is PgBouncer's client


def client_text(s: Session, width: int = CLIENT_WIDTH) -> str:
    """The real client behind PgBouncer when the pooler join found one, else the backend's.

    The port is what tells two clients on one host apart, so a long address loses its
    head, never its port.
    """
    link = s.pooler
    if link is None:
        return s.client
    if link.client is None:
        return f"{POOLED} no client"  # idle in its pool: no application holds it now
    address = link.client.address
    for text in (f"{POOLED} {address}", f"{POOLED}{address}"):
        if cell_len(text) <= width:
            return text
    return f"{POOLED}…{address[-(width - 2) :]}"


def _ago(get: Callable[[Session], datetime | None]) -> Callable[[Session, datetime], str]:
    return lambda s, now: age(seconds_between(get(s), now))


def _none(s: Session, now: datetime) -> str:
    return ""


def _pct(value: float | None) -> str:
    return "" if value is None else f"{value:.0f}" if value >= 10 else f"{value:.1f}"


def _rate(value: float | None) -> str:
    return "" if value is None else "0" if value < 1 else size(value)


@dataclass(frozen=True, slots=True)
class Column:
    key: str  # also the sort key name in model.view.SORT_KEYS
    label: str
    width: int  # 0 for the query column, which takes the rest
    priority: int  # lower is kept longer when the terminal is narrow
    text: Callable[[Session, datetime], str]
    right: bool = False
    style: Callable[[Session], Style] | None = None
    # Host columns read the backend's process figures instead (shown only when local).
    host: Callable[[ProcessStats | None], str] | None = None


COLUMNS: tuple[Column, ...] = (
    Column("pid", "PID", 7, 0, lambda s, now: str(s.pid), right=True),
    Column("xact_age", "XACT", 6, 2, _ago(lambda s: s.xact_start), right=True),
    Column("age", "AGE", 6, 3, _ago(activity_age_start), right=True),
    Column("backend_age", "CONN", 6, 11, _ago(lambda s: s.backend_start), right=True),
    Column(
        "state",
        "STATE",
        8,
        1,
        lambda s, now: state_label(s),
        style=lambda s: STATE_STYLES.get(s.state or "", NONE_STYLE),
    ),
    Column(
        "wait",
        "WAIT",
        14,
        7,
        lambda s, now: _wait(s),
        style=_wait_style,
    ),
    Column("database", "DATABASE", 10, 5, lambda s, now: s.database or ""),
    Column("user", "USER", 10, 6, lambda s, now: s.user or ""),
    Column("application", "APP", 12, 9, lambda s, now: client_app_shown(s)),
    Column("client", "CLIENT", CLIENT_WIDTH, 10, lambda s, now: client_text(s)),
    Column("cpu", "CPU%", 5, 2, _none, right=True, host=lambda p: _pct(p and p.cpu_percent)),
    Column("mem", "MEM", 6, 3, _none, right=True, host=lambda p: size(p.rss) if p else ""),
    Column("read", "READ/s", 7, 6, _none, right=True, host=lambda p: _rate(p and p.read_bps)),
    Column("write", "WRIT/s", 7, 6, _none, right=True, host=lambda p: _rate(p and p.write_bps)),
    Column(
        "blocked_by",
        "BLOCKED BY",
        10,
        8,
        lambda s, now: ",".join(map(str, s.blocked_by)),
        style=lambda s: LOCK_STYLE,
    ),
    Column("query", "QUERY", 0, 4, lambda s, now: s.query),
)

QUERY_MIN = 24


HOST_KEYS = ("cpu", "mem", "read", "write")


def fit_columns(width: int, host: bool = False) -> tuple[Column, ...]:
    """The columns to show at `width` cells, in display order; the query takes the rest.

    Host columns exist only when `host` (pgtop on the database host, figures asked for).
    """
    chosen: set[str] = {"query"}
    used = QUERY_MIN
    for col in sorted(COLUMNS, key=lambda c: c.priority):
        if col.key == "query" or (col.host is not None and not host):
            continue
        if used + col.width + 1 <= width:
            chosen.add(col.key)
            used += col.width + 1
    return tuple(c for c in COLUMNS if c.key in chosen)


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
            text = one_line(c.host(procs.get(s.pid) if procs else None), c.width)
        elif c.key == "query" and lead:
            room = query_width - cell_len(lead)
            text = (
                lead + one_line(c.text(s, now), room) if room > 0 else truncate(lead, query_width)
            )
        else:
            text = one_line(c.text(s, now), c.width or query_width)
        out.append(text)
    return tuple(out)
