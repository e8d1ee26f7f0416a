"""The findings' session index is kept from poll to poll by session object; the findings
it gives must be those of an index built afresh for each poll, whatever changed."""

import random

from builders import ago, session, snapshot

from pgtop.model.findings import DEFAULT_THRESHOLDS, FindingHistory, derive_findings
from pgtop.model.records import Session

# Low enough that every kind the index serves fires on a few dozen sessions.
LOW = DEFAULT_THRESHOLDS._replace(
    server_warning_pct=10,
    idle_in_transaction_s=20,
    lock_wait_s=0,
    leak_sessions=3,
    leak_idle_s=100,
    storm_min_new=3,
    old_snapshot_s=0,
    old_snapshot_xids=10,
)


def _random_session(rng: random.Random, pid: int, poll: int) -> Session:
    state = rng.choice(["idle", "idle", "active", "idle in transaction", None])
    return session(
        pid,
        state,
        backend_type="client backend" if state is not None else "walwriter",
        application=rng.choice(["web", "batch", "pgbouncer"]),
        user=rng.choice(["app", "report", None]),
        backend_start=ago(rng.choice([3600, 5, 1]) - poll),
        state_change=ago(rng.randint(0, 600) - poll),
        query_start=ago(rng.randint(0, 60) - poll),
        wait_event_type=rng.choice([None, None, "Lock"]),
        blocked_by=tuple(rng.sample(range(1, 50), rng.randint(1, 2)))
        if rng.random() < 0.15
        else (),
        backend_xmin=str(rng.randint(1, 999_000)) if rng.random() < 0.3 else None,
    )


def test_findings_from_the_kept_index_equal_those_of_a_fresh_one_over_random_polls() -> None:
    rng = random.Random(50)
    history = FindingHistory()
    sessions = [_random_session(rng, pid, 0) for pid in range(1, 50)]
    next_pid = 50
    kinds: set[str] = set()
    for poll in range(1, 120):
        # Quiet polls (the lock piles and groups kept), ordinary ones, and churn that
        # rebuilds the index from scratch.
        change = rng.choice([0.02, 0.2, 0.8])
        out = []
        for s in sessions:
            roll = rng.random()
            if roll < 0.05:
                continue  # ended
            if roll < 0.05 + change:  # changed: a new object
                s = _random_session(rng, s.pid, poll)
            out.append(s)
        for _ in range(rng.randint(0, 3)):
            next_pid += 1
            out.insert(rng.randrange(len(out) + 1), _random_session(rng, next_pid, poll))
        if rng.random() < 0.1:
            rng.shuffle(out)
        sessions = out
        snap = snapshot(sessions, at=poll)
        history.observe(snap)
        kept = derive_findings(snap, LOW, history)
        fresh_history = FindingHistory()
        fresh_history.polls = history.polls  # the same history; only the index is new
        fresh = derive_findings(snap, LOW, fresh_history)
        assert kept == fresh
        assert repr(kept) == repr(fresh)  # the very same text, not only equal numbers
        kinds |= {f.kind for f in kept}
    assert {"server_full", "idle_in_transaction", "lock_pileup", "leak"} <= kinds
    assert {"connection_storm", "old_snapshot"} <= kinds
