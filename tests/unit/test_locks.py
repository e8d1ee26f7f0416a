"""Lock trees and "blocks N" (model/locks.py), on hand-built sessions."""

from builders import ago, session

from pgtop.model.locks import (
    TreeRow,
    blocking_tree,
    keep_with_ancestors,
    root_of,
    tree_guides,
    waiters_behind,
)
from pgtop.model.records import Session


def waiter(pid: int, *blockers: int, since: float = 1) -> Session:
    return session(
        pid,
        "active",
        wait_event_type="Lock",
        wait_event="transactionid",
        blocked_by=blockers,
        xact_start=ago(since),
        query_start=ago(since),
        state_change=ago(since),
    )


def holder(pid: int, xact_age: float) -> Session:
    return session(pid, "idle in transaction", xact_start=ago(xact_age), state_change=ago(1))


def shape(tree: list[TreeRow]) -> list[tuple[int, int]]:
    return [(row.session.pid, row.depth) for row in tree]


# A blocks B; B blocks C and D: the three-level chain.
CHAIN = [holder(1, 600), waiter(2, 1, since=50), waiter(3, 2, since=40), waiter(4, 2, since=30)]


def test_a_three_level_chain_keeps_its_depth() -> None:
    assert shape(blocking_tree(CHAIN)) == [(1, 0), (2, 1), (3, 2), (4, 2)]


def test_tree_guides_draw_each_level_under_its_blocker() -> None:
    assert tree_guides([0, 1, 2, 2]) == ["", "└─ ", "   ├─ ", "   └─ "]
    # A second waiter of the root keeps the root's line open past the first's subtree.
    assert tree_guides([0, 1, 2, 1, 0, 1]) == ["", "├─ ", "│  └─ ", "└─ ", "", "└─ "]


def test_waiters_behind_counts_every_session_held_up_once() -> None:
    assert waiters_behind(CHAIN) == {1: 3, 2: 2}
    # 5 waits on both 3 and 4, both behind 1: counted once for 1.
    diamond = [holder(1, 9), waiter(3, 1), waiter(4, 1), waiter(5, 3, 4)]
    assert waiters_behind(diamond) == {1: 3, 3: 1, 4: 1}
    assert waiters_behind([session(9, "idle")]) == {}


def test_a_deadlock_cycle_counts_without_looping() -> None:
    cycle = [waiter(1, 2), waiter(2, 1), waiter(3, 2)]
    assert waiters_behind(cycle) == {1: 2, 2: 2}
    assert {pid for pid, _ in shape(blocking_tree(cycle))} == {1, 2, 3}


def test_roots_by_sessions_behind_them_then_oldest_transaction() -> None:
    quick_chains = [s for i in range(10) for s in (holder(100 + i, 0.5), waiter(200 + i, 100 + i))]
    old_root = holder(1, 600)  # ten minutes idle in transaction, behind it a chain of three
    rows = [*quick_chains, waiter(4, 2), waiter(3, 2), waiter(2, 1), old_root]
    tree = blocking_tree(rows)
    assert shape(tree)[:4] == [(1, 0), (2, 1), (3, 2), (4, 2)]
    # Roots with one waiter each: oldest transaction first.
    older = holder(50, 5)
    tree = blocking_tree([*quick_chains, older, waiter(51, 50)])
    assert tree[0].session.pid == 50


def test_waiters_whose_blocker_is_not_listed_come_last_and_are_marked() -> None:
    rows = [
        waiter(7, 0),  # behind a prepared transaction: pg_blocking_pids() says 0
        waiter(8, 7),
        waiter(9, 4242),  # its blocker ended meanwhile, or is pgtop's own
        waiter(10),  # waits on a lock; who holds it is not known
        *CHAIN,
    ]
    tree = blocking_tree(rows)
    assert shape(tree) == [(1, 0), (2, 1), (3, 2), (4, 2), (7, 0), (8, 1), (9, 0), (10, 0)]
    assert [row.session.pid for row in tree if row.blocker_unknown] == [7, 9, 10]


def test_sessions_not_involved_are_left_out() -> None:
    rows = [*CHAIN, session(20, "idle"), session(21, "active")]
    assert {row.session.pid for row in blocking_tree(rows)} == {1, 2, 3, 4}


def test_a_hidden_blocker_stays_above_its_shown_waiters() -> None:
    rows = [*CHAIN, holder(5, 60), waiter(6, 5)]
    tree = blocking_tree(rows)
    assert shape(keep_with_ancestors(tree, {4})) == [(1, 0), (2, 1), (4, 2)]
    assert shape(keep_with_ancestors(tree, {3, 6})) == [(1, 0), (2, 1), (3, 2), (5, 0), (6, 1)]
    assert keep_with_ancestors(tree, set()) == []


def test_root_of_any_session_in_a_tree() -> None:
    tree = blocking_tree([*CHAIN, waiter(7, 0)])
    for pid in (1, 2, 3, 4):
        root = root_of(tree, pid)
        assert root is not None and root.session.pid == 1 and not root.blocker_unknown
    unknown = root_of(tree, 7)
    assert unknown is not None and unknown.blocker_unknown
    assert root_of(tree, 99) is None
