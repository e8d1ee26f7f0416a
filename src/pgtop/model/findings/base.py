"""A `Finding` (what pgtop concluded from one poll) and the thresholds that decide them.

Pure and frozen. The kind modules beside this one (pooler.py, server.py, sessions.py)
make findings; derive.py runs them all and sorts them worst first. Thresholds come from
the defaults here or a profile's `[findings]` table (profiles/schema.py checks it).
"""

from __future__ import annotations

import dataclasses
import shlex
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal

from pgtop.model.derive import seconds_between
from pgtop.model.format import one_line
from pgtop.model.records import IDLE_IN_TRANSACTION, IDLE_IN_TRANSACTION_ABORTED, Session

Severity = Literal["info", "warning", "critical"]
SEVERITY_RANK: dict[str, int] = {"critical": 2, "warning": 1, "info": 0}
IDLE_IN_XACT_STATES = frozenset({IDLE_IN_TRANSACTION, IDLE_IN_TRANSACTION_ABORTED})

# Kinds, in the order they are listed when equally severe: the cause before its effects.
KINDS = (
    "pooler_queue",
    "server_full",
    "limit_reached",
    "lock_pileup",
    "idle_in_transaction",
    "connection_storm",
    "old_snapshot",
    "leak",
)


@dataclass(frozen=True, slots=True)
class Finding:
    """One conclusion: what holds, how bad, the numbers that prove it, whom it concerns."""

    kind: str  # one of KINDS
    severity: Severity
    summary: str  # one plain sentence
    evidence: Mapping[str, float | int] = field(default_factory=dict, hash=False)
    pids: tuple[int, ...] = ()  # the sessions it concerns (possibly none)
    pool: str | None = None  # "db/user" of the PgBouncer pool it concerns
    cause: str | None = None  # for pooler_queue: what holds the pool (see pooler.py)
    action: str = ""  # what to do: the key, or the setting that would prevent it
    filter: str | None = None  # a sessions filter (the `/` syntax) that shows `pids`

    @property
    def rank(self) -> int:
        return SEVERITY_RANK[self.severity]

    @property
    def headline(self) -> str:
        """A few words for a header line: "3 waiting at shop/app: idle in transaction"."""
        e = self.evidence
        first = self.pids[0] if self.pids else None
        match self.kind:
            case "pooler_queue":
                why = _CAUSE_WORDS.get(self.cause or "", self.cause or "")
                return f"{e.get('waiting', 0)} waiting at {named(self.pool or '')}: {why}"
            case "server_full":
                return f"connections {e.get('percent', 0):.0f} % of slots"
            case "limit_reached":
                return self.summary.split(" is ", 1)[0] + (
                    " at its limit" if self.severity == "critical" else " near its limit"
                )
            case "lock_pileup":
                return f"pid {first} blocks {e.get('waiters', 0)}"
            case "idle_in_transaction":
                return f"{e.get('sessions', 0)} idle in transaction"
            case "connection_storm":
                return f"connection storm: {e.get('per_s', 0):g}/s"
            case "old_snapshot":
                return f"old snapshot: pid {first}"
            case "leak":
                return f"{e.get('sessions', 0)} sessions idle for long"
        return self.kind


_CAUSE_WORDS = {
    "postgres_full": "PostgreSQL full",
    "role_limit": "role at its limit",
    "database_limit": "database at its limit",
    "max_db_connections": "max_db_connections",
    "max_user_connections": "max_user_connections",
    "idle_in_transaction": "idle in transaction",
    "slow_queries": "slow queries",
    "idle_clients": "idle clients hold it",
    "pool_size": "pool too small",
    "opening": "opening servers",
}


@dataclass(frozen=True, slots=True)
class Thresholds:
    """When a finding is raised. Seconds (`_s`), counts, percentages, transactions."""

    # pooler queue: a client waiting this long; critical past queue_critical_s, or when
    # query_wait_timeout drops the oldest within queue_timeout_left_s
    queue_wait_s: float = 1.0
    queue_critical_s: float = 10.0
    queue_timeout_left_s: float = 30.0
    slow_query_s: float = 1.0  # an active query this old counts as slow in a held pool
    # ordinary slots in use, percent
    server_warning_pct: float = 80.0
    server_critical_pct: float = 95.0
    growth_minutes: float = 5.0  # growth is told over this many minutes (with history)
    # a role's or database's CONNECTION LIMIT: close from this percent (limits >= 5)
    limit_warning_pct: float = 80.0
    # storm: at least storm_min_new backends younger than storm_window_s, and (with
    # history) storm_factor times the usual rate
    storm_window_s: float = 10.0
    storm_min_new: int = 50
    storm_factor: float = 5.0
    # idle in transaction: past idle_in_transaction_s; critical past the second, or blocking
    idle_in_transaction_s: float = 60.0
    idle_in_transaction_critical_s: float = 600.0
    # old snapshot: an xmin held this long and this many transactions old
    old_snapshot_s: float = 600.0
    old_snapshot_xids: int = 10_000
    old_snapshot_critical_xids: int = 10_000_000
    # lock pile-up: a waiter waiting this long; critical with this many behind a root
    lock_wait_s: float = 5.0
    lock_pileup_critical: int = 10
    # leak: this many sessions of one application idle past leak_idle_s
    leak_sessions: int = 20
    leak_idle_s: float = 900.0


DEFAULT_THRESHOLDS = Thresholds()
THRESHOLD_NAMES = tuple(f.name for f in dataclasses.fields(Thresholds))


def thresholds_from(values: Mapping[str, object]) -> Thresholds:
    """Thresholds with `values` over the defaults; ValueError (one line) for a bad key or
    value. Counts take integers; the rest any non-negative number."""
    changes: dict[str, float | int] = {}
    types = {f.name: f.type for f in dataclasses.fields(Thresholds)}
    for key, value in values.items():
        if key not in types:
            raise ValueError(f"unknown findings threshold {key!r}")
        if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
            raise ValueError(f"findings threshold {key!r} must be a non-negative number")
        if types[key] == "int":
            if value != int(value):
                raise ValueError(f"findings threshold {key!r} must be a whole number")
            value = int(value)
        changes[key] = value
    return dataclasses.replace(DEFAULT_THRESHOLDS, **changes)


# -- helpers the kind modules share -------------------------------------------------------


def state_age(s: Session, now: datetime) -> float:
    return seconds_between(s.state_change, now) or 0.0


def query_age(s: Session, now: datetime) -> float:
    return seconds_between(s.query_start, now) or 0.0


def xact_age(s: Session, now: datetime) -> float:
    return seconds_between(s.xact_start, now) or 0.0


def term(name: str, value: str) -> str:
    """One `/` filter term, quoted when the value holds spaces or quotes."""
    text = f"{name}:{value}"
    return text if shlex.quote(text) == text else shlex.quote(text)


def top_counts(values: list[str], n: int = 3) -> list[tuple[str, int]]:
    return top_of(Counter(values), n)  # counted in C


def top_of(counts: Counter[str], n: int = 3) -> list[tuple[str, int]]:
    """The `n` largest counts of a Counter kept elsewhere, as top_counts orders them."""
    return sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))[:n]


def named(value: str) -> str:
    """A name from the server, as a sentence shows it: controls and escapes made visible
    (it reaches terminals), cut to 40 cells; "(none)" when empty."""
    return one_line(value, 40) if value else "(none)"
