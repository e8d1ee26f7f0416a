"""What the admin commands leave behind on a PgBouncer database, read from its snapshot.

PAUSE, KILL (which leaves the database paused) and DISABLE persist until someone undoes
them; a forgotten one silently holds or refuses every client. SHOW DATABASES reports them
(`paused`, `disabled`, since long before 1.18); with several processes the summed row is
paused or disabled when any process is (model/pooler_sum.py). RECONNECT lasts until each
server connection is released: SHOW SERVERS marks those still to close (`close_needed`).
Pure functions, no state.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, NamedTuple

if TYPE_CHECKING:
    from pgtop.model.pooler_records import PoolerSnapshot


class DatabaseReach(NamedTuple):
    """How many of a database's connections a command on it touches (all its pools)."""

    clients: int
    servers: int
    waiting: int


def database_states(pooler: PoolerSnapshot | None) -> dict[str, str]:
    """Database name → "PAUSED", "DISABLED", "RECONNECTING" (servers still to be closed
    once released) or several of them, for those not serving normally; in the order SHOW
    DATABASES gave them."""
    if pooler is None:
        return {}
    reconnecting = {s.database for s in pooler.server_list if s.close_needed}
    states: dict[str, str] = {}
    for db in pooler.databases:
        flags = (
            ("PAUSED", db.paused),
            ("DISABLED", db.disabled),
            ("RECONNECTING", db.name in reconnecting),
        )
        words = [w for w, on in flags if on]
        if words:
            states[db.name] = " ".join(words)
    return states


def database_reach(pooler: PoolerSnapshot | None, database: str) -> DatabaseReach:
    pools = [p for p in (pooler.pools if pooler else ()) if p.database == database]
    return DatabaseReach(
        clients=sum(p.cl_active + p.cl_waiting for p in pools),
        servers=sum(p.sv_active + p.sv_idle + p.sv_used + p.sv_tested + p.sv_login for p in pools),
        waiting=sum(p.cl_waiting for p in pools),
    )
