"""Connection capacity arithmetic for the limits pane: pure, no I/O, no Textual.

The one thing no other tool shows is whether PgBouncer, at full tilt, could open more
server connections than PostgreSQL has slots left for ordinary roles. Everything here is
an approximation from one snapshot: pools that have not been used yet do not appear in
SHOW POOLS, and a pooler fronting several servers is counted against this one.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal

from pgtop.model.format import percent
from pgtop.model.pooler_records import PoolerSnapshot
from pgtop.model.records import ConnLimit, Limits, Setting

Level = Literal["ok", "warn", "crit"]
WARN_PCT = 80.0
CRIT_PCT = 95.0

# PgBouncer's built-in defaults, used when SHOW CONFIG did not report a key.
_DEFAULT_POOL_SIZE = 20
_DEFAULT_RESERVE = 0


def usage_level(pct: float) -> Level:
    if pct >= CRIT_PCT:
        return "crit"
    return "warn" if pct >= WARN_PCT else "ok"


@dataclass(frozen=True, slots=True)
class Usage:
    """`used` of `limit` connections; pct and level are derived once, here."""

    used: int
    limit: int
    pct: float
    level: Level


def usage(used: int, limit: int) -> Usage:
    pct = percent(used, limit)
    # A limit of 0 with anyone connected is as full as it gets.
    level = "crit" if limit <= 0 < used else usage_level(pct)
    return Usage(used, limit, pct, level)


@dataclass(frozen=True, slots=True)
class LimitRow:
    kind: Literal["role", "database"]
    name: str
    usage: Usage


def limit_rows(limits: Limits) -> tuple[LimitRow, ...]:
    """Roles and databases that have their own connection limit (-1 means none)."""

    def rows(kind: Literal["role", "database"], items: tuple[ConnLimit, ...]) -> list[LimitRow]:
        return [LimitRow(kind, c.name, usage(c.current, c.limit)) for c in items if c.limit >= 0]

    return (*rows("role", limits.roles), *rows("database", limits.databases))


def config_int(config: dict[str, str], key: str) -> int | None:
    try:
        return int(float(config[key].strip()))
    except (KeyError, ValueError):
        return None


def config_seconds(config: dict[str, str], key: str) -> float | None:
    """SHOW CONFIG prints time settings in seconds; tolerate a trailing 's'."""
    try:
        return float(config[key].strip().removesuffix("s"))
    except (KeyError, ValueError):
        return None


def _version_tuple(version: str) -> tuple[int, ...]:
    m = re.search(r"(\d+)\.(\d+)", version)
    return (int(m.group(1)), int(m.group(2))) if m else (0, 0)


@dataclass(frozen=True, slots=True)
class DatabaseBudget:
    """Most server connections PgBouncer may open for one of its databases."""

    database: str
    pools: int
    uncapped: int | None  # sum of pool size + reserve over its pools; None = unlimited
    cap: int | None  # max_db_connections for this database, None = no cap
    possible: int | None  # None = unlimited


@dataclass(frozen=True, slots=True)
class CapacityBudget:
    databases: tuple[DatabaseBudget, ...]
    user_cap: int | None  # max_user_connections, when set
    pooler_possible: int | None  # None = unlimited
    pooler_servers: int  # server connections open now
    pg_available: int  # slots for ordinary roles
    pg_in_use: int  # client backends now
    others: int  # client backends not opened by the pooler (approximate)
    headroom: int  # what is left for the pooler: pg_available - others
    could_exhaust: bool


def capacity_budget(limits: Limits, pooler: PoolerSnapshot) -> CapacityBudget:
    cfg = pooler.config
    default_size = config_int(cfg, "default_pool_size")
    default_size = _DEFAULT_POOL_SIZE if default_size is None else default_size
    default_reserve = config_int(cfg, "reserve_pool_size") or _DEFAULT_RESERVE
    max_db = config_int(cfg, "max_db_connections") or 0
    max_user = config_int(cfg, "max_user_connections") or 0
    # Since 1.24 a pool size of 0 means unlimited; before that it meant no servers.
    zero_is_unlimited = _version_tuple(pooler.version) >= (1, 24)
    by_name = {d.name: d for d in pooler.databases}

    db_sum: dict[str, int | None] = {}
    db_pools: dict[str, int] = defaultdict(int)
    user_sum: dict[str, int | None] = {}
    for pool in pooler.pools:
        pdb = by_name.get(pool.database)
        size = pdb.pool_size if pdb and pdb.pool_size is not None else default_size
        reserve = pdb.reserve_pool if pdb and pdb.reserve_pool is not None else default_reserve
        one: int | None = None if size == 0 and zero_is_unlimited else size + reserve
        db_pools[pool.database] += 1
        db_sum[pool.database] = _add(db_sum.get(pool.database, 0), one)
        user_sum[pool.user] = _add(user_sum.get(pool.user, 0), one)

    budgets = []
    for name, uncapped in db_sum.items():
        pdb = by_name.get(name)
        # SHOW DATABASES.max_connections is the effective per-database cap (its own
        # setting, else the global one); the global setting covers older versions.
        cap = pdb.max_connections if pdb and pdb.max_connections else (max_db or None)
        budgets.append(DatabaseBudget(name, db_pools[name], uncapped, cap, _min(uncapped, cap)))
    by_db = _total(b.possible for b in budgets)
    user_cap = max_user or None
    # Both sums bound the same connections from different sides; the smaller one holds.
    by_user = _total(_min(v, user_cap) for v in user_sum.values()) if user_cap else None
    possible = _min(by_db, by_user) if by_user is not None else by_db

    others = max(0, limits.client_connections - pooler.servers)
    headroom = limits.available_to_ordinary_roles - others
    return CapacityBudget(
        databases=tuple(sorted(budgets, key=lambda b: b.database)),
        user_cap=user_cap,
        pooler_possible=possible,
        pooler_servers=pooler.servers,
        pg_available=limits.available_to_ordinary_roles,
        pg_in_use=limits.client_connections,
        others=others,
        headroom=headroom,
        could_exhaust=possible is None or possible > headroom,
    )


def _add(a: int | None, b: int | None) -> int | None:
    return None if a is None or b is None else a + b


def _min(a: int | None, b: int | None) -> int | None:
    """Minimum where None means unlimited."""
    if a is None:
        return b
    return a if b is None else min(a, b)


def _total(values: Iterable[int | None]) -> int | None:
    total: int | None = 0
    for v in values:
        total = _add(total, v)
    return total


@dataclass(frozen=True, slots=True)
class QueueCheck:
    waiting: int  # clients queued for a server, all pools
    longest: float | None  # seconds the oldest queued client has waited
    timeout: float | None  # query_wait_timeout in seconds; None = unknown, 0 = disabled
    seconds_left: float | None  # before the oldest is dropped; None = nobody waits/no timeout


def queue_check(pooler: PoolerSnapshot) -> QueueCheck:
    waiting_pools = [p for p in pooler.pools if p.cl_waiting > 0]
    waiting = sum(p.cl_waiting for p in waiting_pools)
    longest = max((p.maxwait for p in waiting_pools), default=None)
    timeout = config_seconds(pooler.config, "query_wait_timeout")
    left = None
    if longest is not None and timeout:
        left = max(0.0, timeout - longest)
    return QueueCheck(waiting, longest, timeout, left)


# pg_settings units, in seconds or bytes per unit.
_TIME_UNITS = {"us": 1e-6, "ms": 1e-3, "s": 1.0, "min": 60.0, "h": 3600.0, "d": 86400.0}
_SIZE_UNITS = {"B": 1, "kB": 1024, "8kB": 8192, "16kB": 16384, "MB": 1024**2, "GB": 1024**3}
_TIME_STEPS = (("d", 86400_000), ("h", 3600_000), ("min", 60_000), ("s", 1000), ("ms", 1))
_SIZE_STEPS = (("GB", 1024**3), ("MB", 1024**2), ("kB", 1024), ("B", 1))
# Settings where 0 does not mean "off".
_ZERO_MEANS = dict.fromkeys(
    ("tcp_keepalives_idle", "tcp_keepalives_interval", "tcp_keepalives_count"), "OS default"
)


def human_setting(s: Setting) -> str:
    """'0 (off)', '30s', '5min', '1kB': the value as a person would write it."""
    try:
        n = float(s.value)
    except ValueError:
        return s.value
    if s.unit in _TIME_UNITS:
        if n == 0:
            return f"0 ({_ZERO_MEANS.get(s.name, 'off')})"
        if n < 0:
            return f"{s.value} (off)"
        ms = round(n * _TIME_UNITS[s.unit] * 1000)
        return _largest_exact(ms, _TIME_STEPS)
    if s.unit in _SIZE_UNITS:
        return _largest_exact(round(n * _SIZE_UNITS[s.unit]), _SIZE_STEPS)
    return s.value


def _largest_exact(n: int, steps: tuple[tuple[str, int], ...]) -> str:
    # The largest unit that divides exactly, as postgresql.conf would be written.
    for name, factor in steps:
        if n % factor == 0:
            return f"{n // factor}{name}"
    return f"{n}{steps[-1][0]}"
