"""PostgresCollector against real servers (every discovered PostgreSQL): what pgtop shows
must be what pg_stat_activity, pg_settings and pg_database say at the same moment."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

import pytest
from psycopg.conninfo import conninfo_to_dict

from pgtop.collect import blockers
from pgtop.collect.errors import CollectError
from pgtop.collect.postgres import PostgresCollector
from pgtop.model.derive import client_summary, count_states, counts_by
from pgtop.model.records import Session, Snapshot
from pgtop.target import ConnSettings
from support import (
    APP_USER,
    LIMITED_DB,
    LIMITED_ROLE,
    MONITOR,
    PLAIN_USER,
    SHOP_DB,
    SUPERUSER,
    PostgresServer,
    SessionFactory,
)
from support.roles import LIMITED_DB_CONNECTION_LIMIT, LIMITED_ROLE_CONNECTION_LIMIT

# pg_stat_activity.state -> the StateCounts field pgtop files it under.
STATE_FIELDS = {
    "active": "active",
    "idle": "idle",
    "idle in transaction": "idle_in_transaction",
    "idle in transaction (aborted)": "idle_in_transaction_aborted",
}


def conn_settings(
    server: PostgresServer, user: str = MONITOR.name, dbname: str = "postgres"
) -> ConnSettings:
    params = conninfo_to_dict(server.dsn(user, dbname=dbname))
    return ConnSettings({k: str(v) for k, v in params.items() if v is not None})


@asynccontextmanager
async def collector(
    server: PostgresServer, user: str = MONITOR.name, dbname: str = "postgres"
) -> AsyncIterator[PostgresCollector]:
    c = PostgresCollector(conn_settings(server, user, dbname))
    try:
        yield c
    finally:
        await c.close()


async def _poll_once(server: PostgresServer, user: str = MONITOR.name) -> Snapshot:
    async with collector(server, user) as c:
        return await c.poll()


def by_pid(snap: Snapshot) -> dict[int, Session]:
    return {s.pid: s for s in snap.sessions}


async def eventually_equal(
    produce: Callable[[], Any], attempts: int = 20, delay: float = 0.1
) -> tuple[Any, Any]:
    """Call `produce()` (-> (got, expected)) until both sides agree; return the last pair.

    The workload is static, but a backend closed by an earlier test may take a few ms to
    leave pg_stat_activity: a single mismatch is retried, a persistent one fails.
    """
    got: Any = None
    expected: Any = None
    for _ in range(attempts):
        got, expected = await produce()
        if got == expected:
            break
        await asyncio.sleep(delay)
    return got, expected


# -- sessions ------------------------------------------------------------------------------


async def test_sessions_match_pg_stat_activity(
    pg_server: PostgresServer, workload: SessionFactory
) -> None:
    idle = await workload.idle()
    active = await workload.active_sleep(60)
    in_tx = await workload.idle_in_transaction()
    admin = await workload.admin()
    async with collector(pg_server) as c:
        snap = await c.poll()
    rows = {
        r["pid"]: r
        for r in await admin.fetch(
            "SELECT pid, backend_start, xact_start, client_port, host(client_addr) AS addr,"
            " query, wait_event_type"
            + (", query_id" if pg_server.major >= 14 else ", NULL::bigint AS query_id")
            + " FROM pg_stat_activity WHERE pid = ANY($1::int[])",
            [idle, active, in_tx],
        )
    }
    sessions = by_pid(snap)
    expected_state = {idle: "idle", active: "active", in_tx: "idle in transaction"}
    for pid, state in expected_state.items():
        s, row = sessions[pid], rows[pid]
        assert s.state == state
        assert s.database == SHOP_DB
        assert s.user == APP_USER.name
        assert s.application.startswith(workload.tag)
        assert s.backend_type == "client backend" and s.is_client
        assert s.client_addr == "127.0.0.1" == row["addr"]
        assert s.client_port == row["client_port"] and s.client_port > 0
        assert s.client == f"127.0.0.1:{row['client_port']}"
        assert s.backend_start == row["backend_start"]
        assert s.query == row["query"]
        assert s.wait_event_type == row["wait_event_type"]
        assert s.query_id == row["query_id"]
    assert sessions[idle].application == f"{workload.tag}-idle"
    assert sessions[idle].xact_start is None
    assert sessions[idle].wait_event_type == "Client"
    assert sessions[active].query == "SELECT pg_sleep(60.0)"
    assert sessions[active].wait_event_type == "Timeout"
    assert sessions[active].wait_event == "PgSleep"
    assert sessions[active].xact_start is not None
    assert sessions[in_tx].xact_start == rows[in_tx]["xact_start"] is not None
    assert sessions[in_tx].query == "SELECT txid_current()"
    assert sessions[in_tx].backend_xid is not None  # txid_current() assigned one
    assert sessions[in_tx].wait_event_type == "Client"
    assert not any(s.waits_on_lock or s.blocked_by for s in sessions.values())
    # The server's clock, not the client's: same timezone-aware kind as backend_start.
    assert snap.server.snapshot_time >= sessions[in_tx].xact_start


async def test_idle_sessions_not_resent_still_follow_changes(
    pg_server: PostgresServer, workload: SessionFactory
) -> None:
    """From the second poll on, the server re-sends an idle session only when it changed
    (sessions.sql). What pgtop shows must still be what a first poll would show: a session
    that runs a query shows it, one that leaves is gone, a new one appears."""
    stays = await workload.idle(application_name=f"{workload.tag}-stays")
    changes_conn = await workload.connect(application_name=f"{workload.tag}-changes")
    changes = int(await changes_conn.fetchval("SELECT pg_backend_pid()"))
    leaves_conn = await workload.connect(application_name=f"{workload.tag}-leaves")
    leaves = int(await leaves_conn.fetchval("SELECT pg_backend_pid()"))
    in_tx = await workload.idle_in_transaction()
    await workload.wait_for(
        "SELECT count(*) = 2 FROM pg_stat_activity WHERE pid = ANY($1) AND state = 'idle'",
        [changes, leaves],
    )
    async with collector(pg_server) as c:
        first = by_pid(await c.poll())
        second = by_pid(await c.poll())
        assert second[stays] is first[stays]  # not re-sent, not rebuilt
        assert second[in_tx] is first[in_tx]

        await changes_conn.execute("SELECT 'changed' AS what")
        await leaves_conn.close()
        arrives = await workload.idle(application_name=f"{workload.tag}-arrives")
        await workload.wait_for(
            "SELECT NOT EXISTS (SELECT FROM pg_stat_activity WHERE pid = $1)", leaves
        )
        # Settled (idle, waiting on the client), so a later fresh poll must read the same.
        await workload.wait_for(
            "SELECT count(*) = 2 FROM pg_stat_activity"
            " WHERE pid = ANY($1) AND state = 'idle' AND wait_event = 'ClientRead'",
            [changes, arrives],
        )
        third = by_pid(await c.poll())
    fresh = by_pid(await _poll_once(pg_server))

    assert third[changes].query == "SELECT 'changed' AS what"
    assert leaves not in third
    assert third[arrives].application == f"{workload.tag}-arrives"
    assert third[stays] is first[stays] and third[in_tx] is first[in_tx]
    ours = {stays, changes, in_tx, arrives}
    assert {p: third[p] for p in ours} == {p: fresh[p] for p in ours}


async def test_long_query_not_resent_yet_its_changes_show(
    pg_server: PostgresServer, workload: SessionFactory
) -> None:
    """A statement still running is not sent again while what moves during a statement
    (wait event, xid, xmin) holds; when its transaction gets an xid mid-statement, the next
    poll shows it, as a first poll would."""
    conn = await workload.connect(application_name=f"{workload.tag}-long")
    pid = int(await conn.fetchval("SELECT pg_backend_pid()"))
    # One statement throughout: it sleeps without an xid, then takes one and sleeps on.
    body = "BEGIN PERFORM pg_sleep(2); PERFORM txid_current(); PERFORM pg_sleep(60); END"
    async with collector(pg_server) as c:
        task = asyncio.ensure_future(conn.execute(f"DO $$ {body} $$"))
        try:
            await workload.wait_for(
                "SELECT wait_event = 'PgSleep' FROM pg_stat_activity WHERE pid = $1", pid
            )
            first = by_pid(await c.poll())[pid]
            second = by_pid(await c.poll())[pid]
            await workload.wait_for(
                "SELECT backend_xid IS NOT NULL FROM pg_stat_activity WHERE pid = $1", pid
            )
            third = by_pid(await c.poll())[pid]
            fresh = by_pid(await _poll_once(pg_server))[pid]
        finally:
            task.cancel()
    assert first.state == "active" and first.backend_xid is None
    assert second is first  # held by its hash: not sent, not rebuilt
    assert third.backend_xid is not None
    assert third.state_change == first.state_change  # the same statement
    assert third == fresh


async def test_query_id(pg_server: PostgresServer, workload: SessionFactory) -> None:
    """query_id is NULL unless compute_query_id is on (the default `auto` computes it only
    for pg_stat_statements, which the test servers do not load); PostgreSQL < 14 has none."""
    if pg_server.major < 14:
        pytest.skip("pg_stat_activity.query_id is PostgreSQL 14+")
    plain = await workload.idle()
    # compute_query_id is superuser-settable; the id of the last query stays while idle.
    conn = await workload.connect(SUPERUSER.name, SHOP_DB, f"{workload.tag}-qid")
    await conn.execute("SET compute_query_id = on")
    await conn.execute("SELECT 1 + 1")
    qid_pid = int(await conn.fetchval("SELECT pg_backend_pid()"))
    admin = await workload.admin()
    default = await admin.fetchval("SHOW compute_query_id")
    expected = await admin.fetchval("SELECT query_id FROM pg_stat_activity WHERE pid = $1", qid_pid)
    async with collector(pg_server) as c:
        sessions = by_pid(await c.poll())
    assert expected is not None
    assert sessions[qid_pid].query_id == expected
    if default == "on":
        assert sessions[plain].query_id is not None
    else:
        assert sessions[plain].query_id is None


async def test_lock_chain_blocked_by_holder(
    pg_server: PostgresServer, workload: SessionFactory
) -> None:
    chain = await workload.lock_chain(waiters=2)
    snap = await _poll_once(pg_server)
    sessions = by_pid(snap)
    holder = sessions[chain.holder]
    assert holder.state == "idle in transaction"
    assert holder.blocked_by == ()
    assert not holder.waits_on_lock
    for pid in chain.waiters:
        waiter = sessions[pid]
        assert waiter.waits_on_lock
        assert waiter.state == "active"
        assert waiter.wait_event == "relation"
        # Both want ACCESS SHARE, which do not conflict: only the holder blocks them.
        assert waiter.blocked_by == (chain.holder,)
        assert chain.table in waiter.query
    shop = next(d for d in snap.databases if d.name == SHOP_DB)
    assert shop.counts.waiting_on_lock == 2


@pytest.mark.parametrize("reuse_for", [120.0, 0.0], ids=["blockers-reused", "asked-each-poll"])
async def test_an_unchanged_lock_waiter_stays_the_same_object(
    pg_server: PostgresServer,
    workload: SessionFactory,
    monkeypatch: pytest.MonkeyPatch,
    reuse_for: float,
) -> None:
    """A waiter's record gets its blockers filled in each poll; an unchanged one must still
    be last poll's object (memos downstream see a new object as a changed session), and
    one whose wait moved on must not be. With the blockers reused, and asked every poll."""
    monkeypatch.setattr(blockers, "REUSE_FOR", reuse_for)
    t1, t2, t3 = [await workload.new_table() for _ in range(3)]
    h1, h1_conn = await workload.lock_holder(t1, name="h1")
    h2, _ = await workload.lock_holder(t2, name="h2")
    h3, _ = await workload.lock_holder(t3, name="h3")
    moves = await workload.lock_waiter(f"SELECT count(*) FROM {t1}", f"SELECT count(*) FROM {t2}")
    stays = await workload.lock_waiter(f"SELECT count(*) FROM {t3}")
    async with collector(pg_server) as c:
        first = by_pid(await c.poll())
        second = by_pid(await c.poll())
        assert first[moves].blocked_by == (h1,) and first[stays].blocked_by == (h3,)
        assert second[moves] is first[moves] and second[stays] is first[stays]
        await h1_conn.execute("COMMIT")  # `moves` goes on to its next statement: t2
        await workload.blocked(moves, by=h2)
        third = by_pid(await c.poll())
    assert third[stays] is first[stays]
    assert third[moves] is not first[moves] and third[moves].blocked_by == (h2,)
    fresh = by_pid(await _poll_once(pg_server))
    assert third[moves] == fresh[moves] and third[stays] == fresh[stays]


async def test_own_backend_is_hidden(pg_server: PostgresServer, workload: SessionFactory) -> None:
    admin = await workload.admin()
    async with collector(pg_server) as c:
        snap = await c.poll()
        assert c._conn is not None
        own = c._conn.get_server_pid()
        assert snap.own_pids == c.own_pids == (own,)
        assert own not in by_pid(snap)
        # The server lists it under pgtop's name, so DBAs know whose backend it is.
        app = await admin.fetchval(
            "SELECT application_name FROM pg_stat_activity WHERE pid = $1", own
        )
        assert app == "pgtop"
        # pgtop guards itself: its statements cannot hang or queue behind locks for long.
        assert await c._conn.fetchval("SHOW statement_timeout") == "3s"
        assert await c._conn.fetchval("SHOW lock_timeout") == "1s"
        # Its own slot still counts against max_connections.
        clients = sum(1 for s in snap.sessions if s.is_client)
        assert snap.limits.client_connections == clients + 1
        assert snap.server.current_user == MONITOR.name


async def test_database_counts_match_server(
    pg_server: PostgresServer, workload: SessionFactory
) -> None:
    await workload.idle()
    await workload.idle()
    await workload.active_sleep(60)
    await workload.idle_in_transaction()
    await workload.lock_chain(waiters=1)
    await workload.idle(dbname=LIMITED_DB)
    await workload.active_sleep(60, user=MONITOR.name, dbname="postgres")
    admin = await workload.admin()
    async with collector(pg_server) as c:

        async def compare() -> tuple[Any, Any]:
            snap = await c.poll()
            own_pid = snap.own_pids[0]
            # The admin connection is busy running this very query, but was idle while
            # the collector polled: count it as idle.
            rows = await admin.fetch(
                """
                SELECT datname,
                       CASE WHEN pid = pg_backend_pid() THEN 'idle' ELSE state END AS state,
                       count(*) AS n
                  FROM pg_stat_activity
                 WHERE backend_type = 'client backend' AND pid <> $1
                 GROUP BY 1, 2
                """,
                own_pid,
            )
            totals = await admin.fetch(
                "SELECT datname, count(*) AS n FROM pg_stat_activity"
                " WHERE backend_type = 'client backend' AND pid <> $1 GROUP BY 1",
                own_pid,
            )
            expected: dict[str, dict[str, int]] = {}
            for r in rows:
                fields = expected.setdefault(r["datname"], {})
                key = STATE_FIELDS.get(r["state"], "other")
                fields[key] = fields.get(key, 0) + r["n"]
            got: dict[str, dict[str, int]] = {}
            for d in snap.databases:
                if d.counts.total == 0:
                    continue
                got[d.name] = {
                    f: getattr(d.counts, f)
                    for f in (
                        "active",
                        "idle",
                        "idle_in_transaction",
                        "idle_in_transaction_aborted",
                        "other",
                    )
                    if getattr(d.counts, f)
                }
            got_totals = {d.name: d.counts.total for d in snap.databases if d.counts.total}
            return (got, got_totals), (expected, {r["datname"]: r["n"] for r in totals})

        got, expected = await eventually_equal(compare)
    assert got == expected
    counts, totals = got
    # What the workload opened is there (others may add sessions, never remove these).
    assert counts[SHOP_DB]["active"] >= 2  # pg_sleep + the lock waiter
    assert counts[SHOP_DB]["idle_in_transaction"] >= 2  # in_tx + the lock holder
    assert totals[LIMITED_DB] >= 1


async def test_counts_kept_between_polls_equal_a_fresh_count(
    pg_server: PostgresServer, workload: SessionFactory
) -> None:
    """The collector keeps its counts from poll to poll (model/tally.py): as sessions
    come, change and go, the header's figures, each database's counts and the limits
    equal a count of the sessions listed."""
    conns = [await workload.connect() for _ in range(3)]
    await workload.idle_in_transaction()
    async with collector(pg_server) as c:
        for step in range(5):
            snap = await c.poll()
            listed = list(snap.sessions)  # a list: counted afresh, not from the memo
            clients = [s for s in listed if s.is_client]
            summary = client_summary(snap.sessions)
            assert summary.counts == count_states(listed)
            starts = [s.xact_start for s in clients if s.xact_start is not None]
            assert summary.oldest_xact_start == min(starts, default=None)
            fresh = counts_by(listed, lambda s: s.database)
            assert {d.name: d.counts for d in snap.databases if d.counts.total} == {
                name: n for name, n in fresh.items() if name in {d.name for d in snap.databases}
            }
            assert snap.limits.client_connections == len(clients) + len(snap.own_pids)
            if step == 0:
                await conns[0].execute("BEGIN")
                await conns[0].execute("SELECT txid_current()")
            elif step == 1:
                await conns[1].close()
            elif step == 2:
                conns.append(await workload.connect())
                await conns[0].execute("COMMIT")
            elif step == 3:
                await conns[2].execute("SELECT 1")


async def test_databases_list(pg_server: PostgresServer, workload: SessionFactory) -> None:
    snap = await _poll_once(pg_server)
    names = [d.name for d in snap.databases]
    assert names == sorted(names)
    assert {"postgres", SHOP_DB, LIMITED_DB} <= set(names)
    assert not any(n.startswith("template") for n in names)
    dbs = {d.name: d for d in snap.databases}
    assert dbs[LIMITED_DB].connlimit == LIMITED_DB_CONNECTION_LIMIT
    assert dbs[SHOP_DB].connlimit == -1
    assert dbs[SHOP_DB].allow_connections
    assert dbs["postgres"].xact_commit > 0
    assert snap.server.version_num == pg_server.version_num
    assert snap.server.version.split(".")[0] == str(pg_server.major)
    assert snap.server.host == f"{pg_server.host}:{pg_server.port}"
    assert not snap.server.in_recovery
    assert snap.server.start_time is not None


# -- limits and settings ---------------------------------------------------------------------


async def test_limits(pg_server: PostgresServer, workload: SessionFactory) -> None:
    await workload.idle(user=LIMITED_ROLE.name)
    await workload.idle(user=LIMITED_ROLE.name)
    await workload.idle(dbname=LIMITED_DB)
    admin = await workload.admin()
    max_conn = int(await admin.fetchval("SHOW max_connections"))
    su_reserved = int(await admin.fetchval("SHOW superuser_reserved_connections"))
    snap = await _poll_once(pg_server)
    lim = snap.limits
    assert lim.max_connections == max_conn == snap.server.max_connections
    assert lim.superuser_reserved_connections == su_reserved
    if pg_server.major >= 16:
        assert lim.reserved_connections == int(await admin.fetchval("SHOW reserved_connections"))
        assert isinstance(lim.reserved_connections, int)
    else:
        assert lim.reserved_connections is None
    assert lim.available_to_ordinary_roles == (
        max_conn - su_reserved - (lim.reserved_connections or 0)
    )
    roles = {r.name: r for r in lim.roles}
    assert roles[LIMITED_ROLE.name].limit == LIMITED_ROLE_CONNECTION_LIMIT
    assert roles[LIMITED_ROLE.name].current == 2
    assert APP_USER.name not in roles  # no CONNECTION LIMIT: nothing to watch
    dbs = {d.name: d for d in lim.databases}
    assert dbs[LIMITED_DB].limit == LIMITED_DB_CONNECTION_LIMIT
    assert dbs[LIMITED_DB].current == 1
    assert SHOP_DB not in dbs


async def test_settings_listed(pg_server: PostgresServer) -> None:
    lim = (await _poll_once(pg_server)).limits
    for name in ("statement_timeout", "idle_in_transaction_session_timeout", "max_connections"):
        s = lim.setting(name)
        assert s is not None, name
        assert s.source  # "default", "configuration file", ...
        assert s.pending_restart is False
    max_conn = lim.setting("max_connections")
    assert max_conn is not None
    assert max_conn.value == str(lim.max_connections)
    assert max_conn.source == "configuration file"  # the test servers set it
    assert (lim.setting("reserved_connections") is not None) == (pg_server.major >= 16)


async def test_settings_show_the_servers_values(pg_server: PostgresServer) -> None:
    """What a DBA needs: the timeouts applications get, not the ones pgtop chose for itself."""
    lim = (await _poll_once(pg_server)).limits
    conn = await pg_server.admin_connect()
    try:
        for name in ("statement_timeout", "lock_timeout", "idle_in_transaction_session_timeout"):
            row = await conn.fetchrow(
                "SELECT setting, source FROM pg_settings WHERE name = $1", name
            )
            s = lim.setting(name)
            assert s is not None
            assert (s.value, s.source) == (row["setting"], row["source"]), name
    finally:
        await conn.close()


# -- privileges ------------------------------------------------------------------------------


async def test_monitor_role_sees_everything(
    pg_server: PostgresServer, workload: SessionFactory
) -> None:
    active = await workload.active_sleep(60)
    in_tx = await workload.idle_in_transaction(user=PLAIN_USER.name, dbname="postgres")
    snap = await _poll_once(pg_server, MONITOR.name)
    assert snap.server.can_see_all
    assert snap.server.current_user == MONITOR.name
    sessions = by_pid(snap)
    assert sessions[active].query == "SELECT pg_sleep(60.0)"
    assert sessions[active].state == "active"
    assert sessions[in_tx].state == "idle in transaction"
    assert sessions[in_tx].user == PLAIN_USER.name


async def test_plain_user_gets_a_limited_view(
    pg_server: PostgresServer, workload: SessionFactory
) -> None:
    others = [await workload.active_sleep(60), await workload.idle_in_transaction()]
    mine = await workload.idle(user=PLAIN_USER.name, dbname=SHOP_DB)
    snap = await _poll_once(pg_server, PLAIN_USER.name)  # must not raise
    assert not snap.server.can_see_all
    assert snap.server.current_user == PLAIN_USER.name
    sessions = by_pid(snap)
    for pid in others:
        s = sessions[pid]
        assert s.query == "<insufficient privilege>"
        assert s.state is None
        assert s.xact_start is None
        assert s.blocked_by == ()
        assert s.database == SHOP_DB  # still listed, with what the server does show
    assert sessions[mine].state == "idle"
    assert sessions[mine].query == "SELECT pg_backend_pid()"


async def test_plain_user_still_counts_hidden_sessions(
    pg_server: PostgresServer, workload: SessionFactory
) -> None:
    """A limited view hides queries and states, but the connections still use slots: the
    database totals and connection-limit usage must include them (states as "other")."""
    await workload.active_sleep(60)
    await workload.idle_in_transaction()
    await workload.idle(user=LIMITED_ROLE.name)
    await workload.idle(user=PLAIN_USER.name, dbname=SHOP_DB)
    snap = await _poll_once(pg_server, PLAIN_USER.name)
    shop = next(d for d in snap.databases if d.name == SHOP_DB)
    assert shop.counts.other >= 3
    assert shop.counts.total >= 4
    roles = {r.name: r for r in snap.limits.roles}
    assert roles[LIMITED_ROLE.name].current == 1


# -- connection loss -------------------------------------------------------------------------


async def test_server_restart_then_reconnect(make_postgres: Callable[..., PostgresServer]) -> None:
    server = make_postgres()
    async with collector(server) as c:
        first = await c.poll()
        assert c.connected
        # Blocks the event loop on purpose: the collector has not yet read the
        # server's goodbye when it polls next, as after a network blip.
        server.restart(mode="fast")
        with pytest.raises(CollectError) as info:
            await c.poll()
        message = str(info.value)
        assert message and "\n" not in message
        assert f"{server.host}:{server.port}" in message
        assert SUPERUSER.password not in message and MONITOR.password not in message
        second = await c.poll()  # reconnects by itself
        assert c.connected
        assert second.own_pids != first.own_pids
        assert second.server.start_time is not None and first.server.start_time is not None
        assert second.server.start_time > first.server.start_time
        assert second.own_pids[0] not in by_pid(second)


async def test_connect_errors_are_one_line(pg_server: PostgresServer) -> None:
    settings = conn_settings(pg_server, MONITOR.name).with_overrides(password="Wr0ng-pw-7781")
    c = PostgresCollector(settings, connect_timeout=3)
    with pytest.raises(CollectError) as info:
        await c.poll()
    assert info.value.kind == "auth"
    assert "password authentication failed" in str(info.value)
    assert "\n" not in str(info.value) and "Wr0ng-pw-7781" not in str(info.value)
    bad_db = PostgresCollector(conn_settings(pg_server, MONITOR.name, "no_such_db"))
    with pytest.raises(CollectError) as info:
        await bad_db.poll()
    assert "no_such_db" in str(info.value) and "does not exist" in str(info.value)
    assert "\n" not in str(info.value)
