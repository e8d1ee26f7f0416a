"""Several PgBouncer processes in front of one server (so_reuseport), read as one pooler.

Each process has its own admin console and its own pools; the server sees their sum.
`sum_poolers` adds them up into one `PoolerSnapshot` (pure: no I/O, nothing kept).
Pointers (`ptr`, `link`) are per process, so each process's are prefixed with its index
before the lists are joined: a client of one process never links to a server of another.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Hashable, Sequence
from typing import TypeVar

from pgtop.model.pooler_records import Pool, PoolerDatabase, PoolerSnapshot, PoolerStats

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")

_POOL_COUNTS = ("cl_active", "cl_waiting", "sv_active", "sv_idle", "sv_used", "sv_tested",
                "sv_login")  # fmt: skip
_STAT_COUNTS = tuple(f.name for f in dataclasses.fields(PoolerStats) if f.name != "database")


def _sum_pools(pools: list[Pool]) -> Pool:
    first = pools[0]
    counts = {name: sum(getattr(p, name) for p in pools) for name in _POOL_COUNTS}
    return dataclasses.replace(first, maxwait=max(p.maxwait for p in pools), **counts)


def _sum_stats(stats: list[PoolerStats]) -> PoolerStats:
    return dataclasses.replace(
        stats[0], **{name: sum(getattr(s, name) for s in stats) for name in _STAT_COUNTS}
    )


def _sum_databases(rows: list[PoolerDatabase]) -> PoolerDatabase:
    current = [r.current_connections for r in rows if r.current_connections is not None]
    return dataclasses.replace(
        rows[0],
        current_connections=sum(current) if current else None,
        # A pause or disable left on any one process holds or refuses its share of clients.
        paused=any(r.paused for r in rows),
        disabled=any(r.disabled for r in rows),
    )


def _grouped(items: list[tuple[K, V]]) -> dict[K, list[V]]:
    out: dict[K, list[V]] = {}
    for key, value in items:
        out.setdefault(key, []).append(value)
    return out


def sum_poolers(snaps: Sequence[PoolerSnapshot]) -> PoolerSnapshot:
    """One snapshot of all `snaps` (at least one): pools, stats and counts added up."""
    if len(snaps) == 1:
        return snaps[0]
    pools = _grouped([((p.database, p.user), p) for s in snaps for p in s.pools])
    stats = _grouped([(st.database, st) for s in snaps for st in s.stats])
    dbs = _grouped([(d.name, d) for s in snaps for d in s.databases])

    def tag(i: int, ptr: str | None) -> str | None:
        return None if ptr is None else f"{i}:{ptr}"

    clients = tuple(
        dataclasses.replace(c, ptr=tag(i, c.ptr), link=tag(i, c.link))
        for i, s in enumerate(snaps)
        for c in s.client_list
    )
    servers = tuple(
        dataclasses.replace(v, ptr=tag(i, v.ptr), link=tag(i, v.link))
        for i, s in enumerate(snaps)
        for v in s.server_list
    )
    first = snaps[0]
    return dataclasses.replace(
        first,
        address=", ".join(s.address for s in snaps),
        pools=tuple(_sum_pools(group) for group in pools.values()),
        stats=tuple(_sum_stats(group) for group in stats.values()),
        databases=tuple(_sum_databases(group) for group in dbs.values()),
        clients=sum(s.clients for s in snaps),
        servers=sum(s.servers for s in snaps),
        polled_at=max(s.polled_at for s in snaps),
        client_list=clients,
        server_list=servers,
        missing=tuple(dict.fromkeys(m for s in snaps for m in s.missing)),
    )
