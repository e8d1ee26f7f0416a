"""Pooler queue: clients waiting at PgBouncer, and what holds their pool.

The chain a DBA walks by hand: SHOW POOLS (who waits, how long), the pool's size and
PgBouncer's caps (SHOW DATABASES, SHOW CONFIG), then the backends its server connections
hold (pg_stat_activity, joined by model/pooler_join) and PostgreSQL's free slots. Causes:

- postgres_full: PostgreSQL has no ordinary slot left for a new server connection;
- max_db_connections / max_user_connections: PgBouncer's own cap is reached;
- idle_in_transaction: the pool's servers are held by sessions idle in a transaction;
- slow_queries: they are busy with queries running past `slow_query_s`;
- idle_clients: in session pooling, clients hold servers while doing nothing;
- pool_size: the pool is at its size with fast work while PostgreSQL has room;
- opening: the pool is below its size (PgBouncer is still opening servers).
"""

from __future__ import annotations

import re
from collections import Counter

from pgtop.model.capacity import config_int, config_seconds
from pgtop.model.findings.base import (
    IDLE_IN_XACT_STATES,
    Finding,
    named,
    query_age,
    state_age,
    term,
    top_counts,
)
from pgtop.model.format import age, one_line, plural
from pgtop.model.pooler_join import client_app_shown
from pgtop.model.pooler_records import Pool
from pgtop.model.records import ACTIVE, IDLE, Session, Snapshot
from pgtop.model.thresholds import Thresholds

_DEFAULT_POOL_SIZE = 20  # PgBouncer's own default


def _version(version: str) -> tuple[int, int]:
    m = re.search(r"(\d+)\.(\d+)", version)
    return (int(m.group(1)), int(m.group(2))) if m else (0, 0)


def pooler_queue(snap: Snapshot, t: Thresholds) -> list[Finding]:
    pooler = snap.pooler
    if pooler is None or snap.pooler_error:
        return []
    cfg = pooler.config
    timeout = config_seconds(cfg, "query_wait_timeout")
    default_size = config_int(cfg, "default_pool_size")
    default_size = _DEFAULT_POOL_SIZE if default_size is None else default_size
    default_reserve = config_int(cfg, "reserve_pool_size") or 0
    max_user = config_int(cfg, "max_user_connections") or 0
    zero_unlimited = _version(pooler.version) >= (1, 24)
    lim = snap.limits
    pg_free = lim.available_to_ordinary_roles - lim.client_connections
    by_name = {d.name: d for d in pooler.databases}
    servers_of_user = Counter(s.user for s in pooler.server_list)
    out = []
    for pool in pooler.pools:
        if pool.cl_waiting <= 0 or pool.maxwait < t.queue_wait_s:
            continue
        pdb = by_name.get(pool.database)
        size = pdb.pool_size if pdb and pdb.pool_size is not None else default_size
        reserve = pdb.reserve_pool if pdb and pdb.reserve_pool is not None else default_reserve
        unlimited = size == 0 and zero_unlimited
        servers = pool.sv_active + pool.sv_idle + pool.sv_used + pool.sv_tested + pool.sv_login
        backends = [
            s
            for s in snap.sessions
            if s.pooler is not None
            and s.pooler.pool_database == pool.database
            and s.pooler.pool_user == pool.user
        ]
        db_cap = pdb.max_connections if pdb and pdb.max_connections else None
        db_now = pdb.current_connections if pdb else None
        evidence: dict[str, float | int] = {
            "waiting": pool.cl_waiting,
            "longest_wait_s": round(pool.maxwait, 3),
            "server_connections": servers,
            "pool_size": size,
            "reserve_pool": reserve,
            "postgres_free_slots": pg_free,
        }
        if timeout:
            evidence["query_wait_timeout_s"] = timeout
            evidence["seconds_until_timeout"] = round(max(0.0, timeout - pool.maxwait), 3)
        real_db = pdb.database if pdb and pdb.database else pool.database
        cause, why, pids, action, filt = _cause(
            pool,
            snap,
            t,
            backends,
            servers,
            size,
            reserve,
            unlimited,
            pg_free,
            db_cap,
            db_now,
            max_user,
            servers_of_user[pool.user],
            real_db,
            evidence,
        )
        left = evidence.get("seconds_until_timeout")
        critical = pool.maxwait >= t.queue_critical_s or (
            left is not None and left <= t.queue_timeout_left_s
        )
        name = f"{pool.database}/{pool.user}"
        sentence = (
            f"{plural(pool.cl_waiting, 'client')} wait at pool {named(name)} "
            f"(longest {age(pool.maxwait)}): {why}"
        )
        if left is not None:
            sentence += f"; query_wait_timeout drops the first in {age(left)}"
        elif timeout == 0:
            sentence += "; query_wait_timeout is off, so they wait indefinitely"
        out.append(
            Finding(
                kind="pooler_queue",
                severity="critical" if critical else "warning",
                summary=sentence + ".",
                evidence=evidence,
                pids=tuple(pids),
                pool=name,
                cause=cause,
                action=action,
                filter=filt,
            )
        )
    return out


