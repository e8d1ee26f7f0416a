"""The pooler join (model/pooler_join.py) and the SHOW CLIENTS/SERVERS column mapping, on
hand-built records and row dicts shaped like PgBouncer 1.17, 1.18 and 1.24 send them."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from builders import NOW, session

from pgtop.collect.pgbouncer_rows import (
    RowRecords,
    client_from_row,
    missing_columns,
    pgbouncer_time,
    server_from_row,
)
from pgtop.model.export import snapshot_to_dict
from pgtop.model.pooler_join import (
    LinkMemo,
    client_app_shown,
    client_state,
    join_pooler,
    link_sessions,
    pool_members,
)
from pgtop.model.pooler_records import Pool, PoolerClient, PoolerServer, PoolerSnapshot
from pgtop.model.records import Limits, ServerInfo, Snapshot
from pgtop.ui.widgets.session_columns import client_text
from support.records import replace

BOUNCER = "10.0.0.9"  # PgBouncer's address as PostgreSQL sees it


def server(
    pid: int | None,
    local_port: int,
    ptr: str,
    link: str | None = None,
    state: str = "active",
    local_addr: str | None = BOUNCER,
    **kw: Any,
) -> PoolerServer:
    fields: dict[str, Any] = {
        "database": "shop",
        "user": "app_user",
        "state": state,
        "addr": "10.0.0.1",
        "port": 5432,
        "local_addr": local_addr,
        "local_port": local_port,
        "connect_time": NOW - timedelta(minutes=5),
        "request_time": NOW - timedelta(seconds=3),
        "remote_pid": pid,
        "ptr": ptr,
        "link": link,
        "application_name": "",
    }
    fields.update(kw)
    return PoolerServer(**fields)


def client(
    ptr: str,
    link: str | None = None,
    port: int = 4242,
    state: str = "active",
    app: str | None = "web",
    wait_s: float = 0.0,
    **kw: Any,
) -> PoolerClient:
    fields: dict[str, Any] = {
        "database": "shop",
        "user": "app_user",
        "state": state,
        "addr": "10.0.0.5",
        "port": port,
        "connect_time": NOW - timedelta(minutes=2),
        "request_time": NOW - timedelta(seconds=1),
        "wait_s": wait_s,
        "ptr": ptr,
        "link": link,
        "application_name": app,
    }
    fields.update(kw)
    return PoolerClient(**fields)


def pooler(
    servers: tuple[PoolerServer, ...],
    clients: tuple[PoolerClient, ...] = (),
    mode: str = "session",
    missing: tuple[str, ...] = (),
) -> PoolerSnapshot:
    pool = Pool("shop", "app_user", 2, 0, 2, 0, 0, 0, 0, 0.0, mode)
    return PoolerSnapshot(
        "1.18.0",
        "h:6432",
        (pool,),
        (),
        (),
        {},
        len(clients),
        len(servers),
        NOW,
        client_list=clients,
        server_list=servers,
        missing=missing,
    )


def snapshot(sessions: tuple[Any, ...], pool: PoolerSnapshot | None, error: str | None = None):
    info = ServerInfo("15.8", 150008, "db:5432", None, False, NOW)
    limits = Limits(100, 3, None, len(sessions), (), (), ())
    return Snapshot(info, sessions, (), limits, pooler=pool, pooler_error=error)


def bounced(pid: int, port: int, app: str = "", **kw: Any) -> Any:
    """A backend whose client is PgBouncer (BOUNCER:port)."""
    return session(pid, "active", client_addr=BOUNCER, client_port=port, application=app, **kw)


# -- the join ------------------------------------------------------------------------------


def test_linked_client_is_found_through_its_server() -> None:
    s = bounced(101, 33001)
    p = pooler((server(101, 33001, "0xs1", link="0xc1"),), (client("0xc1", link="0xs1"),))
    links = join_pooler([s], p)
    link = links[101]
    assert (link.pool_database, link.pool_user, link.server_state) == ("shop", "app_user", "active")
    assert link.client is not None
    assert link.client.address == "10.0.0.5:4242"
    assert link.client.application_name == "web"


def test_same_remote_pid_but_other_port_is_no_match() -> None:
    """remote_pid is a cancel-key prefix on TCP: through another pooler it can equal an
    unrelated pid. The port must confirm it."""
    s = bounced(101, 33001)
    p = pooler((server(101, 33999, "0xs1", link="0xc1"),), (client("0xc1", link="0xs1"),))
    assert join_pooler([s], p) == {}


def test_same_remote_pid_but_other_address_is_no_match() -> None:
    s = bounced(101, 33001)
    p = pooler((server(101, 33001, "0xs1", local_addr="10.9.9.9"),))
    assert join_pooler([s], p) == {}


def test_backend_not_opened_by_pgbouncer_is_left_alone() -> None:
    direct = session(202, "active", client_addr="10.0.0.7", client_port=50000)
    p = pooler((server(101, 33001, "0xs1"),))
    assert join_pooler([direct], p) == {}


def test_transaction_pooling_between_transactions_gives_the_pool_only() -> None:
    s = bounced(101, 33001)
    p = pooler(
        (server(101, 33001, "0xs1", link=None, state="idle"),), (client("0xc1"),), "transaction"
    )
    link = join_pooler([s], p)[101]
    assert link.client is None
    assert link.pool_database == "shop" and link.server_state == "idle"


def test_a_link_only_one_side_reports_is_not_trusted() -> None:
    """SHOW SERVERS and SHOW CLIENTS run one after the other: in between the server may have
    gone to another client, and before 1.24 a ptr can be reused."""
    s = bounced(101, 33001)
    p = pooler(
        (server(101, 33001, "0xs1", link="0xc1"),),
        (client("0xc1", link="0xs2"), client("0xc2", link="0xs1", port=4343)),
    )
    link = join_pooler([s], p)[101]
    assert link.client is None


def test_unix_socket_backend_matches_on_pid() -> None:
    s = session(303, "active", client_addr=None, client_port=-1, application="")
    p = pooler(
        (server(303, 0, "0xs3", link="0xc3", local_addr="unix", addr="unix"),),
        (client("0xc3", link="0xs3"),),
    )
    assert join_pooler([s], p)[303].client is not None


def test_no_pooler_or_no_servers_is_no_work() -> None:
    s = bounced(101, 33001)
    assert join_pooler([s], None) == {}
    assert join_pooler([s], pooler(())) == {}


def test_link_sessions_sets_and_clears_links() -> None:
    s1, s2 = bounced(101, 33001), session(202)
    p = pooler((server(101, 33001, "0xs1", link="0xc1"),), (client("0xc1", link="0xs1"),))
    snap = link_sessions(snapshot((s1, s2), p))
    by_pid = {s.pid: s for s in snap.sessions}
    assert by_pid[101].pooler is not None and by_pid[202].pooler is None
    assert by_pid[202] is s2  # untouched sessions are reused, not copied
    again = link_sessions(snap)
    assert again.sessions == snap.sessions
    # A failed pooler poll: the last pooler data may stay on screen, links must not.
    stale = link_sessions(replace(snap, pooler_error="pooler h:6432: no answer"))
    assert all(s.pooler is None for s in stale.sessions)


def test_link_memo_keeps_a_linked_session_the_same_object_until_it_changes() -> None:
    """The sessions table redraws a line when its record is another object: a pooled
    backend whose session and link did not change must come out as last poll's object."""
    memo: LinkMemo = {}
    s1 = bounced(101, 33001)
    servers = (server(101, 33001, "0xs1", link="0xc1"),)
    first = link_sessions(snapshot((s1,), pooler(servers, (client("0xc1", link="0xs1"),))), memo)
    again = link_sessions(snapshot((s1,), pooler(servers, (client("0xc1", link="0xs1"),))), memo)
    assert again.sessions[0] is first.sessions[0]
    # the backend now serves another client: a new link, a new record
    other = (server(101, 33001, "0xs1", link="0xc2"),)
    moved = link_sessions(snapshot((s1,), pooler(other, (client("0xc2", link="0xs1"),))), memo)
    assert moved.sessions[0] is not first.sessions[0]
    assert moved.sessions[0].pooler is not None
    assert moved.sessions[0].pooler.client is not None
    assert moved.sessions[0].pooler.client.ptr == "0xc2"
    # the session itself changed (a new poll row): a new record, even with the same link
    s1b = replace(s1, query="SELECT 2")
    newer = link_sessions(snapshot((s1b,), pooler(other, (client("0xc2", link="0xs1"),))), memo)
    assert newer.sessions[0] is not moved.sessions[0]
    assert newer.sessions[0].query == "SELECT 2"


