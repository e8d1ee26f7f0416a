"""The summary of one server that a fleet line shows: a record, and the same figures
taken from a full poll. Pure; collect/summary.py reads it from the server in one
statement (collect/queries/summary.sql)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from pgtop.model.derive import client_summary
from pgtop.model.records import Snapshot


@dataclass(frozen=True, slots=True)
class ServerSummary:
    """What one fleet line needs of PostgreSQL, as of `at` (the server's clock)."""

    version: str
    at: datetime
    max_connections: int
    superuser_reserved: int
    reserved: int | None  # PostgreSQL 16+
    client_connections: int  # client backends, pgtop's own included: they use slots
    active: int
    idle_in_transaction: int
    waiting_on_lock: int
    oldest_xact_s: float | None
    transactions: int  # xact_commit + xact_rollback over every database, cumulative
    in_recovery: bool = False

    @property
    def ordinary_slots(self) -> int:
        """max_connections less the reserved slots, as `Limits.available_to_ordinary_roles`."""
        return self.max_connections - self.superuser_reserved - (self.reserved or 0)


def summary_of_snapshot(snap: Snapshot) -> ServerSummary:
    """The same figures from a full poll (the server on screen), so its line goes on."""
    summary = client_summary(snap.sessions)  # the collector's, or counted in C
    counts, oldest = summary.counts, summary.oldest_xact_start
    now = snap.server.snapshot_time
    lim = snap.limits
    return ServerSummary(
        version=snap.server.version,
        at=now,
        max_connections=lim.max_connections,
        superuser_reserved=lim.superuser_reserved_connections,
        reserved=lim.reserved_connections,
        client_connections=lim.client_connections,
        active=counts.active,
        idle_in_transaction=counts.idle_in_transaction + counts.idle_in_transaction_aborted,
        waiting_on_lock=counts.waiting_on_lock,
        oldest_xact_s=(now - oldest).total_seconds() if oldest is not None else None,
        transactions=sum(d.xact_commit + d.xact_rollback for d in snap.databases),
        in_recovery=snap.server.in_recovery,
    )