def _cause(
    pool: Pool,
    snap: Snapshot,
    t: Thresholds,
    backends: list[Session],
    servers: int,
    size: int,
    reserve: int,
    unlimited: bool,
    pg_free: int,
    db_cap: int | None,
    db_now: int | None,
    max_user: int,
    user_servers: int,
    real_db: str,
    evidence: dict[str, float | int],
) -> tuple[str, str, list[int], str, str | None]:
    """(cause, the clause that says it, pids, what to do, sessions filter)."""
    now = snap.server.snapshot_time
    lim = snap.limits
    pool_filter = f"{term('db', real_db)} {term('user', pool.user)}"
    if pg_free <= 0:
        evidence["postgres_in_use"] = lim.client_connections
        evidence["postgres_available"] = lim.available_to_ordinary_roles
        return (
            "postgres_full",
            f"PostgreSQL has no ordinary slot left for a new server connection "
            f"({lim.client_connections} of {lim.available_to_ordinary_roles} in use)",
            [s.pid for s in backends],
            "Free slots on PostgreSQL (end idle sessions outside the pooler) or raise "
            "max_connections; lower other pools' sizes.",
            None,
        )
    for kind, limits, name in (
        ("role", lim.roles, pool.user),
        ("database", lim.databases, real_db),
    ):
        hit = next((c for c in limits if c.name == name and 0 <= c.limit <= c.current), None)
        if hit is not None:
            evidence[f"{kind}_connection_limit"] = hit.limit
            return (
                f"{kind}_limit",
                f"PostgreSQL refuses more: {kind} {named(name)} is at its CONNECTION LIMIT "
                f"({hit.current} of {hit.limit})",
                [s.pid for s in backends],
                f"Raise the limit (ALTER {kind.upper()} {named(name)} CONNECTION LIMIT n) or end "
                f"idle sessions of that {kind}.",
                term("user" if kind == "role" else "db", name),
            )
    if db_cap is not None and db_now is not None and db_now >= db_cap:
        evidence["max_db_connections"] = db_cap
        return (
            "max_db_connections",
            f"PgBouncer's max_db_connections ({db_cap}) is reached for database "
            f"{named(pool.database)}",
            [s.pid for s in backends],
            f"Raise max_db_connections for {named(pool.database)} in pgbouncer.ini, or lower the "
            "pool sizes that share it.",
            pool_filter,
        )
    if max_user and user_servers >= max_user:
        evidence["max_user_connections"] = max_user
        return (
            "max_user_connections",
            f"PgBouncer's max_user_connections ({max_user}) is reached for user {named(pool.user)}",
            [s.pid for s in backends],
            f"Raise max_user_connections in pgbouncer.ini, or lower the pool sizes of "
            f"user {named(pool.user)}.",
            pool_filter,
        )
    if not unlimited and servers < size and pool.sv_login > 0:
        return _opening(servers, size)

    # A session holds the pool when it stays idle: a client's round trip between two
    # statements (milliseconds idle in transaction, or between queries in session
    # pooling) is work, not a cause, and "terminate them" would kill healthy ones.
    # As long as a query must run to count as slow, it must idle to count as holding.
    def idle_long(s: Session) -> bool:
        return state_age(s, now) >= t.slow_query_s

    iit = [s for s in backends if s.state in IDLE_IN_XACT_STATES and idle_long(s)]
    active = sorted((s for s in backends if s.state == ACTIVE), key=lambda s: -query_age(s, now))
    slow = [s for s in active if query_age(s, now) >= t.slow_query_s]
    # Only session pooling lets an idle client keep its server: in transaction or
    # statement pooling an idle backend still linked is the moment PgBouncer releases it
    # (SHOW SERVERS and pg_stat_activity are read apart), not a cause.
    held_idle = (
        [s for s in backends if s.state == IDLE and s.pooler and s.pooler.client and idle_long(s)]
        if pool.pool_mode == "session"
        else []
    )
    held = max(servers, len(backends), 1)
    evidence["idle_in_transaction"] = len(iit)
    evidence["slow_queries"] = len(slow)
    if iit and 2 * len(iit) >= held and len(iit) >= len(slow):
        oldest = max(iit, key=lambda s: state_age(s, now))
        evidence["longest_idle_in_transaction_s"] = round(state_age(oldest, now), 3)
        apps = ", ".join(
            f"{named(a)} ({n})" for a, n in top_counts([client_app_shown(s) for s in iit])
        )
        return (
            "idle_in_transaction",
            f"{_of(len(iit), servers)} held by sessions "
            f"idle in transaction from app {apps}, the longest idle "
            f"{age(state_age(oldest, now))} (pid {oldest.pid})",
            [s.pid for s in iit],
            "Terminate them (k) and fix the application's transaction handling; "
            "idle_transaction_timeout in pgbouncer.ini or idle_in_transaction_session_timeout "
            "would end them.",
            f"state:idle-tx age>={t.slow_query_s:g}s {pool_filter}",
        )
    if slow and 2 * len(slow) >= held:
        longest = slow[0]
        evidence["longest_query_s"] = round(query_age(longest, now), 3)
        evidence["longest_query_pid"] = longest.pid
        return (
            "slow_queries",
            f"{_of(len(slow), servers)} busy with slow "
            f"queries; the longest, pid {longest.pid}, has run "
            f"{age(query_age(longest, now))}: {one_line(longest.query, 60)}",
            [s.pid for s in slow],
            "Cancel the longest (c) or tune them; query_timeout in pgbouncer.ini or "
            "statement_timeout would bound them.",
            f"state:active {pool_filter}",
        )
    if held_idle and 2 * len(held_idle) >= held:
        evidence["held_by_idle_clients"] = len(held_idle)
        return (
            "idle_clients",
            f"{_of(len(held_idle), servers)} held by "
            f"clients that are idle (pool_mode {pool.pool_mode})",
            [s.pid for s in held_idle],
            "Use pool_mode = transaction for this pool, or set client_idle_timeout.",
            f"state:idle age>={t.slow_query_s:g}s {pool_filter}",
        )
    if not unlimited and servers < size:
        return _opening(servers, size)
    return (
        "pool_size",
        f"the pool is at its size ({servers} of {size}"
        + (f" + {reserve} reserve" if reserve else "")
        + f") with short work while PostgreSQL has {plural(pg_free, 'free slot')}",
        [s.pid for s in backends],
        f"Raise pool_size for {named(pool.database)} in pgbouncer.ini (PostgreSQL has "
        f"{pg_free} free).",
        pool_filter,
    )


def _opening(servers: int, size: int) -> tuple[str, str, list[int], str, str | None]:
    return (
        "opening",
        f"the pool has {servers} of its {size} server connections and is opening more",
        [],
        "Wait a poll; if it stays, PostgreSQL's log says why logins fail.",
        None,
    )


def _of(part: int, servers: int) -> str:
    """'2 of its 5 server connections are', 'all 3 server connections are', '1 of … is'."""
    if part >= servers:
        return (
            f"all {plural(servers, 'server connection')} are"
            if servers > 1
            else ("its server connection is")
        )
    return f"{part} of its {plural(servers, 'server connection')} {'is' if part == 1 else 'are'}"
