"""See through PgBouncer: the pool behind a backend, and the client that holds it now.

pg_stat_activity shows PgBouncer as the client of every backend it opened. SHOW SERVERS
gives each server connection's `remote_pid`, and SHOW CLIENTS links clients to the server
connection they hold (`link` = the other side's `ptr`). Joining the three tells the DBA
which application is really behind a backend (docs/reference/pgbouncer-console.md,
"Matching a server connection to its pg_stat_activity row").

Nothing here guesses: a backend is joined only when the evidence agrees, otherwise it is
left alone. Everything is dict lookups, computed once per snapshot.
"""

from __future__ import annotations

from collections.abc import Iterable
from operator import attrgetter
from typing import TYPE_CHECKING, NamedTuple

from pgtop.model.derive import known_summary, remember_summary
from pgtop.model.records import Session, Snapshot, replace_session

if TYPE_CHECKING:
    from pgtop.model.pooler_records import PoolerClient, PoolerLink, PoolerServer, PoolerSnapshot

# What a backend's application_name says when it tells nothing about the real client.
_UNINFORMATIVE_APPS = {"", "pgbouncer"}
WAITING_STATES = {"waiting", "waiting_cancel_req"}
_POOLER = attrgetter("pooler")  # a PoolerLink is always true


def _same_socket(s: Session, srv: PoolerServer) -> bool:
    """Does the backend's client end equal PgBouncer's end of this server connection?

    On TCP `remote_pid` is only the first 4 bytes of the cancel key, which equals the pid
    when PgBouncer talks straight to PostgreSQL but is random through another pooler or
    proxy: the address and port, unique at any moment, confirm it. On a Unix socket
    PgBouncer reads the peer's pid from the kernel, so it is the backend pid.
    """
    if s.client_addr is None:
        return s.client_port == -1 and srv.addr == "unix"
    return srv.local_addr == s.client_addr and srv.local_port == s.client_port


def _holder(srv: PoolerServer, clients_by_ptr: dict[str, PoolerClient]) -> PoolerClient | None:
    if srv.link is None:
        return None
    client = clients_by_ptr.get(srv.link)
    # SHOW SERVERS and SHOW CLIENTS are two commands, not one moment, and before 1.24 a
    # freed ptr is reused: trust the pairing only when both rows point at each other.
    if client is None or client.link != srv.ptr:
        return None
    return client


def join_pooler(
    sessions: Iterable[Session], pooler: PoolerSnapshot | None
) -> dict[int, PoolerLink]:
    """pid -> its PgBouncer server connection and the client holding it, for the backends
    PgBouncer opened; backends it did not open (or cannot be confirmed) are absent."""
    if pooler is None or not pooler.server_list:
        return {}
    by_pid: dict[int, list[PoolerServer]] = {}
    for srv in pooler.server_list:
        if srv.remote_pid:
            by_pid.setdefault(srv.remote_pid, []).append(srv)
    if not by_pid:
        return {}
    from pgtop.model.pooler_records import PoolerLink  # with a pooler only (start-up time)

    clients_by_ptr = {c.ptr: c for c in pooler.client_list if c.ptr}
    links: dict[int, PoolerLink] = {}
    for s in sessions:
        candidates = by_pid.get(s.pid)
        if not candidates:
            continue
        confirmed = [srv for srv in candidates if _same_socket(s, srv)]
        if len(confirmed) != 1:  # none, or ambiguous: say nothing rather than guess
            continue
        srv = confirmed[0]
        links[s.pid] = PoolerLink(server=srv, client=_holder(srv, clients_by_ptr))
    return links


# pid -> (session as polled, its link, the linked copy), from one link_sessions to the next
LinkMemo = dict[int, tuple[Session, "PoolerLink | None", Session]]


