"""When a lock waiter's blockers from an earlier poll may be reused (collect/blockers.py).

The server's side (a waiter in another wait is asked again) is covered against a real
server in tests/integration/test_collect_postgres.py.
"""

from builders import ago, session

from pgtop.collect.blockers import REUSE_FOR, BlockerCache


def _waiter(pid: int, blocked_by: tuple[int, ...] = (), since: float = 30):
    return session(pid, "active", wait_event_type="Lock", wait_event="relation",
                   state_change=ago(since), blocked_by=blocked_by)  # fmt: skip


HOLDER = session(1, "idle in transaction", xact_start=ago(100), state_change=ago(90))


def test_a_waiter_keeps_its_blockers_while_it_and_they_stay_put() -> None:
    cache = BlockerCache()
    first, stale = cache.fill((HOLDER, _waiter(2, (1,))), asked={2}, now=0.0)
    assert first[1].blocked_by == (1,) and stale == []
    reuse = cache.reusable(now=1.0)
    assert reuse.pids == [2] and reuse.wait_events == ["relation"]
    # The server matched the wait and skipped pid 2: its row comes back without blockers.
    again, stale = cache.fill((HOLDER, _waiter(2)), asked=set(), now=1.0)
    assert again[1].blocked_by == (1,) and stale == []
    assert cache.reusable(now=REUSE_FOR + 0.1).pids == []  # then the server is asked again


def test_a_blocker_that_ended_or_moved_on_means_asking_again_in_the_same_poll() -> None:
    cache = BlockerCache()
    cache.fill((HOLDER, _waiter(2, (1,))), asked={2}, now=0.0)
    ended = cache.fill((_waiter(2),), asked=set(), now=1.0)
    assert ended[1] == [2]
    cache.fill((HOLDER, _waiter(2, (1,))), asked={2}, now=2.0)
    # The holder committed and began another transaction: its locks went with the first.
    next_xact = session(1, "idle in transaction", xact_start=ago(1), state_change=ago(1))
    other = session(5, "idle in transaction", xact_start=ago(2), state_change=ago(2))
    sessions, stale = cache.fill((next_xact, other, _waiter(2)), asked=set(), now=3.0)
    assert stale == [2]
    answered = cache.answer(sessions, {2: (5,)}, now=3.0)
    assert answered[2].blocked_by == (5,)
    assert cache.reusable(now=3.5).pids == [2]  # the fresh answer is reused in turn


def test_a_waiter_in_another_wait_is_never_left_without_blockers() -> None:
    cache = BlockerCache()
    cache.fill((HOLDER, _waiter(2, (1,))), asked={2}, now=0.0)
    # The server did not match the wait (it moved on), but its answer was lost somehow:
    # pgtop asks rather than guess or show none.
    _, stale = cache.fill((HOLDER, _waiter(2, since=0.5)), asked=set(), now=1.0)
    assert stale == [2]


def test_empty_answers_and_unlisted_blockers_are_not_reused() -> None:
    cache = BlockerCache()
    # It got its lock between pg_stat_activity and pg_blocking_pids(): ask next time.
    cache.fill((HOLDER, _waiter(2, ())), asked={2}, now=0.0)
    assert cache.reusable(now=1.0).pids == []
    # Blocked by a prepared transaction (pid 0): nothing to check it against.
    cache.fill((_waiter(3, (0,)),), asked={3}, now=0.0)
    assert cache.reusable(now=1.0).pids == []


def test_an_unchanged_waiter_is_handed_out_as_the_last_polls_object() -> None:
    """Filling in blockers rebuilds a waiter's record; memos downstream key sessions by
    object, so one equal to the last poll's must be that very object."""
    cache = BlockerCache()
    first, _ = cache.fill((HOLDER, _waiter(2, (1,)), _waiter(3, (1,))), asked={2, 3}, now=0.0)
    # Blockers reused (the rows come back without them), then asked again (an answer).
    reused, stale = cache.fill((HOLDER, _waiter(2), _waiter(3)), asked=set(), now=1.0)
    assert stale == [] and reused[1] is first[1] and reused[2] is first[2]
    sessions, stale = cache.fill((_waiter(2), _waiter(3, since=5)), asked=set(), now=2.0)
    assert stale == [2, 3]
    answered = cache.answer(sessions, {2: (1,), 3: (1,)}, now=2.0)
    assert answered[0] is first[1]  # asked again, the same answer
    assert answered[1] is not first[2] and answered[1].state_change == ago(5)  # a new wait
    # Asked in the poll itself (the row brings its blockers), equal to the last answer.
    again, _ = cache.fill((HOLDER, _waiter(2, (1,)), _waiter(3, (1,), since=5)), {2, 3}, 3.0)
    assert again[1] is first[1] and again[2] is answered[1]
    moved, _ = cache.fill((HOLDER, _waiter(2, (4,))), asked={2}, now=4.0)
    assert moved[1] is not first[1] and moved[1].blocked_by == (4,)
