"""model/codec.py: snapshots to compact dicts and back, and frame deltas."""

from __future__ import annotations

import copy
import itertools
import json
from datetime import timedelta, timezone

import pytest
from builders import NOW, ago, session

from pgtop.model import pooler_records, records
from pgtop.model.codec import (
    CodecError,
    SessionMemo,
    apply,
    delta,
    from_compact,
    is_delta,
    layout,
    record_fields,
    to_compact,
)
from pgtop.model.pooler_join import link_sessions
from pgtop.model.pooler_records import (
    Pool,
    PoolerClient,
    PoolerDatabase,
    PoolerServer,
    PoolerSnapshot,
    PoolerStats,
)
from pgtop.model.records import (
    ConnLimit,
    DatabaseStat,
    Limits,
    Lock,
    ServerInfo,
    Setting,
    Snapshot,
    StateCounts,
)
from support.records import replace


def snapshot(sessions: list, *, at: float = 0.0, pooler: bool = True, **changes) -> Snapshot:  # type: ignore[no-untyped-def]
    server = ServerInfo(
        version="16.4",
        version_num=160004,
        host="db1:5432",
        start_time=ago(86400),
        in_recovery=False,
        snapshot_time=NOW + timedelta(seconds=at),
        max_connections=100,
        current_user="postgres",
    )
    limits = Limits(
        max_connections=100,
        superuser_reserved_connections=3,
        reserved_connections=None,
        client_connections=len(sessions),
        roles=(ConnLimit("app", 50, 12),),
        databases=(ConnLimit("shop", -1, 10),),
        settings=(Setting("max_connections", "100", None, "configuration file", False),),
    )
    pool = Pool("shop", "app", 3, 1, 2, 1, 0, 0, 0, 0.25, "transaction", {"x": 1})
    pooler_snap = PoolerSnapshot(
        version="1.23.1",
        address="db1:6432",
        pools=(pool,),
        stats=(PoolerStats("shop", 10, 20, 30, 40, 50, 60, 70),),
        databases=(
            PoolerDatabase("shop", "db1", 5432, "shop", 20, 0, 5, None, 0, 3, False, False),
        ),
        config={"max_client_conn": "100", "pool_mode": "transaction"},
        clients=4,
        servers=3,
        polled_at=NOW + timedelta(seconds=at, milliseconds=3),
    )
    snap = Snapshot(
        server=server,
        sessions=tuple(sessions),
        databases=(DatabaseStat("shop", -1, True, StateCounts(1, 2, 0, 0, 0, 0, 3), 100, 2),),
        limits=limits,
        own_pids=(99,),
        pooler=pooler_snap if pooler else None,
    )
    return replace(snap, **changes)


SESSIONS = [
    session(101),
    session(102, "active", query="select pg_sleep(10)", xact_start=ago(5), query_id=-42),
    session(103, "idle in transaction", blocked_by=(101, 102), backend_xid="7521"),
    session(104, None, client_addr=None, client_port=-1, query="", backend_type="walsender"),
]


def roundtrip(snap: Snapshot) -> Snapshot:
    # Through JSON text, as the file holds it: the dict must be JSON-native.
    return from_compact(json.loads(json.dumps(to_compact(snap))))


def test_roundtrip_is_exact() -> None:
    lock = Lock("relation", "AccessShareLock", True, "public.t", "")
    snap = snapshot(SESSIONS, inspected_pid=103, inspected_locks=(lock,))
    assert roundtrip(snap) == snap
    assert [s.pid for s in roundtrip(snap).sessions] == [101, 102, 103, 104]


def test_roundtrip_without_pooler_and_with_an_error() -> None:
    snap = snapshot(SESSIONS, pooler=False, pooler_error="pooler: connection refused")
    assert roundtrip(snap) == snap


def test_compact_dict_survives_json_unchanged() -> None:
    d = to_compact(snapshot(SESSIONS))
    assert json.loads(json.dumps(d)) == d
    assert next(iter(d)) == "t"  # readers find the time in the first bytes


def test_other_time_zones_keep_the_instant() -> None:
    tz = timezone(timedelta(hours=5, minutes=30))
    snap = snapshot([session(7, backend_start=NOW.astimezone(tz))])
    assert roundtrip(snap).sessions[0].backend_start == NOW


def changed(prev: Snapshot, new: Snapshot) -> dict:  # type: ignore[type-arg]
    a, b = to_compact(prev), to_compact(new)
    d = json.loads(json.dumps(delta(a, b)))
    out = apply(a, d)
    assert out == b and list(out["sessions"]) == list(b["sessions"])  # order too
    assert from_compact(out) == new
    return d


