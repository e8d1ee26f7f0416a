"""Findings about PostgreSQL's connection slots: how full, which limit, who storms in.

- server_full: client backends against the slots ordinary roles may use (max_connections
  less the reserved ones), with the growth of the last minutes and who holds most;
- limit_reached: a role's or database's CONNECTION LIMIT reached or close;
- connection_storm: many backends younger than a few seconds (seen in one snapshot, so
  `--once` sees it too), by application and client address; with history, only when far
  above the usual rate of new backends.
"""

from __future__ import annotations

from datetime import timedelta
from operator import attrgetter

from pgtop.model.capacity import limit_rows
from pgtop.model.derive import client_host
from pgtop.model.findings.base import Finding, named, term, top_counts, top_of
from pgtop.model.findings.history import FindingHistory
from pgtop.model.findings.index import SessionIndex
from pgtop.model.format import age, percent, plural
from pgtop.model.pooler_join import client_app_shown
from pgtop.model.records import Snapshot
from pgtop.model.thresholds import Thresholds

_PID = attrgetter("pid")


def server_full(
    snap: Snapshot, t: Thresholds, history: FindingHistory | None, index: SessionIndex
) -> list[Finding]:
    lim = snap.limits
    available = lim.available_to_ordinary_roles
    used = lim.client_connections
    if available <= 0:
        return []
    pct = percent(used, available)
    if pct < t.server_warning_pct:
        return []
    apps = top_of(index.apps)
    roles = top_of(index.roles)
    evidence: dict[str, float | int] = {
        "in_use": used,
        "available": available,
        "percent": round(pct, 1),
        "max_connections": lim.max_connections,
    }
    sentence = (
        f"PostgreSQL has {used} of {available} ordinary connection slots in use ({pct:.0f} %)"
    )
    now = snap.server.snapshot_time
    before = history.connections_ago(now, t.growth_minutes * 60) if history else None
    if before is not None:
        then, ago = before
        evidence["growth"] = used - then
        evidence["growth_over_s"] = round(ago, 1)
        sentence += f", {used - then:+d} in {age(ago)}"
    if apps:
        sentence += "; most held by app " + ", ".join(f"{named(a)} ({n})" for a, n in apps)
        sentence += " and role " + ", ".join(f"{named(r)} ({n})" for r, n in roles)
    for i, (_, n) in enumerate(apps):
        evidence[f"top_app_{i + 1}_sessions"] = n
    return [
        Finding(
            kind="server_full",
            severity="critical" if pct >= t.server_critical_pct else "warning",
            summary=sentence + ".",
            evidence=evidence,
            action="End idle sessions (/state:idle, k) or shrink client pools; raise "
            "max_connections, or put PgBouncer in front.",
            filter="state:idle",
        )
    ]


def limit_reached(snap: Snapshot, t: Thresholds) -> list[Finding]:
    out = []
    for row in limit_rows(snap.limits):
        limit, current = row.usage.limit, row.usage.used
        if limit <= 0:  # CONNECTION LIMIT 0: logins deliberately disabled
            continue
        reached = current >= limit
        if not reached and (limit < 5 or percent(current, limit) < t.limit_warning_pct):
            continue
        field_name = "user" if row.kind == "role" else "db"
        pids = tuple(
            s.pid
            for s in snap.sessions
            if s.is_client and (s.user if row.kind == "role" else s.database) == row.name
        )
        if reached:
            what = f"is at its CONNECTION LIMIT ({current} of {limit}): a new connection is refused"
        else:
            what = f"is close to its CONNECTION LIMIT ({current} of {limit})"
        out.append(
            Finding(
                kind="limit_reached",
                severity="critical" if reached else "warning",
                summary=f"{row.kind.capitalize()} {named(row.name)} {what}.",
                evidence={"current": current, "limit": limit, "percent": row.usage.pct},
                pids=pids,
                action=f"End its idle sessions (k) or raise it: ALTER "
                f"{'ROLE' if row.kind == 'role' else 'DATABASE'} {named(row.name)} "
                "CONNECTION LIMIT n.",
                filter=term(field_name, row.name),
            )
        )
    return out


def connection_storm(
    snap: Snapshot, t: Thresholds, history: FindingHistory | None, index: SessionIndex
) -> list[Finding]:
    now = snap.server.snapshot_time
    # From the sessions young at the last poll and those new since (the index's).
    since = now - timedelta(seconds=t.storm_window_s)
    young = sorted(index.started_since(since), key=_PID)
    if len(young) < t.storm_min_new or t.storm_window_s <= 0:
        return []
    rate = len(young) / t.storm_window_s
    usual = history.usual_new_rate(now, t.storm_window_s) if history else None
    if usual is not None and rate < t.storm_factor * usual:
        return []
    sources = top_counts([f"{client_app_shown(s)}\0{client_host(s)}" for s in young])
    app = sources[0][0].split("\0")[0]
    evidence: dict[str, float | int] = {
        "new_backends": len(young),
        "window_s": t.storm_window_s,
        "per_s": round(rate, 2),
        "top_source_backends": sources[0][1],
    }
    sentence = (
        f"{plural(len(young), 'new connection')} in the last {age(t.storm_window_s)} ({rate:.1f}/s"
    )
    if usual is not None:
        evidence["usual_per_s"] = round(usual, 3)
        sentence += f", usually {usual:.2f}/s"
    sentence += "): " + ", ".join(
        f"{n} from app {named(a)} at {named(h) if h else 'local'}"
        for (a, h), n in ((k.split("\0"), n) for k, n in sources)
    )
    lim = snap.limits
    near_full = lim.available_to_ordinary_roles > 0 and (
        percent(lim.client_connections, lim.available_to_ordinary_roles) >= t.server_critical_pct
    )
    window = max(1, round(t.storm_window_s))
    return [
        Finding(
            kind="connection_storm",
            severity="critical" if near_full else "warning",
            summary=sentence + ".",
            evidence=evidence,
            pids=tuple(s.pid for s in young),
            action="Find why the application reconnects (a restart, a pool without reuse); "
            "PgBouncer in front absorbs it.",
            filter=f"{term('app', app)} conn<{window}s" if app else f"conn<{window}s",
        )
    ]
