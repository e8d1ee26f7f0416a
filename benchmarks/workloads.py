"""The workloads a benchmark run measures, by name: how many direct sessions and pooled
clients, and which load.py --mix shapes them. Stateless."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Workload:
    name: str
    sessions: int  # direct sessions
    pooled: int  # clients through PgBouncer
    mix: str  # load.py --mix
    about: str  # one line for the table's title

    def title(self) -> str:
        return f"{self.name}: {self.sessions:,} direct + {self.pooled:,} pooled, {self.about}"


def today(sessions: int, pooled: int) -> Workload:
    return Workload(
        "today",
        sessions,
        pooled,
        "today",
        "15% long active, 10% idle in xact, 10% churning, 3% lock waiters",
    )


def churn(sessions: int, pooled: int) -> Workload:
    return Workload(
        "churn",
        sessions,
        pooled,
        "churn",
        # A pooled client commits about every 1.5 s: 300 of them make ~200 xact/s.
        f"~25% running, 10% idle in xact, 4% lock waiters, pooled ~{pooled * 2 // 3} xact/s",
    )


def quiet(sessions: int = 100) -> Workload:
    return Workload("quiet", sessions, 0, "idle", "all idle (profiling reference)")
