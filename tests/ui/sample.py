"""A small, realistic hand-built Snapshot for pane tests (no servers needed).

Six client sessions over two databases (shop, analytics; postgres has none) and three
roles (app, report, admin), one background worker that must not be counted, and one
application_name that looks like Rich markup to prove it is shown literally.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from pgtop.model.derive import Rates
from pgtop.model.pooler_records import Pool, PoolerDatabase, PoolerSnapshot
from pgtop.model.records import (
    ACTIVE,
    IDLE,
    IDLE_IN_TRANSACTION,
    IDLE_IN_TRANSACTION_ABORTED,
    ConnLimit,
    DatabaseStat,
    Limits,
    ServerInfo,
    Session,
    Setting,
    Snapshot,
    StateCounts,
)
from pgtop.target import ConnSettings, Target
from pgtop.ui.app import PgTopApp

NOW = datetime(2025, 3, 1, 12, 0, 0, tzinfo=UTC)
MARKUP_APP = "[bold red]x"


def _session(
    pid: int,
    db: str | None,
    user: str | None,
    app: str,
    addr: str | None,
    state: str | None,
    *,
    backend_type: str = "client backend",
    lock: bool = False,
) -> Session:
    start = NOW - timedelta(minutes=pid % 7 + 1)
    return Session(
        pid=pid,
        backend_start=start,
        database=db,
        user=user,
        application=app,
        client_addr=addr,
        client_port=-1 if addr is None else 50000 + pid,
        backend_type=backend_type,
        state=state,
        wait_event_type="Lock" if lock else None,
        wait_event="transactionid" if lock else None,
        xact_start=start if state != IDLE else None,
        query_start=start,
        state_change=start,
        query="select 1",
        blocked_by=(101,) if lock else (),
    )


SESSIONS = (
    _session(101, "shop", "app", "web", "10.0.0.5", ACTIVE),
    _session(102, "shop", "app", "web", "10.0.0.5", IDLE),
    _session(103, "shop", "app", MARKUP_APP, "10.0.0.6", IDLE_IN_TRANSACTION),
    _session(104, "shop", "report", "psql", None, ACTIVE, lock=True),
    _session(105, "analytics", "report", "", "10.0.0.7", IDLE_IN_TRANSACTION_ABORTED),
    _session(106, "analytics", "admin", "pgbouncer", "127.0.0.1", IDLE),
    _session(200, None, None, "", None, None, backend_type="autovacuum launcher"),
)


def _pooler(version: str) -> PoolerSnapshot:
    def pool(db: str, user: str, cl: int, wait: int, act: int, idle: int, maxwait: float) -> Pool:
        return Pool(db, user, cl, wait, act, idle, 1, 0, 0, maxwait, "transaction")

    def pdb(name: str, size: int, reserve: int) -> PoolerDatabase:
        return PoolerDatabase(
            name, "127.0.0.1", 5432, name, size, 0, reserve, None, 0, 3, False, False
        )

    return PoolerSnapshot(
        version=version,
        address="127.0.0.1:6432",
        pools=(
            pool("shop", "app", 8, 1, 2, 0, 45.0),
            pool("analytics", "report", 2, 0, 1, 1, 0.0),
        ),
        stats=(),
        databases=(pdb("shop", 20, 5), pdb("analytics", 10, 0)),
        config={
            "max_client_conn": "100",
            "default_pool_size": "20",
            "min_pool_size": "0",
            "reserve_pool_size": "0",
            "reserve_pool_timeout": "5",
            "max_db_connections": "0",
            "max_user_connections": "0",
            "pool_mode": "transaction",
            "query_wait_timeout": "120",
        },
        clients=11,
        servers=4,
        polled_at=NOW,
    )


def sample_snapshot(
    *,
    pooler: bool = True,
    pooler_error: str | None = None,
    max_connections: int = 100,
    pg16: bool = False,
    pooler_version: str = "1.18.0",
) -> Snapshot:
    """max_connections=30 makes the pooler's 35 possible servers exceed the slots left."""
    settings = (
        Setting("statement_timeout", "0", "ms", "default", False),
        Setting("lock_timeout", "30000", "ms", "configuration file", False),
        Setting("idle_in_transaction_session_timeout", "300000", "ms", "database", True),
        Setting("idle_session_timeout", "0", "ms", "default", False),
        Setting("tcp_keepalives_idle", "0", "s", "default", False),
        Setting("track_activity_query_size", "1024", "B", "default", False),
    )
    limits = Limits(
        max_connections=max_connections,
        superuser_reserved_connections=3,
        reserved_connections=2 if pg16 else None,
        client_connections=7,  # the six above plus pgtop's own
        roles=(ConnLimit("report", 2, 2), ConnLimit("app", -1, 3)),
        databases=(ConnLimit("shop", 5, 4),),
        settings=settings,
    )

    def db(name: str, limit: int) -> DatabaseStat:
        return DatabaseStat(name, limit, True, StateCounts(), 1000, 10)

    return Snapshot(
        server=ServerInfo(
            version="16.4" if pg16 else "15.8",
            version_num=160004 if pg16 else 150008,
            host="db1:5432",
            start_time=NOW - timedelta(days=3),
            in_recovery=False,
            snapshot_time=NOW,
            max_connections=max_connections,
        ),
        sessions=SESSIONS,
        databases=(db("shop", 5), db("analytics", -1), db("postgres", -1)),
        limits=limits,
        own_pids=(999,),
        pooler=_pooler(pooler_version) if pooler and pooler_error is None else None,
        pooler_error=pooler_error,
    )


SAMPLE_RATES = Rates(
    interval=2.0,
    transactions=150.0,
    commits=148.0,
    rollbacks=2.0,
    pooler_transactions=42.5,
    pooler_queries=120.0,
    pooler_avg_wait_ms=3.25,
)


def fixed_app(snapshot: Snapshot | None = None, **target: Any) -> PgTopApp:
    """The whole app fed `snapshot` (the sample by default) instead of polling a server."""
    fixed = snapshot or sample_snapshot()

    async def source() -> Snapshot:
        return fixed

    settings = ConnSettings({"host": "db1", "port": "5432"})
    return PgTopApp(
        Target(settings, **{"pooler": "x", "refresh": 60, **target}), snapshot_source=source
    )
