"""Lock trees kept per pile (model/findings/locktrees.py) must be those worked out afresh
over every lock session, whatever changed between polls: piles that merge or split,
deadlock cycles, blockers not listed, one pid listed twice."""

import random

from builders import ago, session

from pgtop.model.findings.locktrees import LockTrees
from pgtop.model.locks import blocking_tree, waiters_behind
from pgtop.model.records import Session


def _lock_session(rng: random.Random, pid: int, pids: int) -> Session:
    waits = rng.random() < 0.6
    blockers = rng.sample(range(0, pids + 3), rng.randint(1, 3)) if waits else []
    return session(
        pid,
        rng.choice(["active", "idle in transaction", None]),
        wait_event_type="Lock" if waits or rng.random() < 0.1 else None,
        blocked_by=tuple(blockers) if rng.random() < 0.9 else (),
        xact_start=rng.choice([None, ago(rng.randint(0, 5))]),  # ties: the pid decides
        state_change=ago(rng.randint(0, 5)),
        backend_start=None if rng.random() < 0.05 else ago(100),
    )


def test_kept_piles_give_the_trees_of_a_fresh_count_over_random_polls() -> None:
    rng = random.Random(7)
    trees = LockTrees()
    pids = 40
    sessions = [_lock_session(rng, pid, pids) for pid in range(1, pids)]
    hits = 0
    for _ in range(300):
        change = rng.choice([0.0, 0.02, 0.1, 0.5])
        sessions = [
            _lock_session(rng, s.pid, pids) if rng.random() < change else s for s in sessions
        ]
        listed = [s for s in sessions if rng.random() < 0.97]  # some gone for a poll
        if rng.random() < 0.05:
            listed.append(_lock_session(rng, listed[0].pid, pids))  # a pid listed twice
        rng.shuffle(listed)
        before = dict(trees._piles)
        behind, tree = trees.update(listed)
        hits += sum(key in before for key in trees._piles)
        fresh = waiters_behind(listed)
        assert behind == fresh
        assert tree == blocking_tree(listed, fresh)
    assert hits > 300  # piles were kept, not only worked out again
