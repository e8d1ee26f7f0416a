from builders import NOW, ago, session

from pgtop.model.derive import compute_rates, count_states, counts_by, session_ages
from pgtop.model.history import History
from pgtop.model.records import DatabaseStat, Limits, ServerInfo, Snapshot, StateCounts
from support.records import replace


def test_counts_by_state_ignore_background_workers() -> None:
    c = count_states(
        [
            session(1, "active"),
            session(2, "idle"),
            session(3, "idle in transaction (aborted)"),
            session(4, "active", wait_event_type="Lock"),
            session(5, None, backend_type="checkpointer"),
        ]
    )
    assert (c.active, c.idle, c.idle_in_transaction_aborted, c.waiting_on_lock, c.total) == (
        2,
        1,
        1,
        1,
        4,
    )


def test_counts_by_application_find_the_hog() -> None:
    rows = [session(i, "idle", application="batch" if i < 8 else "web") for i in range(10)]
    groups = counts_by(rows, lambda s: s.application)
    assert groups["batch"].total == 8 and groups["web"].total == 2


def test_ages_are_measured_against_the_server_clock() -> None:
    a = session_ages(session(1, "active", xact_start=ago(90), query_start=ago(10)), NOW)
    assert a.xact == 90 and a.query == 10 and a.backend == 3600


def _snap(at_offset: float, commits: int, rollbacks: int) -> Snapshot:
    server = ServerInfo("15.1", 150001, "h:5432", ago(999), False, ago(-at_offset))
    db = DatabaseStat("shop", -1, True, StateCounts(), commits, rollbacks)
    limits = Limits(100, 3, None, 0, (), (), ())
    return Snapshot(server, (), (db,), limits)


def test_rates_are_deltas_per_second_and_resets_give_none() -> None:
    r = compute_rates(_snap(0, 100, 10), _snap(2, 300, 14))
    assert r.transactions == 102 and r.commits == 100 and r.rollbacks == 2
    reset = compute_rates(_snap(0, 100, 10), _snap(2, 5, 0))
    assert reset.transactions is None


def test_available_slots_subtract_reserved() -> None:
    lim = Limits(100, 3, 5, 0, (), (), ())
    assert lim.available_to_ordinary_roles == 92
    assert replace(lim, reserved_connections=None).available_to_ordinary_roles == 97


def test_sparkline_scales_to_top() -> None:
    h = History(10)
    for v in (0, 50, 100):
        h.add(v)
    assert h.sparkline(3, top=100) == "▁▅█"
    assert h.sparkline(5, top=100) == "  ▁▅█"