def test_unchanged_snapshot_delta_carries_only_time() -> None:
    d = changed(snapshot(SESSIONS), snapshot(SESSIONS, at=1))
    assert is_delta(d)
    assert d["sessions"] == {} and d["gone"] == []
    # Only "t", the delta marker, and what changes by nature (the pooler's poll time).
    assert set(d) == {"t", "delta", "sessions", "gone", "pooler"}


def test_changed_added_and_removed_sessions() -> None:
    new = [
        SESSIONS[0],
        replace(SESSIONS[1], state="idle", query="commit"),
        SESSIONS[3],
        session(105, "active"),
    ]
    d = changed(snapshot(SESSIONS), snapshot(new, at=1))
    assert set(d["sessions"]) == {"102", "105"}
    assert d["gone"] == ["103"]
    assert "order" not in d and "at" not in d


def test_new_session_in_a_middle_slot() -> None:
    new = [SESSIONS[0], session(200), SESSIONS[1], session(201), SESSIONS[3]]
    d = changed(snapshot(SESSIONS), snapshot(new, at=1))
    assert d["at"] == [[1, "200"], [3, "201"]]


def test_reordered_sessions_spell_out_the_order() -> None:
    d = changed(snapshot(SESSIONS), snapshot(list(reversed(SESSIONS)), at=1))
    assert d["order"] == ["104", "103", "102", "101"]


def test_pid_reused_in_place() -> None:
    reborn = session(102, backend_start=ago(1))
    changed(snapshot(SESSIONS), snapshot([SESSIONS[0], reborn, *SESSIONS[2:]], at=1))


def test_rarely_changing_parts_only_when_changed() -> None:
    prev = snapshot(SESSIONS)
    limits = replace(prev.limits, client_connections=3)
    d = changed(prev, snapshot(SESSIONS, at=1, limits=limits, pooler=False))
    assert "limits" in d and "server" not in d and "databases" not in d
    assert d["pooler"] is None


def test_a_chain_of_deltas_rebuilds_every_frame() -> None:
    frames = [
        snapshot(SESSIONS),
        snapshot(SESSIONS[1:], at=1),
        snapshot([*SESSIONS[1:], session(300)], at=2),
        snapshot([session(300), *SESSIONS[2:]], at=3, own_pids=(99, 98)),
    ]
    state = to_compact(frames[0])
    for prev, new in itertools.pairwise(frames):
        state = apply(state, delta(to_compact(prev), to_compact(new)))
        assert from_compact(state) == new


def test_a_memo_decodes_only_changed_rows_and_keeps_unchanged_sessions() -> None:
    """Replaying with a memo gives the same snapshots as decoding each frame in full,
    and a session no delta names is the very object of the frame before."""
    changed_one = replace(SESSIONS[1], state="active", query="select 2")
    frames = [
        snapshot(SESSIONS),
        snapshot([SESSIONS[0], changed_one, *SESSIONS[2:]], at=1),
        snapshot([changed_one, *SESSIONS[2:], session(300)], at=2),
        snapshot([changed_one, *SESSIONS[2:], session(300)], at=3),
    ]
    memo = SessionMemo()
    state = to_compact(frames[0])
    built = [from_compact(state, None, memo)]
    for prev, new in itertools.pairwise(frames):
        state = apply(state, delta(to_compact(prev), to_compact(new)))
        built.append(from_compact(state, None, memo))
    assert built == frames
    by_pid = [{s.pid: s for s in snap.sessions} for snap in built]
    assert by_pid[1][SESSIONS[0].pid] is by_pid[0][SESSIONS[0].pid]  # unchanged: kept
    assert by_pid[1][changed_one.pid] is not by_pid[0][changed_one.pid]  # changed: decoded
    assert by_pid[3][300] is by_pid[2][300]
    assert set(memo.sessions) == {str(s.pid) for s in frames[-1].sessions}  # only current rows


def test_apply_of_a_full_frame_is_that_frame() -> None:
    full = to_compact(snapshot(SESSIONS))
    assert apply(to_compact(snapshot([], at=5)), full) is full


# -- every field of every record, including ones added after this test was written -----

PLAIN = {"int": 7, "str": "x", "float": 0.5, "bool": True, "object": "o"}
RECORDS = vars(records) | vars(pooler_records)  # PostgreSQL's records and PgBouncer's


