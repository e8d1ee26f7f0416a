"""One server's state, fed poll results by hand: what its screen would show."""

import pytest
from builders import NOW, ago, session, snapshot

from pgtop.model.pooler_records import Pool, PoolerSnapshot, PoolerStats
from pgtop.model.records import DatabaseStat, Limits, ServerInfo, Snapshot, StateCounts
from pgtop.monitor.state import MonitorState


def _snap(at: float, commits: int, clients: int = 5) -> Snapshot:
    server = ServerInfo("15.1", 150001, "h:5432", ago(999), False, ago(-at))
    db = DatabaseStat("shop", -1, True, StateCounts(), commits, 0)
    return Snapshot(server, (), (db,), Limits(100, 3, None, clients, (), (), ()))


def _pooler(at: float, xacts: int) -> PoolerSnapshot:
    stats = PoolerStats("shop", xacts, xacts, 0, 0, 0, 0, 0)
    pool = Pool("shop", "app", 1, 2, 1, 0, 0, 0, 0, 0.0, "transaction")
    return PoolerSnapshot("1.18.0", "h:6432", (pool,), (stats,), (), {}, 3, 1, ago(-at))


def test_rates_and_trends_come_from_consecutive_snapshots() -> None:
    state = MonitorState()
    assert state.take_postgres(_snap(0, 100, clients=4), "live") is True  # the first data
    assert state.current_rates() is None
    assert state.take_postgres(_snap(2, 300, clients=6), "live") is False
    rates = state.current_rates()
    assert rates is not None and rates.transactions == 100
    assert list(state.connections.values) == [4.0, 6.0]
    assert list(state.tps.values) == [None, 100]
    assert state.last_good == ago(-2) and state.status == "live"


def test_a_failed_poll_keeps_the_data_and_says_why_until_the_next_good_one() -> None:
    state = MonitorState()
    state.take_postgres(_snap(0, 100), "live")
    state.postgres_failed("connection refused")
    assert (state.status, state.reason) == ("reconnecting", "connection refused")
    snap = state.snapshot()
    assert snap is not None and snap.server.snapshot_time == NOW  # stale data still shown
    state.take_postgres(_snap(2, 100), "live")
    assert (state.status, state.reason) == ("live", "")


def test_a_separate_pooler_is_joined_with_its_rates_and_dropped_when_it_fails() -> None:
    state = MonitorState(separate_pooler=True)
    state.take_postgres(_snap(0, 100), "live")
    state.take_pooler(_pooler(0, 10))
    state.take_pooler(_pooler(2, 50))
    state.take_postgres(_snap(2, 100), "live")
    snap = state.snapshot()
    assert snap is not None and snap.pooler is not None and snap.pooler_error is None
    assert state.snapshot() is snap  # joined once per change, not per read
    rates = state.current_rates()
    assert rates is not None and rates.pooler_transactions == 20
    state.pooler_failed("pooler h:6432: no answer")
    snap = state.snapshot()
    assert snap is not None and snap.pooler is None
    assert snap.pooler_error == "pooler h:6432: no answer"
    rates = state.current_rates()
    assert rates is not None and rates.pooler_transactions is None


def test_a_replay_jump_takes_rates_from_the_frame_before_it() -> None:
    state = MonitorState()
    state.take_postgres(_snap(0, 100), "replay")
    state.take_postgres(_snap(2, 300), "replay")
    state.restart_from(_snap(60, 1000))
    assert state.current_rates() is None
    state.take_postgres(_snap(62, 1200), "replay")
    rates = state.current_rates()
    assert rates is not None and rates.transactions == 100
    state.restart_from(None)  # the first frame has none before it
    state.take_postgres(_snap(0, 100), "replay")
    assert state.current_rates() is None


def test_each_change_leaves_one_new_frozen_frame_with_the_header_status() -> None:
    state = MonitorState(refresh=1.5)
    assert (state.frame.status, state.frame.snapshot, state.frame.refresh) == (
        "connecting",
        None,
        1.5,
    )
    state.take_postgres(_snap(0, 100), "live")
    first = state.frame
    assert first.snapshot is state.snapshot() and first.status == "live"
    state.postgres_failed("connection refused")
    assert state.frame is not first and first.status == "live"  # the old frame stays as it was
    assert (state.frame.status, state.frame.reason) == ("reconnecting", "connection refused")
    assert state.frame.snapshot is first.snapshot  # the last data, shown stale
    state.set_refresh(3.0)
    assert state.frame.refresh == 3.0 and state.frame.last_good == first.last_good
    with pytest.raises(AttributeError):  # a frame never changes once made
        state.frame.status = "live"  # type: ignore[misc]


def _busy_snap(at: float, idle_tx_pids: range) -> Snapshot:
    sessions = [
        session(pid, "idle in transaction", state_change=ago(300 - at), xact_start=ago(300 - at))
        for pid in idle_tx_pids
    ]
    return snapshot(sessions, at=at)


def test_a_snapshot_prepared_ahead_shows_the_findings_it_would_have_shown() -> None:
    """The replay prepares the next frame's join and findings on a worker thread; taken,
    it must show what taking it unprepared shows, and a prepared frame that is never
    taken (a jump elsewhere) must not show at all."""
    frames = [_busy_snap(i, range(100, 103 + i)) for i in range(4)]
    plain, ahead = MonitorState(), MonitorState()
    for snap in frames[:2]:
        plain.take_postgres(snap, "replay")
        ahead.prepare_postgres(snap)
        ahead.take_postgres(snap, "replay")
        assert ahead.frame.findings == plain.frame.findings != ()
        assert ahead.frame.snapshot is not None and plain.frame.snapshot is not None
        assert ahead.frame.snapshot.sessions == plain.frame.snapshot.sessions
    ahead.prepare_postgres(frames[3])  # prepared, then a jump back to frame 2 instead
    ahead.take_postgres(frames[2], "replay")
    plain.take_postgres(frames[2], "replay")
    assert ahead.frame.snapshot is not None and ahead.frame.snapshot.sessions == frames[2].sessions
    assert ahead.frame.findings == plain.frame.findings
    assert ahead.frame.findings[0].evidence["sessions"] == 5
