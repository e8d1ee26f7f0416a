"""`pgtop --once`: two polls one refresh apart (rates need two), printed as JSON, text or
OpenMetrics (metrics/exposition.py).

No state: `collect_once` makes its own Monitor and closes it; `render` is pure.
"""

from __future__ import annotations

import asyncio
import json

from pgtop.collect.monitor import Monitor
from pgtop.model.derive import Rates, compute_rates, count_states, session_ages, uptime
from pgtop.model.export import snapshot_to_dict
from pgtop.model.findings import DEFAULT_THRESHOLDS, Finding, Thresholds, derive_findings
from pgtop.model.format import age, one_line, plural
from pgtop.model.records import Snapshot
from pgtop.target import Target


async def collect_once(target: Target, password: str | None) -> tuple[Snapshot, Rates]:
    monitor = Monitor(target, password)
    try:
        await monitor.connect()
        first = await monitor.poll()
        await asyncio.sleep(target.refresh)
        second = await monitor.poll()
    finally:
        await monitor.close()
    return second, compute_rates(first, second)


def render(
    snapshot: Snapshot,
    rates: Rates,
    fmt: str,
    thresholds: Thresholds = DEFAULT_THRESHOLDS,
    *,
    server: str = "",
    has_pooler: bool = False,
) -> str:
    """The report; findings come from this one snapshot (no history: a storm is told from
    backend start times, growth is not told). `server`: the `server` label of the
    OpenMetrics output (the other formats name the server themselves); `has_pooler`: a
    PgBouncer was asked, so its failure shows as down."""
    findings = derive_findings(snapshot, thresholds)
    if fmt == "json":
        return json.dumps(snapshot_to_dict(snapshot, rates, findings), indent=2) + "\n"
    if fmt == "openmetrics":
        from pgtop.metrics.exposition import ServerMetrics, render_openmetrics

        has_pooler = has_pooler or snapshot.pooler is not None or bool(snapshot.pooler_error)
        name = server or snapshot.server.host
        one = ServerMetrics(name, snapshot, up=True, has_pooler=has_pooler, findings=findings)
        return render_openmetrics([one])
    return render_findings(findings) + render_text(snapshot, rates)


def render_findings(findings: tuple[Finding, ...]) -> str:
    """Findings first, worst first, one block each; "findings: none" on a healthy server."""
    if not findings:
        return "findings: none\n\n"
    lines = [f"findings: {len(findings)}"]
    for f in findings:
        where = f" [pool {one_line(f.pool)}]" if f.pool else ""
        lines.append(f"{f.severity.upper():<8} {f.kind}{where}: {one_line(f.summary)}")
        if f.action:
            lines.append(f"{'':<8} what to do: {one_line(f.action)}")
        if f.filter:
            lines.append(f"{'':<8} sessions: /{one_line(f.filter)}")
    return "\n".join(lines) + "\n\n"


def _rate(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.1f}"


def render_text(snap: Snapshot, rates: Rates) -> str:
    srv, lim = snap.server, snap.limits
    counts = count_states(snap.sessions)
    lines = [
        f"PostgreSQL {srv.version} at {srv.host}"
        + (" (standby)" if srv.in_recovery else "")
        + f", up {age(uptime(srv))}",
        f"connections: {lim.client_connections} of {lim.available_to_ordinary_roles} "
        f"for ordinary roles (max_connections {lim.max_connections}, "
        f"{lim.superuser_reserved_connections} superuser-reserved"
        + (f", {lim.reserved_connections} reserved" if lim.reserved_connections else "")
        + ")",
        f"states: {counts.active} active, {counts.idle} idle, "
        f"{counts.idle_in_transaction} idle in transaction, "
        f"{counts.idle_in_transaction_aborted} aborted, {counts.waiting_on_lock} waiting on a lock",
        f"transactions/s: {_rate(rates.transactions)}",
        "",
        f"{'database':<24} {'total':>6} {'active':>6} {'idle':>6} {'in-tx':>6} {'lock':>6} limit",
    ]
    for d in snap.databases:
        c = d.counts
        limit = "-" if d.connlimit < 0 else str(d.connlimit)
        lines.append(
            f"{one_line(d.name, 24):<24} {c.total:>6} {c.active:>6} {c.idle:>6} "
            f"{c.idle_in_transaction + c.idle_in_transaction_aborted:>6} "
            f"{c.waiting_on_lock:>6} {limit}"
        )
    busy = [s for s in snap.sessions if s.is_client and s.state not in (None, "idle")]
    busy.sort(key=lambda s: s.xact_start or s.query_start or srv.snapshot_time)
    if busy:
        lines += ["", f"{'pid':>7} {'user':<12} {'database':<12} {'state':<14} {'xact':>8}  query"]
    for s in busy:
        ages = session_ages(s, srv.snapshot_time)
        blocked = f" [blocked by {','.join(map(str, s.blocked_by))}]" if s.blocked_by else ""
        lines.append(
            f"{s.pid:>7} {one_line(s.user or '', 12):<12} {one_line(s.database or '', 12):<12} "
            f"{one_line(s.state or '', 14):<14} {age(ages.xact):>8}  "
            f"{one_line(s.query, 80)}{blocked}"
        )
    if snap.pooler is not None:
        p = snap.pooler
        lines += [
            "",
            f"PgBouncer {p.version} at {p.address}: {plural(p.clients, 'client')}, "
            f"{plural(p.servers, 'server')}",
            f"{'pool':<28} {'cl_act':>6} {'cl_wait':>7} {'sv_act':>6} {'sv_idle':>7} maxwait",
        ]
        for pool in p.pools:
            name = one_line(f"{pool.database}/{pool.user}", 28)
            lines.append(
                f"{name:<28} {pool.cl_active:>6} {pool.cl_waiting:>7} "
                f"{pool.sv_active:>6} {pool.sv_idle:>7} {age(pool.maxwait)}"
            )
    elif snap.pooler_error:
        lines += ["", f"pooler: {snap.pooler_error}"]
    return "\n".join(lines) + "\n"
