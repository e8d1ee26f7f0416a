"""A `Finding` (what pgtop concluded from one poll) and what the kind modules share.

Pure and frozen. The kind modules beside this one (pooler.py, server.py, sessions.py)
make findings; derive.py runs them all and sorts them worst first. The thresholds that
decide them are in model/thresholds.py.
"""

from __future__ import annotations

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
