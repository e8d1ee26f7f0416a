from builders import ago, session

from pgtop.model.view import SessionView, visible_sessions


def _pids(rows) -> list[int]:  # type: ignore[no-untyped-def]
    return [s.pid for s in rows]


SESSIONS = (
    session(1, "idle"),
    session(2, "active", xact_start=ago(5), query_start=ago(5)),
    session(3, "idle in transaction", xact_start=ago(500)),
    session(
        4,
        "active",
        xact_start=ago(50),
        query_start=ago(50),
        wait_event_type="Lock",
        wait_event="relation",
        blocked_by=(3,),
    ),
    session(5, None, backend_type="autovacuum launcher", database=None),
)


def test_default_order_puts_open_transactions_first_and_workers_last() -> None:
    assert _pids(visible_sessions(SESSIONS, SessionView(show_system=True))) == [3, 4, 2, 1, 5]


def test_background_processes_without_state_are_hidden_unless_asked() -> None:
    assert 5 not in _pids(visible_sessions(SESSIONS, SessionView()))
    assert 5 in _pids(visible_sessions(SESSIONS, SessionView(show_system=True)))


def test_sort_by_any_column_both_directions() -> None:
    view = SessionView(show_system=True).with_sort("pid")
    assert _pids(visible_sessions(SESSIONS, view)) == [1, 2, 3, 4, 5]
    assert _pids(visible_sessions(SESSIONS, view.with_sort("pid"))) == [5, 4, 3, 2, 1]
    by_xact = visible_sessions(SESSIONS, SessionView(sort="xact_age", show_system=True))
    assert _pids(by_xact)[:3] == [3, 4, 2]


def test_hide_idle_and_only_waiting_or_blocking() -> None:
    assert 1 not in _pids(visible_sessions(SESSIONS, SessionView(hide_idle=True)))
    locked = visible_sessions(SESSIONS, SessionView(only_waiting_or_blocking=True))
    assert sorted(_pids(locked)) == [3, 4]


def test_filter_terms_narrow_and_free_text_searches_fields() -> None:
    from builders import NOW

    from pgtop.model.filter import parse_filter

    rows = [
        session(1, "idle", user="app_web", database="shop"),
        session(2, "idle in transaction", user="app_web", database="shop", xact_start=ago(45)),
        session(
            3,
            "active",
            user="batch",
            database="crm",
            query="select * from payments",
            xact_start=ago(5),
            query_start=ago(5),
        ),
    ]

    def pids(text: str) -> list[int]:
        f = parse_filter(text)
        return [s.pid for s in rows if f.matches(s, NOW)]

    assert pids("db:shop user:app_web") == [1, 2]
    assert pids('state:"idle in transaction"') == [2]
    assert pids("state:idle") == [1]
    assert pids("state:idle-tx") == [2]
    assert pids("dur>30s") == [2]
    assert pids("dur<30s") == [3]
    assert pids("payments") == [3]
    assert pids("-user:app_web") == [3]


def test_bad_filter_is_one_clear_error() -> None:
    import pytest

    from pgtop.model.filter import FilterError, parse_filter

    with pytest.raises(FilterError, match="unknown filter field 'colour'"):
        parse_filter("colour:red")
    with pytest.raises(FilterError):
        parse_filter('state:"unclosed')
    # Half a duration is a typo, not free text that silently matches nothing.
    for typo in ("dur>1s-user", "dur>", "xact>5q", "-age<1s:x"):
        with pytest.raises(FilterError, match="not a duration"):
            parse_filter(typo)
    assert len(parse_filter("dur>1s -user:monitor").terms) == 2
    assert len(parse_filter("query:age>3 duration").terms) == 2  # not durations


def test_the_order_is_named_and_ages_read_largest_first() -> None:
    from pgtop.model.view import sort_label

    assert sort_label(SessionView()) == "sort: default (state, age)"
    assert sort_label(SessionView(reverse=True)) == "sort: default (state, age) reversed"
    assert sort_label(SessionView(sort="xact_age")) == "sort: xact age ▼"  # oldest first
    assert sort_label(SessionView(sort="xact_age", reverse=True)) == "sort: xact age ▲"
    assert sort_label(SessionView(sort="database")) == "sort: database ▲"
    assert SessionView(sort="pid").with_sort(None) == SessionView()


def test_sessions_without_the_sorted_age_come_last_both_ways() -> None:
    view = SessionView(sort="xact_age")
    assert _pids(visible_sessions(SESSIONS, view)) == [3, 4, 2, 1]
    assert _pids(visible_sessions(SESSIONS, view.with_sort("xact_age"))) == [2, 4, 3, 1]


def test_state_waiting_filters_what_the_state_column_calls_waiting() -> None:
    from builders import NOW

    from pgtop.model.filter import parse_filter

    waiting = parse_filter("state:waiting")
    assert [s.pid for s in SESSIONS if waiting.matches(s, NOW)] == [4]
    assert [s.pid for s in SESSIONS if parse_filter("-state:waiting").matches(s, NOW)] == [
        1,
        2,
        3,
        5,
    ]