def sample(cls: type) -> object:
    """An instance of a records dataclass with every field set to a non-default value."""
    kwargs = {}
    for name, annotation in record_fields(cls).items():
        kind = annotation.replace(" | None", "").strip()
        if kind == "datetime":
            kwargs[name] = NOW
        elif kind in PLAIN:
            kwargs[name] = PLAIN[kind]
        elif kind.startswith("dict"):
            kwargs[name] = {"k": "v"}
        elif kind.startswith("tuple[") and kind[6:-6] in RECORDS:
            kwargs[name] = (sample(RECORDS[kind[6:-6]]),)
        elif kind.startswith("tuple["):
            kwargs[name] = (PLAIN.get(kind[6:-6], "x"),)
        elif kind in RECORDS:
            kwargs[name] = sample(RECORDS[kind])
        else:
            raise AssertionError(f"{cls.__name__}.{name}: codec has no case for {kind!r}")
    return cls(**kwargs)


def test_every_field_of_every_record_roundtrips() -> None:
    snap = sample(Snapshot)
    assert isinstance(snap, Snapshot)
    # Session.pooler is derived (model/pooler_join), not recorded: it comes back empty.
    expected = replace(snap, sessions=tuple(replace(s, pooler=None) for s in snap.sessions))
    assert roundtrip(snap) == expected


def test_fields_are_matched_by_name_across_versions() -> None:
    d = json.loads(json.dumps(to_compact(snapshot(SESSIONS))))
    names = layout()
    # A writer whose Session lacked the last field (blocked_by): it defaults.
    names["Session"] = names["Session"][:-1]
    d["sessions"] = {pid: row[:-1] for pid, row in d["sessions"].items()}
    back = from_compact(d, names)
    assert [s.blocked_by for s in back.sessions] == [(), (), (), ()]
    assert [s.query for s in back.sessions] == [s.query for s in SESSIONS]


# -- PgBouncer's client and server lists -------------------------------------------------

# Backend 102 was opened by PgBouncer (its client end is PgBouncer's local end) and is held
# by an application client; a second server connection sits idle in the pool.
CLIENTS = (
    PoolerClient("shop", "app", "active", "10.0.0.7", 51000, ago(60), ago(1), 0.5,
                 "0x1a", "0x2a", id=7, application_name="web-1"),
    PoolerClient("shop", "app", "idle", "unix", None, None, None, 0.0, "0x1b", None),
)  # fmt: skip
SERVERS = (
    PoolerServer("shop", "app", "active", "10.0.0.1", 5432, "10.0.0.2", 40102, ago(300),
                 ago(1), 102, "0x2a", "0x1a", id=3, application_name="web-1"),
    PoolerServer("shop", "app", "idle", "10.0.0.1", 5432, "10.0.0.2", 40999, ago(200),
                 None, 999, "0x2b", None),
)  # fmt: skip
MISSING = ("application_name in SHOW CLIENTS",)
POOLED = [*SESSIONS[:1], replace(SESSIONS[1], client_addr="10.0.0.2", client_port=40102)]


def pooled(*, at: float = 0.0, clients: tuple = CLIENTS, servers: tuple = SERVERS) -> Snapshot:  # type: ignore[type-arg]
    snap = snapshot(POOLED, at=at)
    assert snap.pooler is not None
    pooler = replace(snap.pooler, client_list=clients, server_list=servers, missing=MISSING)
    return replace(snap, pooler=pooler)


def test_pooler_lists_roundtrip_and_link_again() -> None:
    snap = pooled()
    back = roundtrip(snap)
    assert back == snap
    assert back.pooler is not None and back.pooler.client_list == CLIENTS
    assert back.pooler.server_list == SERVERS and back.pooler.missing == MISSING
    # Session.pooler is not recorded; the see-through link comes back from the lists.
    linked = {s.pid: s.pooler for s in link_sessions(back).sessions}
    assert linked[101] is None
    assert linked[102] is not None and linked[102].client == CLIENTS[0]


