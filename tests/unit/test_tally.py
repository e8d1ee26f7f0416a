"""The collector's counts kept from poll to poll (model/tally.py) must always equal the
counts worked out afresh from the sessions listed: the header, the databases pane and
the limits pane show them."""

import random
from collections import Counter

from builders import ago, session

from pgtop.model.derive import SummaryFollower, count_states, counts_by
from pgtop.model.records import Session
from pgtop.model.tally import SessionTally
from support.records import replace

STATES = ["active", "idle", "idle in transaction", "idle in transaction (aborted)", None]


def _random_session(rng: random.Random, pid: int) -> Session:
    return session(
        pid,
        rng.choice(STATES),
        database=rng.choice(["shop", "crm", None]),
        user=rng.choice(["app", "batch", None]),
        backend_type=rng.choice(["client backend"] * 5 + ["autovacuum worker"]),
        wait_event_type=rng.choice(["Lock", "Client", None]),
        xact_start=rng.choice([None, ago(rng.randrange(1, 50))]),
    )


def test_counts_follow_sessions_that_come_change_and_go() -> None:
    rng = random.Random(21)
    tally, held = SessionTally(), {}
    for _ in range(60):  # polls
        added, removed = [], []
        for pid in rng.sample(range(300), 40):
            old = held.pop(pid, None)
            if old is not None:
                removed.append(old)
            if rng.random() < 0.7:  # else the session went
                held[pid] = _random_session(rng, pid)
                added.append(held[pid])
        if rng.random() < 0.2:  # two sessions may start their transactions together
            twin = next((s for s in added if s.xact_start is not None), None)
            if twin is not None and added[-1] is not twin:
                held[added[-1].pid] = added[-1] = replace(added[-1], xact_start=twin.xact_start)
        tally.update(added, removed)
        listed = list(held.values())
        clients = [s for s in listed if s.backend_type == "client backend"]
        assert tally.total() == count_states(listed)
        assert tally.by_database() == counts_by(listed, lambda s: s.database)
        assert +tally.per_role == Counter(s.user or "" for s in clients)
        assert +tally.per_database == Counter(s.database or "" for s in clients)
        assert tally.clients == len(clients)
        starts = [s.xact_start for s in clients if s.xact_start is not None]
        assert tally.oldest_xact_start() == min(starts, default=None)


def test_replayed_listings_summarized_from_what_changed_equal_a_fresh_count() -> None:
    """The replay's header counts (SummaryFollower) follow frames in any order, a jump
    back included, and always read as a fresh count of the frame shown."""
    rng = random.Random(7)
    frames: list[tuple[Session, ...]] = []
    held: dict[int, Session] = {}
    for _ in range(30):
        for pid in rng.sample(range(200), 30):
            held.pop(pid, None)
            if rng.random() < 0.7:
                held[pid] = _random_session(rng, pid)
        frames.append(tuple(held.values()))  # unchanged sessions stay the same objects
    follower = SummaryFollower()
    for i in [*range(30), 3, 4, 29, 0, 17]:  # played, then jumps back and forth
        listing = frames[i]
        clients = [s for s in listing if s.backend_type == "client backend"]
        starts = [s.xact_start for s in clients if s.xact_start is not None]
        got = follower.summary(listing)
        assert got.counts == count_states(list(listing))  # a list: counted afresh
        assert got.oldest_xact_start == min(starts, default=None)
