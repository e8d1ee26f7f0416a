"""Lock waiters and their blockers as PostgresCollector reads them from real servers.

pg_blocking_pids() is reused between polls (collect/blockers.py); these tests move the
locks between two polls, as churn does, and check that every waiter of the second poll
has the blockers the server names at that moment.
"""

from __future__ import annotations

import asyncio
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from test_cli_once import arun_pgtop, clean_env, home, once_json, parse_ok, server_args
from test_collect_postgres import by_pid, collector

from pgtop.collect import blockers
from pgtop.collect.postgres import load_query
from pgtop.model import changes as changes_module
from pgtop.model.locks import blocking_tree, waiters_behind
from support import MONITOR, PLAIN_USER, PostgresServer, SessionFactory

__all__ = ["home"]  # a fixture, from test_cli_once


def clean_env_for(home: Path) -> dict[str, str]:
    return clean_env(home, PGPASSWORD=MONITOR.password)


async def test_waiters_have_their_blockers_in_the_poll_that_first_sees_their_wait(
    pg_server: PostgresServer, workload: SessionFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    # However slow this machine, the second poll falls inside the reuse window.
    monkeypatch.setattr(blockers, "REUSE_FOR", 120.0)
    t1, t2, t3, t4 = [await workload.new_table() for _ in range(4)]
    h1, h1_conn = await workload.lock_holder(t1, name="h1")
    h2, _ = await workload.lock_holder(t2, name="h2")
    h3, _ = await workload.lock_holder(t3, name="h3")
    h4, _ = await workload.lock_holder(t4, name="h4")
    # Next in the same statement (one simple query): the same wait, as far as
    # pg_stat_activity tells (same state_change, same wait event), on another lock.
    same_statement = [
        await workload.lock_waiter(f"SELECT count(*) FROM {t1}; SELECT count(*) FROM {t2}")
        for _ in range(4)
    ]
    # Next in another statement: a new wait.
    next_statement = [
        await workload.lock_waiter(f"SELECT count(*) FROM {t1}", f"SELECT count(*) FROM {t3}")
        for _ in range(4)
    ]
    async with collector(pg_server) as c:
        first = by_pid(await c.poll())
        for pid in same_statement + next_statement:
            assert first[pid].blocked_by == (h1,)
        await h1_conn.execute("COMMIT")  # h1 stays connected, idle
        for pid in same_statement:
            await workload.blocked(pid, by=h2)
        for pid in next_statement:
            await workload.blocked(pid, by=h3)
        arrived = [await workload.lock_waiter(f"SELECT count(*) FROM {t4}") for _ in range(6)]
        second = await c.poll()
        # Nothing moved since: every waiter keeps its blockers, reused, not asked again.
        third = await c.poll()
    for snap in (second, third):
        assert [s.pid for s in snap.sessions if s.waits_on_lock and not s.blocked_by] == []
    assert {pid: by_pid(third)[pid].blocked_by for pid in arrived} == dict.fromkeys(arrived, (h4,))
    sessions = by_pid(second)
    assert sessions[h1].blocked_by == ()
    assert {pid: sessions[pid].blocked_by for pid in same_statement} == dict.fromkeys(
        same_statement, (h2,)
    )
    assert {pid: sessions[pid].blocked_by for pid in next_statement} == dict.fromkeys(
        next_statement, (h3,)
    )
    assert {pid: sessions[pid].blocked_by for pid in arrived} == dict.fromkeys(arrived, (h4,))


async def test_a_three_level_chain_as_the_server_reports_it(
    pg_server: PostgresServer, workload: SessionFactory
) -> None:
    tree = await workload.lock_tree()
    async with collector(pg_server) as c:
        snap = await c.poll()
    sessions = by_pid(snap)
    assert sessions[tree.middle].blocked_by == (tree.root,)
    for leaf in tree.leaves:
        assert sessions[leaf].blocked_by == (tree.middle,)
    assert waiters_behind(snap.sessions)[tree.root] == 3
    assert waiters_behind(snap.sessions)[tree.middle] == 2
    rows = [(r.session.pid, r.depth) for r in blocking_tree(snap.sessions)]
    assert rows[:2] == [(tree.root, 0), (tree.middle, 1)]
    assert sorted(rows[2:4]) == sorted((leaf, 2) for leaf in tree.leaves)


# -- pgtop --once: the JSON a script reads ----------------------------------------------------


async def _churn_between_two_polls(
    server: PostgresServer, workload: SessionFactory, home: Path
) -> tuple[dict[str, Any], dict[str, list[int]], datetime]:
    """Runs `pgtop --once` and, between its two polls, frees one lock and has waiters
    queue on others. Returns its JSON, who should block whom, and when churn was done."""
    t1, t2, t3, t4 = [await workload.new_table() for _ in range(4)]
    h1, h1_conn = await workload.lock_holder(t1, name="h1")
    holders = {t: (await workload.lock_holder(t, name="h"))[0] for t in (t2, t3, t4)}
    same = [
        await workload.lock_waiter(f"SELECT count(*) FROM {t1}; SELECT count(*) FROM {t2}")
        for _ in range(3)
    ]
    nxt = [
        await workload.lock_waiter(f"SELECT count(*) FROM {t1}", f"SELECT count(*) FROM {t3}")
        for _ in range(3)
    ]
    admin = await workload.admin()
    # Its second poll comes 4 s after the first: inside the 5 s a blocker list is reused.
    proc = asyncio.ensure_future(
        arun_pgtop([*server_args(server), *once_json(), "--refresh", "4"], clean_env_for(home))
    )
    await workload.wait_for(  # its first poll is done: the sessions query ran
        "SELECT EXISTS (SELECT FROM pg_stat_activity WHERE application_name = 'pgtop'"
        " AND state = 'idle' AND starts_with(query, $1))",
        load_query("sessions").splitlines()[0],
        timeout=20,
    )
    await h1_conn.execute("COMMIT")
    for pid in same:
        await workload.blocked(pid, by=holders[t2])
    for pid in nxt:
        await workload.blocked(pid, by=holders[t3])
    arrived = [await workload.lock_waiter(f"SELECT count(*) FROM {t4}") for _ in range(3)]
    done = await admin.fetchval("SELECT clock_timestamp()")
    data = parse_ok(await proc)
    expected = {
        **{str(p): [holders[t2]] for p in same},
        **{str(p): [holders[t3]] for p in nxt},
        **{str(p): [holders[t4]] for p in arrived},
        str(h1): [],
    }
    return data, expected, done


async def test_once_json_gives_every_lock_waiter_its_blockers_under_churn(
    primary_pg: PostgresServer, primary_workload: SessionFactory, home: Path
) -> None:
    for _attempt in range(3):
        data, expected, churn_done = await _churn_between_two_polls(
            primary_pg, primary_workload, home
        )
        polled = datetime.fromisoformat(data["server"]["snapshot_time"])
        if churn_done < polled:
            break  # else this machine was too slow to churn between the polls: again
        await primary_workload.close()
    else:
        pytest.fail("could not churn between pgtop's two polls in three attempts")
    sessions = {str(s["pid"]): s for s in data["sessions"]}
    waiting = [s for s in data["sessions"] if s["wait_event_type"] == "Lock"]
    assert len(waiting) >= 9
    assert [s["pid"] for s in waiting if not s["blocked_by"]] == []
    assert {pid: sessions[pid]["blocked_by"] for pid in expected} == expected


async def test_once_json_tells_unknown_blockers_from_none(
    primary_pg: PostgresServer, primary_workload: SessionFactory, home: Path
) -> None:
    tree = await primary_workload.lock_tree()
    idle = await primary_workload.idle()
    full = parse_ok(await arun_pgtop([*server_args(primary_pg), *once_json()], clean_env_for(home)))
    sessions = {s["pid"]: s for s in full["sessions"]}
    assert sessions[tree.root]["blocked_by"] == []  # nobody
    assert sessions[idle]["blocked_by"] == []
    assert sessions[tree.middle]["blocked_by"] == [tree.root]
    for leaf in tree.leaves:
        assert sessions[leaf]["blocked_by"] == [tree.middle]
    # Without pg_monitor, whether others' sessions wait is hidden: unknown, not nobody.
    limited = parse_ok(
        await arun_pgtop(
            [*server_args(primary_pg, PLAIN_USER.name), *once_json()],
            clean_env(home, PGPASSWORD=PLAIN_USER.password),
        )
    )
    hidden = {s["pid"]: s for s in limited["sessions"]}
    for pid in (tree.root, tree.middle, *tree.leaves, idle):
        assert hidden[pid]["state"] is None
        assert hidden[pid]["blocked_by"] is None


async def test_what_the_collector_says_changed_is_what_changed(
    pg_server: PostgresServer, workload: SessionFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The memos downstream (findings, the sessions pane) take the collector's word for
    # which session objects came and went (model/changes.py): poll after poll, as
    # waiters come, are handed out again, get their lock, and sessions come and go, that
    # word must match what comparing the listings says.
    monkeypatch.setattr(blockers, "REUSE_FOR", 120.0)
    t1, t2 = await workload.new_table(), await workload.new_table()
    _, h1_conn = await workload.lock_holder(t1, name="h1")
    await workload.lock_holder(t2, name="h2")
    idle_conn = await workload.connect(application_name="notes-idle")
    steps = [
        lambda: workload.lock_waiter(f"SELECT count(*) FROM {t1}"),
        lambda: workload.lock_waiter(f"SELECT count(*) FROM {t1}; SELECT count(*) FROM {t2}"),
        lambda: idle_conn.execute("SELECT 1"),  # an idle session that moved
        lambda: workload.idle(),  # a session that came
        lambda: h1_conn.execute("COMMIT"),  # waiters on t1 now wait on t2 or got it
        lambda: idle_conn.close(),  # a session that left
        lambda: asyncio.sleep(0),  # nothing: waiters handed out again as they were
    ]
    async with collector(pg_server) as c:
        objs = changes_module.changes({}, (await c.poll()).sessions).objs
        for step in steps:
            await step()
            listing = (await c.poll()).sessions
            noted = changes_module._from_note(objs, listing)
            assert noted is not None, "the collector's note was not taken"
            compared = changes_module.Changes(
                {id(s): s for s in listing},
                objs.keys() - {id(s) for s in listing},
                {id(s) for s in listing} - objs.keys(),
            )
            assert (noted.objs, noted.gone, noted.came) == (
                compared.objs,
                compared.gone,
                compared.came,
            )
            objs = changes_module.changes(objs, listing).objs