def link_sessions(snap: Snapshot, memo: LinkMemo | None = None) -> Snapshot:
    """The snapshot with each session's `pooler` set from the join (None where it has none).

    Sessions that keep their value are reused, so the cost is one dict lookup per session
    plus a copy of the joined ones. With a `memo` kept across calls, a session polled and
    linked as last time keeps last time's copy, so the UI sees the very same record and
    does not redraw it. A pooler that failed its last poll gives no links: the pooler pane
    may keep showing its last data dimmed, but a stale link would be a guess.
    """
    pooler = None if snap.pooler_error else snap.pooler
    links = join_pooler(snap.sessions, pooler)
    if not links and not any(map(_POOLER, snap.sessions)):  # in C: runs every poll
        return snap
    out: list[Session] = []
    fresh: LinkMemo = {}
    for s in snap.sessions:
        link = links.get(s.pid)
        if link is not s.pooler and link != s.pooler:
            hit = memo.get(s.pid) if memo is not None else None
            linked = (
                hit[2]
                if hit and hit[0] is s and hit[1] == link
                else replace_session(s, pooler=link)
            )
            fresh[s.pid] = (s, link, linked)
            s = linked
        out.append(s)
    if memo is not None:
        memo.clear()
        memo.update(fresh)
    linked = tuple(out)
    summary = known_summary(snap.sessions)
    if summary is not None:  # a link changes no state: the summary holds
        remember_summary(linked, summary)
    return snap._replace(sessions=linked)


# -- what the UI and the JSON show -----------------------------------------------------------


def client_app_shown(s: Session) -> str:
    """The APP to show: the backend's own, unless it is empty or PgBouncer's and the client
    holding the backend has a better one."""
    link = s.pooler
    if (
        link is not None
        and link.client is not None
        and link.client.application_name
        and s.application.strip().lower() in _UNINFORMATIVE_APPS
    ):
        return link.client.application_name
    return s.application


def client_state(c: PoolerClient) -> str:
    """active (holds a server), waiting (queued for one) or idle (connected, holds none).

    PgBouncer before 1.25 calls a client with no server "active" too; the link tells.
    """
    if c.state in WAITING_STATES:
        return "waiting"
    if c.state.startswith("active") and c.link is None:
        return "idle"
    return c.state


class PoolMembers(NamedTuple):
    """One pool's clients and server connections, with the backend pid each client holds."""

    clients: tuple[PoolerClient, ...]  # waiting first (longest wait first), then active, idle
    servers: tuple[PoolerServer, ...]
    backend_of_client: dict[str, int]  # client ptr -> pid of the backend it holds (joined)
    pid_of_server: dict[str, int]  # server ptr -> confirmed backend pid
    client_by_ptr: dict[str, PoolerClient]


_STATE_ORDER = {"waiting": 0, "active": 1, "idle": 2}


def pool_members(snap: Snapshot, database: str, user: str) -> PoolMembers:
    """The members of pool (database, user); `snap` should have gone through link_sessions."""
    pooler = snap.pooler
    if pooler is None:
        return PoolMembers((), (), {}, {}, {})
    clients = [c for c in pooler.client_list if c.database == database and c.user == user]
    clients.sort(key=lambda c: (_STATE_ORDER.get(client_state(c), 3), -c.wait_s, c.address))
    servers = tuple(s for s in pooler.server_list if s.database == database and s.user == user)
    backend_of_client: dict[str, int] = {}
    pid_of_server: dict[str, int] = {}
    for s in snap.sessions:
        link = s.pooler
        if link is None or link.server.database != database or link.server.user != user:
            continue
        pid_of_server[link.server.ptr] = s.pid
        if link.client is not None:
            backend_of_client[link.client.ptr] = s.pid
    return PoolMembers(
        clients=tuple(clients),
        servers=servers,
        backend_of_client=backend_of_client,
        pid_of_server=pid_of_server,
        client_by_ptr={c.ptr: c for c in pooler.client_list},
    )


def missing_notes(pooler: PoolerSnapshot) -> list[str]:
    """One sentence per column this PgBouncer lacks, e.g. for the pool detail screen."""
    return [f"PgBouncer {pooler.version} lacks {m}" for m in pooler.missing]
