"""Small constructors for records in pure unit tests."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from pgtop.model.pooler_records import (
    Pool,
    PoolerClient,
    PoolerDatabase,
    PoolerLink,
    PoolerServer,
    PoolerSnapshot,
)
from pgtop.model.records import ConnLimit, Limits, ServerInfo, Session, Setting, Snapshot

NOW = datetime(2026, 11, 25, 12, 0, 0, tzinfo=UTC)


def ago(seconds: float) -> datetime:
    return NOW - timedelta(seconds=seconds)


def session(pid: int, state: str | None = "idle", **fields: Any) -> Session:
    base: dict[str, Any] = {
        "pid": pid,
        "backend_start": ago(3600),
        "database": "shop",
        "user": "app",
        "application": "web",
        "client_addr": "10.0.0.5",
        "client_port": 40000 + pid % 1000,
        "backend_type": "client backend",
        "state": state,
        "wait_event_type": "Client" if state == "idle" else None,
        "wait_event": "ClientRead" if state == "idle" else None,
        "xact_start": None,
        "query_start": ago(60),
        "state_change": ago(30),
        "query": "select 1",
    }
    base.update(fields)
    return Session(**base)


# -- whole snapshots, for findings (tests/unit/test_findings.py) --------------------------


def limits(
    clients: int = 10,
    max_connections: int = 100,
    roles: tuple[ConnLimit, ...] = (),
    databases: tuple[ConnLimit, ...] = (),
    iit_timeout_ms: str = "0",
) -> Limits:
    return Limits(
        max_connections=max_connections,
        superuser_reserved_connections=3,
        reserved_connections=None,
        client_connections=clients,
        roles=roles,
        databases=databases,
        settings=(
            Setting("idle_in_transaction_session_timeout", iit_timeout_ms, "ms", "default", False),
        ),
    )


def pool(
    database: str = "shop",
    user: str = "app",
    *,
    waiting: int = 0,
    maxwait: float = 0.0,
    active: int = 0,
    idle: int = 0,
    login: int = 0,
    mode: str = "transaction",
) -> Pool:
    return Pool(database, user, active, waiting, active, idle, 0, 0, login, maxwait, mode)


def pooler(
    pools: tuple[Pool, ...],
    *,
    pool_size: int | None = 5,
    max_db: int | None = 0,
    current: int | None = None,
    config: dict[str, str] | None = None,
    servers: tuple[PoolerServer, ...] = (),
    version: str = "1.23.1",
) -> PoolerSnapshot:
    dbs = tuple(
        PoolerDatabase(
            p.database, "127.0.0.1", 5432, p.database, pool_size, 0, 0, None, max_db,
            current if current is not None else p.sv_active + p.sv_idle, False, False,
        )
        for p in pools
    )  # fmt: skip
    cfg = {"default_pool_size": "20", "query_wait_timeout": "120", **(config or {})}
    total = sum(p.sv_active + p.sv_idle for p in pools)
    return PoolerSnapshot(version, "127.0.0.1:6432", pools, (), dbs, cfg, 10, total, NOW,
                          (), servers)  # fmt: skip


def pooled(pid: int, state: str = "active", *, database: str = "shop", user: str = "app",
           held: bool = True, **fields: Any) -> Session:  # fmt: skip
    """A backend PgBouncer opened for pool database/user, already joined (Session.pooler)."""
    srv = PoolerServer(database, user, "active" if held else "idle", "127.0.0.1", 5432,
                       "127.0.0.1", 50000 + pid, None, None, pid, f"s{pid}",
                       f"c{pid}" if held else None)  # fmt: skip
    client = (
        PoolerClient(
            database,
            user,
            "active",
            "10.0.0.7",
            40000 + pid,
            None,
            None,
            0.0,
            f"c{pid}",
            f"s{pid}",
            application_name="web",
        )
        if held
        else None
    )
    fields.setdefault("application", "")
    fields.setdefault("client_addr", "127.0.0.1")
    fields.setdefault("client_port", 50000 + pid)
    return session(pid, state, database=database, user=user,
                   pooler=PoolerLink(srv, client), **fields)  # fmt: skip


def snapshot(
    sessions: list[Session] | tuple[Session, ...] = (),
    *,
    lim: Limits | None = None,
    pooler_snap: PoolerSnapshot | None = None,
    next_xid: int | None = 1_000_000,
    at: float = 0.0,
) -> Snapshot:
    server = ServerInfo("16.4", 160004, "db1:5432", ago(86400), False,
                        NOW + timedelta(seconds=at), 100, next_xid=next_xid)  # fmt: skip
    clients = sum(1 for s in sessions if s.is_client) + 1  # + pgtop's own
    return Snapshot(
        server=server,
        sessions=tuple(sessions),
        databases=(),
        limits=lim if lim is not None else limits(clients=clients),
        own_pids=(99,),
        pooler=pooler_snap,
    )
