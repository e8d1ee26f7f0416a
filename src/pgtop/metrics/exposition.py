"""Metric families from the latest state of one or more servers, through prometheus_client.

Stateless: a `MetricsCollector` asks its source for `ServerMetrics` (one per server) at
each scrape and builds the families afresh from those immutable records, so a scrape
in the HTTP server's thread never sees a half-updated server. Who fills the records: the
headless runner (headless/runner.py) from its members' states, or --once from its poll.

Names follow postgres_exporter and pgbouncer_exporter where they have the figure (so
dashboards built for them work); pgtop's own figures are prefixed `pgtop_`. Every sample
carries a `server` label (the member's name), also with one server, so that series keep
their identity when a second server is added. No pid is ever a label.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Protocol

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.openmetrics.exposition import generate_latest
from prometheus_client.registry import Collector, CollectorRegistry

from pgtop.model.capacity import capacity_budget, config_int
from pgtop.model.derive import session_ages
from pgtop.model.records import Snapshot


class FindingLike(Protocol):
    """What a finding must offer to be counted (model/findings.py has the real ones)."""

    @property
    def kind(self) -> str: ...

    @property
    def severity(self) -> str: ...


@dataclass(frozen=True, slots=True)
class ServerMetrics:
    """One server's latest state, as the metrics read it."""

    server: str  # the member's name: the `server` label
    snapshot: Snapshot | None  # the latest PostgreSQL data, the pooler's joined; None: none yet
    up: bool  # the last PostgreSQL poll succeeded
    poll_seconds: float | None = None  # how long that poll took
    poll_errors: int = 0  # failed PostgreSQL polls since start
    pooler_errors: int = 0  # failed PgBouncer polls since start
    has_pooler: bool = False  # a PgBouncer is watched beside it
    findings: Iterable[FindingLike] | None = None  # None: findings are not computed


def _gauge(name: str, doc: str, labels: list[str], unit: str = "") -> GaugeMetricFamily:
    return GaugeMetricFamily(name, doc, labels=["server", *labels], unit=unit)


def families(servers: Iterable[ServerMetrics]) -> list[Metric]:
    """Every metric family over `servers` (a family holds the samples of all of them)."""
    servers = list(servers)
    up = _gauge("pg_up", "Whether the last poll of PostgreSQL succeeded (1) or not (0)", [])
    pooler_up = _gauge("pgbouncer_up", "Whether the last poll of PgBouncer succeeded", [])
    poll = _gauge("pgtop_poll_duration", "How long the last PostgreSQL poll took", [], "seconds")
    errors = CounterMetricFamily(
        "pgtop_poll_errors",
        "Failed polls since pgtop started, by what was polled",
        labels=["server", "source"],
    )
    findings = _gauge(
        "pgtop_findings", "Current findings by kind and severity", ["kind", "severity"]
    )
    out: list[Metric] = [up, pooler_up, poll, errors, findings]
    server_fams = _ServerFamilies()
    pool_fams = _PoolFamilies()
    for s in servers:
        up.add_metric([s.server], 1.0 if s.up else 0.0)
        if s.poll_seconds is not None:
            poll.add_metric([s.server], s.poll_seconds)
        errors.add_metric([s.server, "postgres"], float(s.poll_errors))
        if s.has_pooler:
            errors.add_metric([s.server, "pgbouncer"], float(s.pooler_errors))
            ok = s.snapshot is not None and s.snapshot.pooler is not None
            pooler_up.add_metric([s.server], 1.0 if ok else 0.0)
        if s.findings is not None:
            counts = Counter((f.kind, f.severity) for f in s.findings)
            for (kind, severity), n in sorted(counts.items()):
                findings.add_metric([s.server, kind, severity], float(n))
        if s.snapshot is not None:
            server_fams.add(s.server, s.snapshot)
            if s.snapshot.pooler is not None:
                pool_fams.add(s.server, s.snapshot)
    return [*out, *server_fams.all(), *pool_fams.all()]


