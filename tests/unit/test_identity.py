"""Marks keep a session's identity (pid, backend_start); blockers count who waits behind."""

from __future__ import annotations

from builders import ago, session

from pgtop.model.identity import same_session, split_marks
from pgtop.model.locks import waiters_behind
from support.records import replace


def test_a_mark_whose_pid_went_to_a_new_backend_ends() -> None:
    marked_a, marked_b = session(10), session(11)
    newcomer = replace(marked_a, backend_start=ago(1), application="newcomer")
    kept, ended = split_marks({10: marked_a, 11: marked_b}, [newcomer, marked_b, session(12)])
    assert list(kept) == [11]
    assert ended == [marked_a]  # as it was marked, not the newcomer's record
    assert not same_session(newcomer, marked_a)


def test_a_mark_keeps_the_current_record_of_its_session() -> None:
    marked = session(10, "idle")
    later = replace(marked, state="active", query="select 2")
    kept, ended = split_marks({10: marked}, [later])
    assert kept == {10: later} and ended == []


def test_a_mark_whose_session_left_ends() -> None:
    kept, ended = split_marks({10: session(10)}, [session(11)])
    assert kept == {} and [s.pid for s in ended] == [10]


def test_waiting_behind_counts_waiters_of_waiters_once() -> None:
    # 1 blocks 2; 2 blocks 3 and 4; 4 also waits on 1 directly; 5 waits on 3.
    sessions = [
        session(1, "idle in transaction"),
        session(2, "active", blocked_by=(1,)),
        session(3, "active", blocked_by=(2,)),
        session(4, "active", blocked_by=(2, 1)),
        session(5, "active", blocked_by=(3,)),
        session(6, "idle"),
    ]
    assert waiters_behind(sessions) == {1: 4, 2: 3, 3: 1}


def test_waiting_behind_survives_a_cycle() -> None:
    sessions = [session(1, "active", blocked_by=(2,)), session(2, "active", blocked_by=(1,))]
    assert waiters_behind(sessions) == {1: 1, 2: 1}