def test_pooler_lists_have_their_own_keys_and_only_change_when_they_do() -> None:
    d = to_compact(pooled())
    assert len(d["pooler_clients"]) == 2 and len(d["pooler_servers"]) == 2
    assert len(d["pooler"]) == len(layout()["PoolerSnapshot"])  # the lists are not in it
    # Same lists a second later: only the pooler's own poll time is repeated.
    assert set(changed(pooled(), pooled(at=1))) == {"t", "delta", "sessions", "gone", "pooler"}
    # One client changed, one came: the unchanged rows are referred to, not repeated.
    moved = (replace(CLIENTS[0], wait_s=1.5), CLIENTS[1], replace(CLIENTS[1], ptr="0x1c"))
    d = changed(pooled(), pooled(at=1, clients=moved))
    assert "pooler_servers" not in d
    patch = d["pooler_clients"]["patch"]
    assert patch[:2] == [{"old": 0, "set": [[7, 1.5]]}, {"old": 1, "n": 1}] and len(patch) == 3
    # Gone entirely, and the pooler with them.
    d = changed(pooled(), pooled(at=2, clients=(), servers=()))
    assert d["pooler_clients"] == [] and d["pooler_servers"] == []
    d = changed(pooled(), snapshot(POOLED, at=3, pooler=False))
    assert d["pooler"] is None and d["pooler_clients"] == []


def test_a_frame_from_before_the_pooler_lists_decodes_with_empty_ones() -> None:
    d = json.loads(json.dumps(to_compact(pooled())))
    names = layout()
    # As pgtop wrote it before PoolerSnapshot had client_list, server_list and missing.
    names["PoolerSnapshot"] = names["PoolerSnapshot"][: names["PoolerSnapshot"].index("missing")]
    d["pooler"] = d["pooler"][: len(names["PoolerSnapshot"])]
    del d["pooler_clients"], d["pooler_servers"]
    back = from_compact(d, names)
    assert back.pooler is not None
    assert (back.pooler.client_list, back.pooler.server_list, back.pooler.missing) == ((), (), ())
    assert back.pooler.pools == pooled().pooler.pools  # type: ignore[union-attr]
    assert back.sessions == pooled().sessions


def test_a_frame_with_the_lists_inside_pooler_still_reads() -> None:
    # pgtop between the lists' arrival and their own keys kept them in the pooler row.
    snap = pooled()
    d = json.loads(json.dumps(to_compact(snap)))
    names = layout()
    names["PoolerSnapshot"] = [*names["PoolerSnapshot"], "client_list", "server_list"]
    d["pooler"] = [*d.pop("pooler"), d.pop("pooler_clients"), d.pop("pooler_servers")]
    assert from_compact(d, names) == snap


# -- damaged or hostile frames: CodecError, never a record the UI cannot compute with ------


def _damaged(change: object) -> Exception | None:
    frame = to_compact(snapshot([session(101, "active"), session(102)]))
    frame = copy.deepcopy(frame)
    change(frame)  # type: ignore[operator]
    try:
        from_compact(frame)
    except CodecError as exc:
        return exc
    return None


def _at(name: str) -> int:
    return layout()["Session"].index(name)


def test_damaged_frames_are_codec_errors() -> None:
    def set_field(field: str, value: object):  # type: ignore[no-untyped-def]
        return lambda f: f["sessions"]["101"].__setitem__(_at(field), value)

    cases = {
        "missing server": lambda f: f.pop("server"),
        "short row": lambda f: f["sessions"]["101"].pop(),
        "bad time": lambda f: f.__setitem__("t", "yesterday"),
        "time without zone": lambda f: f.__setitem__("t", "2026-11-25T12:00:00"),
        "year 1": lambda f: f.__setitem__("t", "0001-01-01T00:00:00+00:00"),
        "start in year 9999": set_field("backend_start", "9999-12-31T23:59:59-12:00"),
        "query a number": set_field("query", 42),
        "start without zone": set_field("backend_start", "2026-11-25T11:00:00"),
        "port a string": set_field("client_port", "5432"),
        "blocked_by of strings": set_field("blocked_by", ["7"]),
        "pid not a number": lambda f: f["sessions"].__setitem__("x", f["sessions"].pop("101")),
        "same pid twice": lambda f: f["sessions"].__setitem__("0101", f["sessions"]["101"]),
        "sessions a list": lambda f: f.__setitem__("sessions", []),
        "limits missing": lambda f: f.__setitem__("limits", None),
    }
    for what, change in cases.items():
        assert _damaged(change) is not None, what
    assert _damaged(lambda f: None) is None  # the undamaged frame reads


def test_a_delta_that_does_not_fit_is_a_codec_error() -> None:
    a = to_compact(snapshot([session(101), session(102)]))
    b = to_compact(snapshot([session(101), session(103)], at=1))
    d = delta(a, b)
    with pytest.raises(CodecError):
        apply(a, {**d, "order": ["101", "999"]})
    with pytest.raises(CodecError):
        apply(a, {**d, "gone": 5})
