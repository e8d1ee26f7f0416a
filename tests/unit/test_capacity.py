"""Capacity arithmetic: the pooler's server-connection budget against PostgreSQL's slots."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from pgtop.model.capacity import (
    capacity_budget,
    config_seconds,
    human_setting,
    limit_rows,
    queue_check,
    usage,
    usage_level,
)
from pgtop.model.pooler_records import Pool, PoolerDatabase, PoolerSnapshot
from pgtop.model.records import ConnLimit, Limits, Setting

NOW = datetime(2025, 1, 1, tzinfo=UTC)


def limits(max_conn: int = 100, clients: int = 10, reserved: int | None = None) -> Limits:
    return Limits(max_conn, 3, reserved, clients, (), (), ())


def pool(db: str, user: str = "app", waiting: int = 0, maxwait: float = 0.0) -> Pool:
    return Pool(db, user, 1, waiting, 0, 0, 0, 0, 0, maxwait, "transaction")


def pdb(
    name: str, size: int | None = None, reserve: int | None = None, max_conn: int | None = 0
) -> PoolerDatabase:
    return PoolerDatabase(
        name, None, None, name, size, None, reserve, None, max_conn, 0, False, False
    )


def pooler(
    pools: tuple[Pool, ...],
    dbs: tuple[PoolerDatabase, ...] = (),
    servers: int = 0,
    version: str = "1.18.0",
    **config: str,
) -> PoolerSnapshot:
    return PoolerSnapshot(version, "h:6432", pools, (), dbs, dict(config), 0, servers, NOW)


def test_levels_at_80_and_95_percent() -> None:
    assert [usage_level(p) for p in (79.9, 80, 94.9, 95, 120)] == [
        "ok",
        "warn",
        "warn",
        "crit",
        "crit",
    ]
    assert usage(4, 5).level == "warn"
    assert usage(1, 0).level == "crit"  # a zero limit with someone in it
    assert usage(0, 0).level == "ok"


def test_limit_rows_skip_unlimited() -> None:
    lim = Limits(
        100,
        3,
        None,
        5,
        (ConnLimit("a", -1, 3), ConnLimit("b", 2, 2)),
        (ConnLimit("db", 10, 1),),
        (),
    )
    rows = limit_rows(lim)
    assert [(r.kind, r.name, r.usage.pct) for r in rows] == [
        ("role", "b", 100.0),
        ("database", "db", 10.0),
    ]


def test_pool_size_and_reserve_from_database_else_config_defaults() -> None:
    p = pooler(
        (pool("a"), pool("a", "other"), pool("b")),
        (pdb("a", size=10, reserve=2),),
        default_pool_size="20",
        reserve_pool_size="5",
    )
    b = capacity_budget(limits(), p)
    assert {d.database: d.possible for d in b.databases} == {"a": 24, "b": 25}
    assert b.pooler_possible == 49


def test_missing_config_uses_pgbouncer_defaults() -> None:
    assert capacity_budget(limits(), pooler((pool("a"),))).pooler_possible == 20


def test_caps_per_database_prefer_database_value_then_global() -> None:
    p = pooler(
        (pool("a"), pool("a", "u2"), pool("b"), pool("b", "u2")),
        (pdb("a", 20, 0, max_conn=15), pdb("b", 20, 0, max_conn=0)),
        max_db_connections="30",
    )
    b = capacity_budget(limits(), p)
    assert {d.database: (d.uncapped, d.cap, d.possible) for d in b.databases} == {
        "a": (40, 15, 15),
        "b": (40, 30, 30),
    }
    assert b.pooler_possible == 45


def test_max_user_connections_bounds_the_total() -> None:
    p = pooler((pool("a", "u"), pool("b", "u")), max_user_connections="10")
    assert capacity_budget(limits(), p).pooler_possible == 10


def test_could_exhaust_compares_with_slots_left_after_other_clients() -> None:
    # 30 - 3 reserved = 27 ordinary slots; 12 clients of which 4 are the pooler's.
    p = pooler((pool("a"),), (pdb("a", 20, 5),), servers=4)
    b = capacity_budget(limits(30, clients=12), p)
    assert (b.pg_available, b.others, b.headroom, b.pooler_possible) == (27, 8, 19, 25)
    assert b.could_exhaust
    assert not capacity_budget(limits(100, clients=12), p).could_exhaust


def test_reserved_connections_reduce_the_slots() -> None:
    b = capacity_budget(limits(30, clients=0, reserved=5), pooler((pool("a"),)))
    assert (b.pg_available, b.pooler_possible, b.could_exhaust) == (22, 20, False)
    # The boundary is "exceeds", not "reaches": 22 possible in 22 slots still fits.
    exact = pooler((pool("a"),), default_pool_size="22")
    assert not capacity_budget(limits(30, clients=0, reserved=5), exact).could_exhaust


def test_zero_pool_size_is_unlimited_only_from_1_24() -> None:
    old = pooler((pool("a"),), (pdb("a", 0, 0),), version="1.18.0")
    new = pooler((pool("a"),), (pdb("a", 0, 0),), version="PgBouncer 1.24.1")
    assert capacity_budget(limits(), old).pooler_possible == 0
    unlimited = capacity_budget(limits(), new)
    assert unlimited.pooler_possible is None
    assert unlimited.could_exhaust
    capped = pooler((pool("a"),), (pdb("a", 0, 0, max_conn=8),), version="1.24.0")
    assert capacity_budget(limits(), capped).pooler_possible == 8


def test_no_pools_no_budget() -> None:
    b = capacity_budget(limits(), pooler(()))
    assert b.pooler_possible == 0
    assert not b.could_exhaust


def test_queue_check_oldest_waiting_client_against_query_wait_timeout() -> None:
    p = pooler(
        (pool("a", waiting=2, maxwait=45.0), pool("b", maxwait=99.0), pool("c", waiting=1)),
        query_wait_timeout="120",
    )
    q = queue_check(p)
    assert (q.waiting, q.longest, q.timeout, q.seconds_left) == (3, 45.0, 120.0, 75.0)


@pytest.mark.parametrize(
    ("timeout", "left"), [("0", None), (None, None), ("30", 0.0), ("bogus", None)]
)
def test_queue_check_disabled_unknown_or_overdue(timeout: str | None, left: float | None) -> None:
    config = {} if timeout is None else {"query_wait_timeout": timeout}
    q = queue_check(pooler((pool("a", waiting=1, maxwait=45.0),), **config))
    assert q.seconds_left == left


def test_queue_check_nobody_waiting() -> None:
    q = queue_check(pooler((pool("a", maxwait=3.0),), query_wait_timeout="120"))
    assert (q.waiting, q.longest, q.seconds_left) == (0, None, None)


def test_config_seconds_tolerates_suffix() -> None:
    assert config_seconds({"x": "120s"}, "x") == 120.0
    assert config_seconds({}, "x") is None


@pytest.mark.parametrize(
    ("name", "value", "unit", "expected"),
    [
        ("statement_timeout", "0", "ms", "0 (off)"),
        ("lock_timeout", "30000", "ms", "30s"),
        ("idle_in_transaction_session_timeout", "300000", "ms", "5min"),
        ("statement_timeout", "1500", "ms", "1500ms"),
        ("x", "7200", "s", "2h"),
        ("x", "-1", "ms", "-1 (off)"),
        ("tcp_keepalives_idle", "0", "s", "0 (OS default)"),
        ("track_activity_query_size", "1024", "B", "1kB"),
        ("shared_buffers", "16384", "8kB", "128MB"),
        ("max_connections", "100", None, "100"),
        ("x", "on", None, "on"),
    ],
)
def test_human_setting(name: str, value: str, unit: str | None, expected: str) -> None:
    assert human_setting(Setting(name, value, unit, "default", False)) == expected