def test_link_sessions_without_links_returns_the_snapshot_itself() -> None:
    snap = snapshot((session(1), session(2)), None)
    assert link_sessions(snap) is snap


# -- what is shown -------------------------------------------------------------------------


def _linked(app: str, client_app: str | None = "web", port: int = 4242) -> Any:
    s = bounced(101, 33001, app=app)
    p = pooler(
        (server(101, 33001, "0xs1", link="0xc1"),),
        (client("0xc1", link="0xs1", app=client_app, port=port),),
    )
    return link_sessions(snapshot((s,), p)).sessions[0]


def test_app_column_prefers_the_client_when_the_backend_says_nothing() -> None:
    assert client_app_shown(_linked("")) == "web"
    assert client_app_shown(_linked("pgbouncer")) == "web"
    assert client_app_shown(_linked("billing")) == "billing"  # its own name wins
    assert client_app_shown(_linked("", client_app=None)) == ""  # column missing: no guess
    assert client_app_shown(session(5, application="psql")) == "psql"


def test_client_column_shows_the_real_client() -> None:
    assert client_text(_linked("")) == "⇄ 10.0.0.5:4242"
    assert client_text(_linked("", port=54321)) == "⇄ 10.0.0.5:54321"
    s = bounced(101, 33001)
    pool_only = link_sessions(snapshot((s,), pooler((server(101, 33001, "0xs1"),)))).sessions[0]
    assert client_text(pool_only) == "⇄ no client"
    assert client_text(session(7, client_addr="10.0.0.7", client_port=1)) == "10.0.0.7:1"


