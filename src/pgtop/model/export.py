"""Snapshots as plain JSON-ready dicts: the stable schema of `pgtop --once --format json`.

The schema is documented in docs/json-schema.md; bump SCHEMA when a field changes
meaning or disappears (adding fields is not a break).
"""

from __future__ import annotations

from dataclasses import fields
from datetime import datetime
from typing import Any

from pgtop.model.derive import Rates, session_ages
from pgtop.model.findings import Finding
from pgtop.model.locks import blockers_unknown
from pgtop.model.pooler_join import link_sessions
from pgtop.model.pooler_records import (
    Pool,
    PoolerClient,
    PoolerDatabase,
    PoolerLink,
    PoolerServer,
    PoolerSnapshot,
)
from pgtop.model.records import ConnLimit, Session, Snapshot, StateCounts

SCHEMA = "pgtop.snapshot/1"


def _time(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def _round(value: float | None, digits: int = 3) -> float | None:
    return None if value is None else round(value, digits)


def counts_to_dict(c: StateCounts) -> dict[str, int]:
    return {
        "active": c.active,
        "idle": c.idle,
        "idle_in_transaction": c.idle_in_transaction,
        "idle_in_transaction_aborted": c.idle_in_transaction_aborted,
        "other": c.other,
        "waiting_on_lock": c.waiting_on_lock,
        "total": c.total,
    }


def session_to_dict(s: Session, now: datetime) -> dict[str, Any]:
    ages = session_ages(s, now)
    return {
        "pid": s.pid,
        "backend_start": _time(s.backend_start),
        "database": s.database,
        "user": s.user,
        "application_name": s.application,
        "client_addr": s.client_addr,
        "client_port": s.client_port,
        "backend_type": s.backend_type,
        "state": s.state,
        "wait_event_type": s.wait_event_type,
        "wait_event": s.wait_event,
        "xact_start": _time(s.xact_start),
        "query_start": _time(s.query_start),
        "state_change": _time(s.state_change),
        "backend_age_s": _round(ages.backend),
        "xact_age_s": _round(ages.xact),
        "query_age_s": _round(ages.query),
        "state_age_s": _round(ages.state),
        "query": s.query,
        "query_id": s.query_id,
        "backend_xid": s.backend_xid,
        "backend_xmin": s.backend_xmin,
        # null: unknown (hidden from this role); []: nobody blocks it.
        "blocked_by": None if blockers_unknown(s) else list(s.blocked_by),
        "pooler": pooler_link_to_dict(s.pooler) if s.pooler else None,
    }


def pooler_link_to_dict(link: PoolerLink) -> dict[str, Any]:
    """Where a backend PgBouncer opened comes from; the client fields are null while no
    client holds it (or, for client_application_name, when PgBouncer lacks the column)."""
    c = link.client
    return {
        "pool_database": link.pool_database,
        "pool_user": link.pool_user,
        "server_state": link.server_state,
        "client_addr": c.addr if c else None,
        "client_port": c.port if c else None,
        "client_application_name": c.application_name if c else None,
    }


def _limit(c: ConnLimit) -> dict[str, Any]:
    return {"name": c.name, "limit": c.limit, "current": c.current}


def _pool(p: Pool) -> dict[str, Any]:
    return {
        "database": p.database,
        "user": p.user,
        "cl_active": p.cl_active,
        "cl_waiting": p.cl_waiting,
        "sv_active": p.sv_active,
        "sv_idle": p.sv_idle,
        "sv_used": p.sv_used,
        "sv_tested": p.sv_tested,
        "sv_login": p.sv_login,
        "maxwait_s": round(p.maxwait, 6),
        "pool_mode": p.pool_mode,
    }


def _record(r: PoolerDatabase | PoolerClient | PoolerServer) -> dict[str, Any]:
    """A record whose JSON keys are its field names: times as ISO, floats rounded."""
    out: dict[str, Any] = {}
    for f in fields(r):
        value = getattr(r, f.name)
        if isinstance(value, datetime):
            value = value.isoformat()
        elif isinstance(value, float):
            value = round(value, 6)
        out[f.name] = value
    return out


def pooler_to_dict(p: PoolerSnapshot) -> dict[str, Any]:
    return {
        "version": p.version,
        "address": p.address,
        "clients": p.clients,
        "servers": p.servers,
        "pools": [_pool(x) for x in p.pools],
        "stats": [
            {
                "database": s.database,
                "total_xact_count": s.total_xact_count,
                "total_query_count": s.total_query_count,
                "total_wait_time_us": s.total_wait_time,
                "total_xact_time_us": s.total_xact_time,
                "total_query_time_us": s.total_query_time,
                "total_received": s.total_received,
                "total_sent": s.total_sent,
            }
            for s in p.stats
        ],
        "databases": [_record(d) for d in p.databases],
        "config": dict(p.config),
        "client_list": [_record(c) for c in p.client_list],
        "server_list": [_record(s) for s in p.server_list],
        "missing_columns": list(p.missing),
    }


def rates_to_dict(r: Rates | None) -> dict[str, Any] | None:
    if r is None:
        return None
    return {
        "interval_s": _round(r.interval),
        "transactions_per_s": _round(r.transactions, 2),
        "commits_per_s": _round(r.commits, 2),
        "rollbacks_per_s": _round(r.rollbacks, 2),
        "pooler_transactions_per_s": _round(r.pooler_transactions, 2),
        "pooler_queries_per_s": _round(r.pooler_queries, 2),
        "pooler_avg_wait_ms": _round(r.pooler_avg_wait_ms, 3),
    }


def finding_to_dict(f: Finding) -> dict[str, Any]:
    return {
        "kind": f.kind,
        "severity": f.severity,
        "summary": f.summary,
        "headline": f.headline,
        "pids": list(f.pids),
        "pool": f.pool,
        "evidence": dict(f.evidence),
        "cause": f.cause,
        "action": f.action,
        "filter": f.filter,
    }


def snapshot_to_dict(
    snap: Snapshot, rates: Rates | None = None, findings: tuple[Finding, ...] = ()
) -> dict[str, Any]:
    """The JSON document; `findings` are those derived from `snap` (model/findings)."""
    snap = link_sessions(snap)  # --once polls without the app: join here (idempotent)
    srv = snap.server
    now = srv.snapshot_time
    lim = snap.limits
    return {
        "schema": SCHEMA,
        "server": {
            "version": srv.version,
            "version_num": srv.version_num,
            "address": srv.host,
            "start_time": _time(srv.start_time),
            "in_recovery": srv.in_recovery,
            "snapshot_time": _time(now),
            "current_user": srv.current_user,
            "can_see_all_sessions": srv.can_see_all,
            "track_activity_query_size": srv.track_activity_query_size,
            "next_xid": srv.next_xid,
        },
        "findings": [finding_to_dict(f) for f in findings],
        "own_pids": list(snap.own_pids),
        "rates": rates_to_dict(rates),
        "sessions": [session_to_dict(s, now) for s in snap.sessions],
        "databases": [
            {
                "name": d.name,
                "connlimit": d.connlimit,
                "allow_connections": d.allow_connections,
                "counts": counts_to_dict(d.counts),
                "xact_commit": d.xact_commit,
                "xact_rollback": d.xact_rollback,
            }
            for d in snap.databases
        ],
        "limits": {
            "max_connections": lim.max_connections,
            "superuser_reserved_connections": lim.superuser_reserved_connections,
            "reserved_connections": lim.reserved_connections,
            "available_to_ordinary_roles": lim.available_to_ordinary_roles,
            "client_connections": lim.client_connections,
            "roles": [_limit(r) for r in lim.roles],
            "databases": [_limit(d) for d in lim.databases],
            "settings": [
                {
                    "name": s.name,
                    "value": s.value,
                    "unit": s.unit,
                    "source": s.source,
                    "pending_restart": s.pending_restart,
                }
                for s in lim.settings
            ],
        },
        "pooler": pooler_to_dict(snap.pooler) if snap.pooler else None,
        "pooler_error": snap.pooler_error,
    }
