"""All findings of one snapshot, worst first. Pure: the same inputs give the same list."""

from __future__ import annotations

from pgtop.model.findings import pooler, server, sessions
from pgtop.model.findings.base import KINDS, Finding
from pgtop.model.findings.history import FindingHistory
from pgtop.model.findings.index import SessionIndex
from pgtop.model.pooler_join import link_sessions
from pgtop.model.records import Snapshot
from pgtop.model.thresholds import DEFAULT_THRESHOLDS, Thresholds


def derive_findings(
    snap: Snapshot,
    thresholds: Thresholds = DEFAULT_THRESHOLDS,
    history: FindingHistory | None = None,
) -> tuple[Finding, ...]:
    """What `snap` means, worst first. `history` (kept by the caller, which has already
    given it `snap`) adds growth and the usual rate of new backends; without it, each
    kind says what one snapshot shows."""
    if snap.pooler is not None and all(s.pooler is None for s in snap.sessions):
        snap = link_sessions(snap)  # --once: nobody joined the pooler yet
    t = thresholds
    # The groups of sessions each kind looks at, kept from poll to poll with a history.
    index = history.index if history is not None else SessionIndex()
    index.update(snap.sessions)
    behind, tree = index.lock_trees()
    found = [
        *pooler.pooler_queue(snap, t),
        *server.server_full(snap, t, history, index),
        *server.limit_reached(snap, t),
        *sessions.lock_pileup(snap, t, behind, tree),
        *sessions.idle_in_transaction(snap, t, behind, index),
        *server.connection_storm(snap, t, history, index),
        *sessions.old_snapshot(snap, t, index),
        *sessions.leak(snap, t, index),
    ]
    order = {k: i for i, k in enumerate(KINDS)}
    found.sort(key=lambda f: (-f.rank, order.get(f.kind, len(order))))
    return tuple(found)


def worst(findings: tuple[Finding, ...]) -> Finding | None:
    """The finding a header shows: the first, when it is more than information."""
    return findings[0] if findings and findings[0].severity != "info" else None