def test_client_state_reads_the_link() -> None:
    assert client_state(client("0xc1", link="0xs1")) == "active"
    assert client_state(client("0xc1", link=None)) == "idle"  # PgBouncer < 1.25 says active
    assert client_state(client("0xc1", state="waiting")) == "waiting"
    assert client_state(client("0xc1", state="idle")) == "idle"  # 1.25+


def test_pool_members_order_and_backends() -> None:
    s = bounced(101, 33001)
    clients = (
        client("0xc1", link="0xs1"),
        client("0xc2", state="waiting", wait_s=1.5, port=4300),
        client("0xc3", state="waiting", wait_s=9.0, port=4301),
        client("0xc4", port=4302),
        client("0xc9", port=4309, database="other"),
    )
    servers = (server(101, 33001, "0xs1", link="0xc1"), server(999, 33002, "0xs2", state="idle"))
    snap = link_sessions(snapshot((s,), pooler(servers, clients)))
    m = pool_members(snap, "shop", "app_user")
    assert [c.ptr for c in m.clients] == ["0xc3", "0xc2", "0xc1", "0xc4"]  # longest wait first
    assert m.backend_of_client == {"0xc1": 101}
    assert m.pid_of_server == {"0xs1": 101}  # 999 is not a backend here: not confirmed
    assert len(m.servers) == 2


def test_export_has_pooler_lists_and_the_per_session_object() -> None:
    s1, s2 = bounced(101, 33001), session(202)
    p = pooler(
        (server(101, 33001, "0xs1", link="0xc1"),),
        (client("0xc1", link="0xs1"),),
        missing=("id in SHOW CLIENTS",),
    )
    out = snapshot_to_dict(snapshot((s1, s2), p))  # not linked beforehand: export joins
    rows = {r["pid"]: r for r in out["sessions"]}
    assert rows[101]["pooler"] == {
        "pool_database": "shop",
        "pool_user": "app_user",
        "server_state": "active",
        "client_addr": "10.0.0.5",
        "client_port": 4242,
        "client_application_name": "web",
    }
    assert rows[202]["pooler"] is None
    assert out["pooler"]["client_list"][0]["link"] == "0xs1"
    assert out["pooler"]["server_list"][0]["remote_pid"] == 101
    assert out["pooler"]["missing_columns"] == ["id in SHOW CLIENTS"]
    assert out["pooler"]["clients"] == 1  # the count keeps its meaning


# -- column mapping ------------------------------------------------------------------------