class _ServerFamilies:
    def __init__(self) -> None:
        activity = ["datname", "state", "usename", "application_name"]
        self.count = _gauge(
            "pg_stat_activity_count", "Backends by database, state, user and application", activity
        )
        self.max_tx = _gauge(
            "pg_stat_activity_max_tx_duration",
            "Seconds the oldest open transaction of each group has run (as postgres_exporter)",
            activity,
        )
        self.max_conn = _gauge("pg_settings_max_connections", "max_connections", [])
        self.su_reserved = _gauge(
            "pg_settings_superuser_reserved_connections", "superuser_reserved_connections", []
        )
        self.reserved = _gauge(
            "pg_settings_reserved_connections", "reserved_connections (PostgreSQL 16+)", []
        )
        self.role_limit = _gauge(
            "pg_roles_connection_limit", "A role's own connection limit (-1: none)", ["rolname"]
        )
        self.db_limit = _gauge(
            "pg_database_connection_limit", "A database's connection limit (-1: none)", ["datname"]
        )
        self.slots = _gauge(
            "pgtop_connections_ordinary_slots",
            "Connections ordinary roles may open: max_connections less the reserved ones",
            [],
        )
        self.clients = _gauge(
            "pgtop_connections_client_backends",
            "Client backends now (pgtop's own included: they use slots too)",
            [],
        )
        self.free = _gauge(
            "pgtop_headroom_ordinary_slots_free",
            "Ordinary connection slots still free on the server",
            [],
        )
        self.oldest = _gauge(
            "pgtop_oldest_transaction",
            "Age of the oldest open transaction of a client backend (0: none)",
            [],
            "seconds",
        )
        self.polled = _gauge(
            "pgtop_last_poll_timestamp",
            "When the latest PostgreSQL data was taken, by the server's clock",
            [],
            "seconds",
        )

    def add(self, server: str, snap: Snapshot) -> None:
        now = snap.server.snapshot_time
        counts: Counter[tuple[str, str, str, str]] = Counter()
        max_tx: dict[tuple[str, str, str, str], float] = defaultdict(float)
        oldest = 0.0
        for s in snap.sessions:
            if s.database is None:  # background processes: as postgres_exporter, per database
                continue
            key = (s.database or "", s.state or "", s.user or "", s.application or "")
            counts[key] += 1
            xact = session_ages(s, now).xact or 0.0
            max_tx[key] = max(max_tx[key], xact)
            if s.is_client:
                oldest = max(oldest, xact)
        for key, n in sorted(counts.items()):
            self.count.add_metric([server, *key], float(n))
            self.max_tx.add_metric([server, *key], max_tx[key])
        lim = snap.limits
        self.max_conn.add_metric([server], float(lim.max_connections))
        self.su_reserved.add_metric([server], float(lim.superuser_reserved_connections))
        if lim.reserved_connections is not None:
            self.reserved.add_metric([server], float(lim.reserved_connections))
        for role in lim.roles:
            self.role_limit.add_metric([server, role.name], float(role.limit))
        for db in snap.databases:
            self.db_limit.add_metric([server, db.name], float(db.connlimit))
        self.slots.add_metric([server], float(lim.available_to_ordinary_roles))
        self.clients.add_metric([server], float(lim.client_connections))
        free = lim.available_to_ordinary_roles - lim.client_connections
        self.free.add_metric([server], float(free))
        self.oldest.add_metric([server], oldest)
        self.polled.add_metric([server], now.timestamp())

    def all(self) -> list[Metric]:
        return [v for v in vars(self).values() if isinstance(v, Metric)]


class _PoolFamilies:
    _POOL_FIELDS = (
        ("client_active_connections", "cl_active", "Client connections linked to a server"),
        ("client_waiting_connections", "cl_waiting", "Client connections waiting for a server"),
        ("server_active_connections", "sv_active", "Server connections linked to a client"),
        ("server_idle_connections", "sv_idle", "Server connections idle, ready for a client"),
        ("server_used_connections", "sv_used", "Server connections idle past check delay"),
        ("server_testing_connections", "sv_tested", "Server connections being tested"),
        ("server_login_connections", "sv_login", "Server connections logging in"),
    )

    def __init__(self) -> None:
        self.pools = {
            attr: _gauge(f"pgbouncer_pools_{name}", doc, ["database", "user"])
            for name, attr, doc in self._POOL_FIELDS
        }
        self.maxwait = _gauge(
            "pgbouncer_pools_client_maxwait",
            "How long the oldest waiting client of the pool has waited",
            ["database", "user"],
            "seconds",
        )
        self.max_client = _gauge(
            "pgbouncer_config_max_client_connections", "PgBouncer's max_client_conn", []
        )
        self.possible = _gauge(
            "pgtop_pooler_possible_server_connections",
            "Server connections PgBouncer may open at full tilt, by its pool sizes (+Inf: no cap)",
            [],
        )
        self.headroom = _gauge(
            "pgtop_pooler_headroom_connections",
            "Ordinary slots left for PgBouncer's server connections once other clients count",
            [],
        )
        self.exhaust = _gauge(
            "pgtop_pooler_could_exhaust",
            "1 when PgBouncer could open more server connections than the server has left",
            [],
        )

    def add(self, server: str, snap: Snapshot) -> None:
        pooler = snap.pooler
        assert pooler is not None
        for pool in pooler.pools:
            labels = [server, pool.database, pool.user]
            for attr, family in self.pools.items():
                family.add_metric(labels, float(getattr(pool, attr)))
            self.maxwait.add_metric(labels, float(pool.maxwait))
        max_client = config_int(pooler.config, "max_client_conn")
        if max_client is not None:
            self.max_client.add_metric([server], float(max_client))
        budget = capacity_budget(snap.limits, pooler)
        possible = budget.pooler_possible
        self.possible.add_metric([server], float("inf") if possible is None else float(possible))
        self.headroom.add_metric([server], float(budget.headroom))
        self.exhaust.add_metric([server], 1.0 if budget.could_exhaust else 0.0)

    def all(self) -> list[Metric]:
        return [*self.pools.values(), self.maxwait, self.max_client, self.possible,
                self.headroom, self.exhaust]  # fmt: skip


class MetricsCollector(Collector):
    """A prometheus_client collector over whatever `source` returns at scrape time."""

    def __init__(self, source: Callable[[], Iterable[ServerMetrics]]) -> None:
        self._source = source

    def collect(self) -> Iterator[Metric]:
        # Families without a sample (no pooler anywhere, say) are left out of the scrape.
        yield from (f for f in families(self._source()) if f.samples)


def registry_for(source: Callable[[], Iterable[ServerMetrics]]) -> CollectorRegistry:
    """A registry holding only pgtop's collector (not the client's process metrics)."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(MetricsCollector(source))
    return registry


def render_openmetrics(servers: Iterable[ServerMetrics]) -> str:
    """The OpenMetrics text of `servers`, ending in `# EOF`."""
    held = list(servers)
    return generate_latest(registry_for(lambda: held)).decode()
