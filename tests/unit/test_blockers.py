from builders import ago, session

from pgtop.collect.blockers import REUSE_FOR, BlockerCache


def _waiter(pid: int, blocked_by: tuple[int, ...] = (), since: float = 30):
    return session(pid, "active", wait_event_type="Lock", wait_event="relation",
                   state_change=ago(since), blocked_by=blocked_by)  # fmt: skip


def test_a_waiter_keeps_its_blockers_while_it_waits_the_same_wait() -> None:
    cache = BlockerCache()
    holder = session(1, "idle in transaction")
    first = cache.fill((holder, _waiter(2, (1,))), [], now=0.0)
    assert first[1].blocked_by == (1,)
    assert cache.reusable(now=1.0) == [2]
    # The server skipped pid 2 this time: its row comes back without blockers.
    again = cache.fill((holder, _waiter(2)), [2], now=1.0)
    assert again[1].blocked_by == (1,)
    assert cache.reusable(now=REUSE_FOR + 0.1) == []  # then the server is asked again


def test_blockers_that_ended_are_dropped_and_a_new_wait_is_not_guessed() -> None:
    cache = BlockerCache()
    cache.fill((session(1, "idle in transaction"), session(3, "idle"), _waiter(2, (1, 3))), [], 0)
    gone = cache.fill((session(3, "idle"), _waiter(2)), [2], now=1.0)
    assert gone[1].blocked_by == (3,)
    moved_on = cache.fill((session(3, "idle"), _waiter(2, since=0.5)), [2], now=2.0)
    assert moved_on[1].blocked_by == ()  # a new wait: unknown until the server is asked
    assert cache.reusable(now=2.5) == []