COMMON = {
    "type": "C",
    "user": "app_user",
    "database": "shop",
    "state": "active",
    "addr": "10.0.0.5",
    "port": 4242,
    "local_addr": "10.0.0.9",
    "local_port": 6432,
    "connect_time": "2026-11-25 11:58:00 UTC",
    "request_time": "2026-11-25 11:59:59 UTC",
    "wait": 2,
    "wait_us": 500000,
    "close_needed": 0,
    "ptr": "0x55d0c1",
    "link": "0x55d0s1",
    "remote_pid": 0,
    "tls": "",
}
ROW_117 = dict(COMMON)  # before application_name
ROW_118 = {**COMMON, "application_name": "web"}
# 1.23 adds replication after database, 1.21 prepared_statements, 1.24 id.
ROW_124 = {
    **COMMON,
    "replication": "none",
    "application_name": "",
    "prepared_statements": 0,
    "id": 17,
}


def test_client_row_118() -> None:
    c = client_from_row(ROW_118)
    assert (c.database, c.user, c.state, c.addr, c.port) == (
        "shop",
        "app_user",
        "active",
        "10.0.0.5",
        4242,
    )
    assert c.connect_time == datetime(2026, 11, 25, 11, 58, tzinfo=UTC)
    assert c.wait_s == 2.5
    assert (c.ptr, c.link, c.id) == ("0x55d0c1", "0x55d0s1", None)
    assert c.application_name == "web"
    assert missing_columns("CLIENTS", list(ROW_118)) == ()


def test_client_row_124_has_id_and_empty_app_is_not_missing() -> None:
    c = client_from_row(ROW_124)
    assert c.id == 17
    assert c.application_name == ""  # sent, empty: the client set none
    assert missing_columns("CLIENTS", list(ROW_124)) == ()


def test_client_row_117_lacks_application_name() -> None:
    c = client_from_row(ROW_117)
    assert c.application_name is None
    assert missing_columns("CLIENTS", list(ROW_117)) == ("application_name in SHOW CLIENTS",)


def test_server_row_mapping() -> None:
    row = {**ROW_118, "type": "S", "remote_pid": 4711, "local_port": 33001, "link": ""}
    s = server_from_row(row)
    assert s.remote_pid == 4711 and s.local_port == 33001 and s.local_addr == "10.0.0.9"
    assert s.link is None  # PgBouncer prints an empty link for "none"
    assert server_from_row({**row, "remote_pid": 0}).remote_pid is None
    assert missing_columns("SERVERS", list(row)) == ()
    old = {k: v for k, v in row.items() if k not in ("remote_pid", "application_name")}
    assert server_from_row(old).remote_pid is None
    assert missing_columns("SERVERS", list(old)) == (
        "remote_pid in SHOW SERVERS",
        "application_name in SHOW SERVERS",
    )


def test_pgbouncer_times() -> None:
    assert pgbouncer_time("2026-11-25 23:50:20 UTC") == datetime(
        2026, 11, 25, 23, 50, 20, tzinfo=UTC
    )
    assert pgbouncer_time("2026-11-25 23:50:20 +0100") == datetime(
        2026, 11, 25, 22, 50, 20, tzinfo=UTC
    )
    assert pgbouncer_time("2026-11-25 23:50:20 CET") is None  # a zone name is a guess
    assert pgbouncer_time("") is None and pgbouncer_time(None) is None
    assert pgbouncer_time("2026-11-25 23:50:20.25 UTC") == datetime(  # microseconds
        2026, 11, 25, 23, 50, 20, 250000, tzinfo=UTC
    )
    assert pgbouncer_time("2026-13-25 23:50:20 UTC") is None  # not a date: not a crash


def test_row_records_follow_the_rows_and_reuse_unchanged_ones() -> None:
    built: list[str] = []

    def build(row: dict[str, Any]) -> str:
        built.append(row["ptr"])
        return f"client {row['ptr']} {row['state']}"

    clients = RowRecords(build)
    cols = ["ptr", "state"]
    assert clients.records(cols, [("0xa", "active"), ("0xb", "waiting")]) == (
        "client 0xa active",
        "client 0xb waiting",
    )
    # b got its server, a left, c arrived: only the changed and new rows are built again
    now = [("0xb", "active"), ("0xc", "active")]
    assert clients.records(cols, now) == ("client 0xb active", "client 0xc active")
    assert built == ["0xa", "0xb", "0xb", "0xc"]
    assert clients.records(cols, now) == ("client 0xb active", "client 0xc active")
    assert built == ["0xa", "0xb", "0xb", "0xc"]
    # another PgBouncer version, other columns: nothing of the old one is reused
    assert clients.records(["state", "ptr"], [("active", "0xc")]) == ("client 0xc active",)
    assert built[-1] == "0xc" and len(built) == 5
