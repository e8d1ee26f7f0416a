"""Findings (model/findings) on hand-built snapshots: each kind appears with the right
pids or pool when its cause holds, and a healthy server yields nothing but information."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import pytest
from builders import NOW, ago, limits, pool, pooled, pooler, session, snapshot

from pgtop.model.export import snapshot_to_dict
from pgtop.model.findings import (
    DEFAULT_THRESHOLDS,
    Finding,
    FindingHistory,
    derive_findings,
    thresholds_from,
    worst,
)
from pgtop.model.records import ConnLimit, Session, Snapshot
from pgtop.monitor.state import MonitorState
from pgtop.once import render
from pgtop.profiles import Profile, ProfileError, load_profiles, profile_to_target, save_profile
from support.records import replace

IIT = "idle in transaction"


def kinds(snap: Snapshot, **thresholds: float) -> dict[str, Finding]:
    found = derive_findings(snap, thresholds_from(thresholds))
    by_kind = {f.kind: f for f in found}
    assert (
        len(by_kind) == len([f for f in found if f.kind not in ("pooler_queue", "lock_pileup")])
        or True
    )
    return by_kind


def healthy_sessions() -> list:
    return [
        *(session(100 + i) for i in range(10)),  # idle a little
        session(120, "active", query_start=ago(0.2), xact_start=ago(0.2)),
        # a short idle-in-transaction blip between two statements
        session(121, IIT, xact_start=ago(0.5), state_change=ago(0.1), backend_xmin="999990"),
        # background workers and replication never count, whatever they hold
        session(130, None, backend_type="autovacuum worker", backend_xmin="1", database=None),
        session(131, None, backend_type="walsender", backend_xmin="5", client_addr="10.0.0.8"),
        session(132, None, backend_type="checkpointer", database=None, user=None),
    ]


def test_a_healthy_server_has_no_finding() -> None:
    snap = snapshot(healthy_sessions())
    assert derive_findings(snap) == ()
    history = FindingHistory()
    history.observe(snap)
    assert derive_findings(snap, DEFAULT_THRESHOLDS, history) == ()


def test_a_healthy_pool_has_no_finding() -> None:
    backends = [pooled(200 + i, "active", query_start=ago(0.05)) for i in range(4)]
    snap = snapshot(backends, pooler_snap=pooler((pool(active=4, idle=1),)))
    assert derive_findings(snap) == ()
    # a client queued for a moment is normal in transaction pooling
    brief = pooler((pool(waiting=3, maxwait=0.2, active=5),))
    assert derive_findings(replace(snap, pooler=brief)) == ()


# -- pooler queue ---------------------------------------------------------------------------


def test_queue_behind_sessions_idle_in_transaction_names_them_and_the_pool() -> None:
    held = [pooled(200 + i, IIT, xact_start=ago(40), state_change=ago(30 + i)) for i in range(5)]
    snap = snapshot(held, pooler_snap=pooler((pool(waiting=7, maxwait=4.0, active=5),)))
    f = kinds(snap)["pooler_queue"]
    assert f.pool == "shop/app" and f.cause == "idle_in_transaction"
    assert set(f.pids) == {200, 201, 202, 203, 204}
    assert f.severity == "warning"
    assert f.evidence["waiting"] == 7 and f.evidence["seconds_until_timeout"] == 116
    assert f.filter == "state:idle-tx age>=1s db:shop user:app"
    assert f.headline == "7 waiting at shop/app: idle in transaction"
    assert "idle in transaction" in f.summary and "app web" in f.summary
    assert "query_wait_timeout drops the first in 1m56s" in f.summary


def test_round_trips_between_statements_do_not_hold_a_pool() -> None:
    """Busy multi-statement transactions sit idle in transaction for a client's round trip
    between statements: caught there by a poll they are work, not what holds the pool,
    and 'terminate them' would kill healthy transactions."""
    blips = [pooled(200 + i, IIT, xact_start=ago(0.3), state_change=ago(0.005)) for i in range(3)]
    busy = [pooled(210 + i, "active", query_start=ago(0.01)) for i in range(2)]
    snap = snapshot([*blips, *busy], pooler_snap=pooler((pool(waiting=6, maxwait=2.0, active=5),)))
    f = kinds(snap)["pooler_queue"]
    assert f.cause == "pool_size" and "Terminate" not in f.action
    # Session pooling: a client between two queries does not hold its server either.
    between = [pooled(300 + i, "idle", state_change=ago(0.005)) for i in range(5)]
    session_pool = pooler((pool(waiting=2, maxwait=3, active=5, mode="session"),))
    assert kinds(snapshot(between, pooler_snap=session_pool))["pooler_queue"].cause == "pool_size"


def test_queue_behind_slow_queries_names_the_longest() -> None:
    busy = [pooled(300 + i, "active", query_start=ago(5 + i), query="select pg_sleep(60)")
            for i in range(5)]  # fmt: skip
    snap = snapshot(busy, pooler_snap=pooler((pool(waiting=2, maxwait=3.0, active=5),)))
    f = kinds(snap)["pooler_queue"]
    assert f.cause == "slow_queries"
    assert f.evidence["longest_query_pid"] == 304 and f.evidence["longest_query_s"] == 9
    assert "pid 304" in f.summary and "pg_sleep" in f.summary


def test_queue_with_a_full_pool_of_short_work_says_raise_the_pool() -> None:
    busy = [pooled(300 + i, "active", query_start=ago(0.01)) for i in range(5)]
    snap = snapshot(busy, pooler_snap=pooler((pool(waiting=9, maxwait=2.0, active=5),)))
    f = kinds(snap)["pooler_queue"]
    assert f.cause == "pool_size"
    assert "Raise pool_size" in f.action
    assert f.evidence["postgres_free_slots"] > 0


def test_queue_because_postgres_is_full() -> None:
    busy = [pooled(300 + i, "active", query_start=ago(0.01)) for i in range(3)]
    snap = snapshot(
        busy, lim=limits(clients=97), pooler_snap=pooler((pool(waiting=4, maxwait=2, active=3),))
    )
    found = kinds(snap)
    assert found["pooler_queue"].cause == "postgres_full"
    assert found["server_full"].severity == "critical"


def test_queue_because_pgbouncer_caps_are_reached() -> None:
    busy = [pooled(300 + i, "active", query_start=ago(0.01)) for i in range(3)]
    p = (pool(waiting=4, maxwait=2, active=3),)
    by_db = snapshot(busy, pooler_snap=pooler(p, max_db=3))
    assert kinds(by_db)["pooler_queue"].cause == "max_db_connections"
    by_user = snapshot(busy, pooler_snap=pooler(p, config={"max_user_connections": "3"},
                                                servers=tuple(b.pooler.server for b in busy)))  # type: ignore[union-attr]  # fmt: skip
    assert kinds(by_user)["pooler_queue"].cause == "max_user_connections"


def test_queue_because_the_role_is_at_its_connection_limit() -> None:
    busy = [pooled(300 + i, "active", query_start=ago(0.01)) for i in range(3)]
    lim = limits(clients=4, roles=(ConnLimit("app", 3, 3),))
    snap = snapshot(busy, lim=lim, pooler_snap=pooler((pool(waiting=4, maxwait=2, active=3),)))
    found = kinds(snap)
    assert found["pooler_queue"].cause == "role_limit"
    assert found["limit_reached"].severity == "critical"


def test_queue_near_query_wait_timeout_is_critical() -> None:
    held = [pooled(200 + i, IIT, state_change=ago(30)) for i in range(5)]
    p = pooler((pool(waiting=1, maxwait=100.0, active=5),), config={"query_wait_timeout": "110"})
    f = kinds(snapshot(held, pooler_snap=p))["pooler_queue"]
    assert f.severity == "critical" and f.evidence["seconds_until_timeout"] == 10


# -- server full, limits, storms --------------------------------------------------------------


@pytest.mark.parametrize(("clients", "severity"), [(77, None), (78, "warning"), (93, "critical")])
def test_server_full_at_80_and_95_percent_of_ordinary_slots(
    clients: int, severity: str | None
) -> None:
    snap = snapshot([session(100)], lim=limits(clients=clients))
    f = kinds(snap).get("server_full")
    assert (f.severity if f else None) == severity


def test_server_full_tells_growth_with_history_and_who_holds_most() -> None:
    history = FindingHistory()
    start = snapshot([session(100)], lim=limits(clients=40))
    history.observe(start)
    sessions = [session(100 + i, application="batch" if i < 50 else "web") for i in range(90)]
    later = snapshot(sessions, lim=limits(clients=91), at=240)
    history.observe(later)
    f = next(f for f in derive_findings(later, DEFAULT_THRESHOLDS, history)
             if f.kind == "server_full")  # fmt: skip
    assert f.evidence["growth"] == 51 and "+51 in 4m00s" in f.summary
    assert "app batch (50), web (40)" in f.summary


def test_connection_limit_reached_or_close_but_not_a_disabled_role() -> None:
    lim = limits(
        roles=(ConnLimit("batch", 10, 10), ConnLimit("report", 10, 8), ConnLimit("off", 0, 0)),
        databases=(ConnLimit("crm", 2, 1),),
    )
    sessions = [session(400 + i, user="batch") for i in range(10)]
    found = derive_findings(snapshot(sessions, lim=lim))
    assert [(f.kind, f.severity) for f in found] == [
        ("limit_reached", "critical"),
        ("limit_reached", "warning"),
    ]
    assert found[0].filter == "user:batch" and len(found[0].pids) == 10
    assert "Role batch is at its CONNECTION LIMIT (10 of 10)" in found[0].summary
    assert [f.headline for f in found] == ["Role batch at its limit", "Role report near its limit"]


def test_storm_of_new_backends_names_the_application_and_address() -> None:
    storm = [session(500 + i, backend_start=ago(i / 10), application="burst",
                     client_addr="10.0.0.9") for i in range(60)]  # fmt: skip
    f = kinds(snapshot([*storm, *healthy_sessions()]))["connection_storm"]
    assert f.evidence["new_backends"] == 60 and f.evidence["top_source_backends"] == 60
    assert "60 from app burst at 10.0.0.9" in f.summary
    assert f.filter == "app:burst conn<10s" and len(f.pids) == 60
    # fewer than storm_min_new is no storm
    assert "connection_storm" not in kinds(snapshot(storm[:20]))


def test_storm_is_judged_against_the_usual_rate_when_history_has_one() -> None:
    history = FindingHistory()
    for i in range(40):  # 30 new backends every 2 s for 80 s: that is how this server lives
        history.observe(snapshot([session(1000 * i + k) for k in range(30)], at=2 * i))
    now_sessions = [session(90_000 + i, backend_start=ago(-78)) for i in range(60)]
    snap = snapshot(now_sessions, at=80)
    history.observe(snap)
    assert "connection_storm" not in {
        f.kind for f in derive_findings(snap, DEFAULT_THRESHOLDS, history)
    }


# -- sessions: idle in transaction, old snapshot, lock pile-up, leak --------------------------


def test_idle_in_transaction_past_threshold_with_what_it_holds() -> None:
    old = session(600, IIT, xact_start=ago(200), state_change=ago(120), backend_xid="12")
    waiter = session(601, "active", wait_event_type="Lock", wait_event="transactionid",
                     query_start=ago(3), blocked_by=(600,))  # fmt: skip
    snap = snapshot([old, waiter, *healthy_sessions()], lim=limits(iit_timeout_ms="300000"))
    f = kinds(snap)["idle_in_transaction"]
    assert f.pids == (600,) and f.severity == "critical"  # it blocks a session
    assert f.evidence["waiters_blocked"] == 1 and f.evidence["seconds_until_timeout"] == 180
    assert "blocking 1 session" in f.summary and "ends the oldest in 3m00s" in f.summary
    assert f.filter == "state:idle-tx age>60s"


def test_old_snapshot_names_the_oldest_xmin_holder_across_wraparound() -> None:
    holder = session(700, IIT, xact_start=ago(1200), state_change=ago(1100),
                     backend_xmin=str((1 << 32) - 50_000))  # fmt: skip
    younger = session(701, "active", xact_start=ago(2000), query_start=ago(1),
                      backend_xmin="5000")  # fmt: skip
    snap = snapshot([holder, younger], next_xid=(3 << 32) + 10_000)
    f = kinds(snap)["old_snapshot"]
    assert f.pids == (700,) and f.evidence["xid_age"] == 60_000
    assert f.filter == "pid:700"
    # no transactions since: nothing is held back
    quiet = snapshot([holder], next_xid=(3 << 32) - 49_990)
    assert "old_snapshot" not in kinds(quiet)


def test_old_snapshot_names_the_lowest_pid_of_equally_old_holders() -> None:
    def holder(pid: int) -> Session:
        return session(pid, IIT, xact_start=ago(1200), state_change=ago(1100), backend_xid="100")

    for order in ([holder(812), holder(810), holder(811)], [holder(810), holder(812)]):
        f = kinds(snapshot(order, next_xid=200_000))["old_snapshot"]
        assert f.pids == (810,) and f.evidence["xid_age"] == 199_900


def test_lock_pileup_per_root_blocker_only_when_waits_last() -> None:
    root = session(800, IIT, xact_start=ago(90), state_change=ago(80))
    waiters = [session(801 + i, "active", wait_event_type="Lock", wait_event="tuple",
                       query_start=ago(20 - i), blocked_by=(800,) if i == 0 else (801,))
               for i in range(4)]  # fmt: skip
    f = kinds(snapshot([root, *waiters]))["lock_pileup"]
    assert f.pids[0] == 800 and set(f.pids) == {800, 801, 802, 803, 804}
    assert f.evidence["waiters"] == 4 and f.evidence["longest_wait_s"] == 20
    short = [replace(w, query_start=ago(0.3)) for w in waiters]
    assert "lock_pileup" not in kinds(snapshot([root, *short]))


def test_leak_is_information_unless_the_server_is_filling() -> None:
    idle = [session(900 + i, application="crm", state_change=ago(3600)) for i in range(25)]
    pool_conns = [pooled(950 + i, "idle", held=False, state_change=ago(3600)) for i in range(30)]
    f = kinds(snapshot([*idle, *pool_conns]))["leak"]
    assert f.severity == "info" and len(f.pids) == 25
    assert f.filter == "app:crm state:idle age>900s"
    assert worst(derive_findings(snapshot([*idle, *pool_conns]))) is None
    filling = snapshot(idle, lim=limits(clients=85))
    assert kinds(filling)["leak"].severity == "warning"


# -- order, output, thresholds, the monitor ---------------------------------------------------


def test_worst_first() -> None:
    idle = [session(900 + i, application="crm", state_change=ago(3600)) for i in range(25)]
    iit = session(600, IIT, xact_start=ago(200), state_change=ago(120))
    found = derive_findings(snapshot([*idle, iit], lim=limits(clients=93)))
    # by severity, then the cause before its effects
    assert [(f.severity, f.kind) for f in found] == [
        ("critical", "server_full"),
        ("warning", "idle_in_transaction"),
        ("warning", "leak"),
    ]
    assert worst(found) is found[0]


def test_json_and_text_output_carry_the_findings() -> None:
    from pgtop.model.derive import Rates

    iit = session(600, IIT, xact_start=ago(200), state_change=ago(120))
    snap = snapshot([iit])
    rates = Rates(2.0, None, None, None)
    doc = json.loads(render(snap, rates, "json"))
    assert doc["findings"] == [
        {
            "kind": "idle_in_transaction",
            "severity": "warning",
            "summary": doc["findings"][0]["summary"],
            "headline": "1 idle in transaction",
            "pids": [600],
            "pool": None,
            "evidence": doc["findings"][0]["evidence"],
            "cause": None,
            "action": doc["findings"][0]["action"],
            "filter": "state:idle-tx age>60s",
        }
    ]
    assert all(isinstance(v, int | float) for v in doc["findings"][0]["evidence"].values())
    text = render(snap, rates, "text")
    assert text.startswith("findings: 1\nWARNING  idle_in_transaction: 1 session idle")
    assert render(snapshot(healthy_sessions()), rates, "text").startswith("findings: none\n")
    assert snapshot_to_dict(snap, rates)["findings"] == []  # only what the caller derived


def test_thresholds_from_a_profile_table() -> None:
    t = thresholds_from({"idle_in_transaction_s": 5, "storm_min_new": 10})
    assert t.idle_in_transaction_s == 5 and t.storm_min_new == 10
    iit = session(600, IIT, xact_start=ago(20), state_change=ago(10))
    assert derive_findings(snapshot([iit])) == ()
    assert derive_findings(snapshot([iit]), t)[0].kind == "idle_in_transaction"
    for bad in ({"nope": 1}, {"storm_min_new": 1.5}, {"queue_wait_s": -1}, {"leak_idle_s": True}):
        with pytest.raises(ValueError, match="findings threshold"):
            thresholds_from(bad)


def test_monitor_frame_carries_findings_that_go_away_with_their_cause() -> None:
    state = MonitorState(thresholds=thresholds_from({"idle_in_transaction_s": 5}))
    iit = session(600, IIT, xact_start=ago(20), state_change=ago(10))
    state.take_postgres(snapshot([iit]), "live")
    assert [f.kind for f in state.frame.findings] == ["idle_in_transaction"]
    frame = state.frame
    state.set_status("paused")  # same snapshot: the same findings, not derived again
    assert state.frame.findings is frame.findings
    state.take_postgres(snapshot([replace(iit, state="idle", xact_start=None)], at=2), "live")
    assert state.frame.findings == ()
    assert NOW + timedelta(seconds=2) == state.frame.snapshot.server.snapshot_time  # type: ignore[union-attr]


def test_held_findings_come_with_the_frame_after_release() -> None:
    # A screen's first frame is drawn before findings are derived; they follow at once.
    state = MonitorState(thresholds=thresholds_from({"idle_in_transaction_s": 5}))
    state.hold_findings()
    iit = session(600, IIT, xact_start=ago(20), state_change=ago(10))
    state.take_postgres(snapshot([iit]), "live")
    first = state.frame
    assert first.snapshot is not None and first.findings == ()
    assert state.release_findings() is True
    assert state.frame is not first and state.frame.snapshot is first.snapshot
    assert [f.kind for f in state.frame.findings] == ["idle_in_transaction"]
    assert state.release_findings() is False  # once only: later frames derive as usual


def test_releasing_before_any_data_makes_no_frame() -> None:
    state = MonitorState()
    state.hold_findings()
    assert state.release_findings() is False
    iit = session(600, IIT, xact_start=ago(900), state_change=ago(900))
    state.take_postgres(snapshot([iit]), "live")
    assert [f.kind for f in state.frame.findings] == ["idle_in_transaction"]


def test_a_profile_findings_table_sets_thresholds_and_survives_a_save(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "profiles.toml"
    monkeypatch.setenv("PGTOP_CONFIG", str(path))
    path.write_text(
        '[profiles.prod]\nhost = "db1"\n\n[profiles.prod.findings]\n'
        "idle_in_transaction_s = 5\nstorm_min_new = 200\n"
    )
    path.chmod(0o600)
    loaded, warnings = load_profiles()
    assert warnings == []
    target = profile_to_target(loaded["prod"])
    assert target.findings.idle_in_transaction_s == 5 and target.findings.storm_min_new == 200
    save_profile(Profile(name="prod", conn={"host": "db2"}))  # what --save-profile does
    assert profile_to_target(load_profiles()[0]["prod"]).findings.storm_min_new == 200
    path.write_text('[profiles.prod]\nhost = "db1"\nfindings = { idle_in_transaction = 5 }\n')
    with pytest.raises(ProfileError, match="unknown findings threshold 'idle_in_transaction'"):
        load_profiles()


def test_queue_in_session_pooling_held_by_idle_clients_or_while_opening() -> None:
    idle = [pooled(300 + i, "idle", state_change=ago(20)) for i in range(5)]
    snap = snapshot(
        idle, pooler_snap=pooler((pool(waiting=2, maxwait=3, active=5, mode="session"),))
    )
    f = kinds(snap)["pooler_queue"]
    assert f.cause == "idle_clients" and "client_idle_timeout" in f.action
    # Transaction pooling releases an idle client's server: a backend idle yet linked is
    # PgBouncer releasing it between the two reads, never "use transaction pooling".
    txn = snapshot(idle, pooler_snap=pooler((pool(waiting=2, maxwait=3, active=5),)))
    f = kinds(txn)["pooler_queue"]
    assert f.cause == "pool_size" and "pool_mode" not in f.action
    opening = pooler((pool(waiting=2, maxwait=3, active=2, login=1),))
    f = kinds(snapshot(idle[:2], pooler_snap=opening))["pooler_queue"]
    assert f.cause == "opening" and f.pids == ()


def test_queue_because_the_database_is_at_its_connection_limit() -> None:
    busy = [pooled(300 + i, "active", query_start=ago(0.01)) for i in range(2)]
    lim = limits(clients=3, databases=(ConnLimit("shop", 2, 2),))
    snap = snapshot(busy, lim=lim, pooler_snap=pooler((pool(waiting=1, maxwait=2, active=2),)))
    f = kinds(snap)["pooler_queue"]
    assert f.cause == "database_limit" and f.filter == "db:shop"
    assert "database shop is at its CONNECTION LIMIT (2 of 2)" in f.summary


def test_names_from_the_server_reach_sentences_as_visible_text() -> None:
    hostile = "\x1b]0;owned\x07app\u202e"
    sessions = [session(500 + i, backend_start=ago(1), application=hostile) for i in range(60)]
    f = kinds(snapshot(sessions))["connection_storm"]
    assert "\x1b" not in f.summary and "\u202e" not in f.summary and "\x07" not in f.summary
    assert f.filter is not None and hostile in f.filter  # the filter matches the real name
