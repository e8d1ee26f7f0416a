"""The fleet screen's lines: one per server, worst first, sortable and filterable.

Pure: a `MemberView` (what monitor/fleet.py read of one member) becomes a `FleetLine`
of plain figures; nothing here is kept or changed after it is built. The filter reads
as the sessions filter does (model/filter.py): free words, `field:value`, a leading
minus to exclude, quotes to keep spaces, and the ages `xact>5m`, `wait>30s`::

    env:prod  status:down  -name:staging  version:15  used>80  xact>5m

`status:down` is any server that is not live (unreachable, refused, reconnecting).
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime

from pgtop.model.capacity import Level, usage
from pgtop.model.filter import FilterError
from pgtop.model.pooler_records import PoolerSnapshot
from pgtop.model.server_summary import ServerSummary

__all__ = [
    "SORT_KEYS",
    "FilterError",
    "FleetFilter",
    "FleetLine",
    "MemberView",
    "fleet_lines",
    "parse_fleet_filter",
    "sort_lines",
]

LIVE = "live"
# How bad a status is, worst first; a status not listed counts as down.
_STATUS_RANK = {"refused: bad password": 0, "unreachable": 0, "reconnecting": 1,
                "connecting": 2, LIVE: 3}  # fmt: skip
_LEVEL_RANK: dict[Level, int] = {"crit": 0, "warn": 1, "ok": 2}
LONG_XACT_S = 300.0  # an open transaction this old is worth a look (warn)


@dataclass(frozen=True, slots=True)
class MemberView:
    """One member as its feed has it now (built by monitor/fleet.py)."""

    name: str
    env: str | None
    colour: str | None
    status: str
    reason: str
    since: datetime
    summary: ServerSummary | None
    tps: float | None
    pooler: PoolerSnapshot | None = None
    pooler_error: str | None = None


@dataclass(frozen=True, slots=True)
class FleetLine:
    name: str
    env: str
    colour: str | None
    status: str
    reason: str  # why not live ("" when live)
    since: datetime
    version: str | None
    used: int | None  # client connections, pgtop's own included
    slots: int | None  # for ordinary roles: max_connections less the reserved
    used_pct: float | None
    level: Level  # of the line as a whole: the worst of its figures
    active: int | None
    idle_in_transaction: int | None
    waiting: int | None  # on a lock
    oldest_xact_s: float | None
    tps: float | None
    pool_waiting: int | None  # clients waiting at the pooler(s); None without a pooler
    pool_longest_wait_s: float | None

    @property
    def down(self) -> bool:
        return self.status != LIVE

    @property
    def rank(self) -> tuple[int, int, float, str]:
        """Worst first: down before live, then the worst level, the fullest, by name."""
        return (_STATUS_RANK.get(self.status, 0), _LEVEL_RANK[self.level],
                -(self.used_pct or 0.0), self.name)  # fmt: skip


def _line(v: MemberView) -> FleetLine:
    s = v.summary
    levels: list[Level] = ["ok"]
    used = slots = None
    pct = None
    if s is not None:
        used, slots = s.client_connections, s.ordinary_slots
        u = usage(used, slots)
        pct = u.pct
        levels.append(u.level)
        if s.waiting_on_lock or (s.oldest_xact_s or 0) >= LONG_XACT_S:
            levels.append("warn")
    waiting = longest = None
    if v.pooler is not None:
        waiting = sum(p.cl_waiting for p in v.pooler.pools)
        longest = max((p.maxwait for p in v.pooler.pools), default=0.0)
        if waiting:
            levels.append("warn")
    level = min(levels, key=lambda lv: _LEVEL_RANK[lv])
    return FleetLine(
        name=v.name,
        env=v.env or "",
        colour=v.colour,
        status=v.status,
        reason=v.reason if v.status != LIVE else "",
        since=v.since,
        version=s.version if s else None,
        used=used,
        slots=slots,
        used_pct=pct,
        level=level,
        active=s.active if s else None,
        idle_in_transaction=s.idle_in_transaction if s else None,
        waiting=s.waiting_on_lock if s else None,
        oldest_xact_s=s.oldest_xact_s if s else None,
        tps=v.tps,
        pool_waiting=waiting,
        pool_longest_wait_s=longest,
    )


def fleet_lines(views: Iterable[MemberView]) -> list[FleetLine]:
    """One line per member, worst first."""
    return sorted((_line(v) for v in views), key=lambda line: line.rank)


# -- sorting ---------------------------------------------------------------------------

SORT_KEYS: dict[str, Callable[[FleetLine], object]] = {
    "worst": lambda line: line.rank,
    "name": lambda line: line.name,
    "env": lambda line: (line.env, line.name),
    "status": lambda line: (line.status, line.name),
    "used": lambda line: line.used_pct if line.used_pct is not None else -1.0,
    "active": lambda line: line.active if line.active is not None else -1,
    "idle_tx": lambda line: line.idle_in_transaction or -1,
    "waiting": lambda line: line.waiting if line.waiting is not None else -1,
    "xact": lambda line: line.oldest_xact_s if line.oldest_xact_s is not None else -1.0,
    "tps": lambda line: line.tps if line.tps is not None else -1.0,
    "pool_wait": lambda line: line.pool_waiting if line.pool_waiting is not None else -1,
}
# Figures sort largest first, as the sessions pane sorts ages; names A to Z.
_DESCENDING = {"used", "active", "idle_tx", "waiting", "xact", "tps", "pool_wait"}


def sort_lines(lines: Iterable[FleetLine], key: str, *, reverse: bool = False) -> list[FleetLine]:
    """`lines` by `key` (one of SORT_KEYS); `reverse` turns the natural order round."""
    if key not in SORT_KEYS:
        raise ValueError(f"unknown sort key {key!r} (known: {', '.join(SORT_KEYS)})")
    descending = (key in _DESCENDING) != reverse
    # Ties keep the worst-first order: sort by rank first (stable sort).
    by_rank = sorted(lines, key=lambda line: line.rank)
    return sorted(by_rank, key=SORT_KEYS[key], reverse=descending)  # type: ignore[arg-type]


# -- filtering -------------------------------------------------------------------------

Predicate = Callable[[FleetLine], bool]

TEXT_FIELDS: dict[str, Callable[[FleetLine], str]] = {
    "name": lambda line: line.name,
    "env": lambda line: line.env,
    "status": lambda line: line.status,
    "version": lambda line: line.version or "",
}
NUMBER_FIELDS: dict[str, Callable[[FleetLine], float | None]] = {
    "used": lambda line: line.used_pct,
    "active": lambda line: line.active,
    "idle_tx": lambda line: line.idle_in_transaction,
    "waiting": lambda line: line.waiting,
    "tps": lambda line: line.tps,
    "pool_wait": lambda line: line.pool_waiting,
}
AGE_FIELDS: dict[str, Callable[[FleetLine], float | None]] = {
    "xact": lambda line: line.oldest_xact_s,
    "wait": lambda line: line.pool_longest_wait_s,
}
_COMPARE = re.compile(r"^([a-z_]+)(>=|<=|>|<)(\d+(?:\.\d+)?)(ms|s|m|min|h|d)?$")
_UNITS = {"ms": 0.001, "s": 1, "m": 60, "min": 60, "h": 3600, "d": 86400, None: 1}
_OPS: dict[str, Callable[[float, float], bool]] = {
    ">": lambda a, b: a > b,
    "<": lambda a, b: a < b,
    ">=": lambda a, b: a >= b,
    "<=": lambda a, b: a <= b,
}


def _field_term(name: str, value: str) -> Predicate:
    if name not in TEXT_FIELDS:
        known = ", ".join([*TEXT_FIELDS, *NUMBER_FIELDS, *AGE_FIELDS])
        raise FilterError(f"unknown filter field {name!r} (known: {known})")
    wanted = value.lower()
    if name == "status" and wanted in ("down", "up"):
        up = wanted == "up"
        return lambda line: line.down != up
    if name == "env":  # exact: env:prod must not match "preprod"
        return lambda line: line.env.lower() == wanted
    get = TEXT_FIELDS[name]
    return lambda line: wanted in get(line).lower()


def _compare_term(name: str, op: str, number: float, unit: str | None) -> Predicate:
    if name in AGE_FIELDS:
        get, limit = AGE_FIELDS[name], number * _UNITS[unit]
    elif name in NUMBER_FIELDS and unit is None:
        get, limit = NUMBER_FIELDS[name], number
    else:
        raise FilterError(f"cannot compare {name!r} (try used>80 xact>5m wait>30s tps>100)")
    compare = _OPS[op]

    def predicate(line: FleetLine) -> bool:
        value = get(line)
        return value is not None and compare(value, limit)

    return predicate


def _text_term(word: str) -> Predicate:
    wanted = word.lower()
    return lambda line: any(
        wanted in text.lower() for text in (line.name, line.env, line.status, line.reason)
    )


@dataclass(frozen=True)
class FleetFilter:
    text: str
    terms: tuple[tuple[bool, Predicate], ...]  # (negated, predicate)

    def matches(self, line: FleetLine) -> bool:
        return all(pred(line) != negated for negated, pred in self.terms)

    def apply(self, lines: Iterable[FleetLine]) -> list[FleetLine]:
        return [line for line in lines if self.matches(line)]


def parse_fleet_filter(text: str) -> FleetFilter:
    """The filter `text` types; FilterError with a one-line reason otherwise."""
    try:
        words = shlex.split(text)
    except ValueError as exc:
        raise FilterError(f"filter: {exc}") from None
    terms: list[tuple[bool, Predicate]] = []
    for word in words:
        negated = word.startswith("-") and len(word) > 1
        body = word[1:] if negated else word
        if m := _COMPARE.match(body.lower()):
            name, op, number, unit = m.groups()
            terms.append((negated, _compare_term(name, op, float(number), unit)))
        elif ":" in body and not body.startswith(":"):
            name, value = body.split(":", 1)
            terms.append((negated, _field_term(name.lower(), value)))
        else:
            terms.append((negated, _text_term(body)))
    return FleetFilter(text=text, terms=tuple(terms))
