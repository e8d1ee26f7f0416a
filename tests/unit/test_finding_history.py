"""FindingHistory counts new backends from the sessions that are new objects only; it
must count what a full comparison of (pid, backend_start) sets counts."""

import random

from builders import ago, session, snapshot

from pgtop.model.findings.history import FindingHistory
from support.records import replace


def test_new_backends_counted_as_a_full_comparison_counts_them() -> None:
    rng = random.Random(7)
    history = FindingHistory()
    sessions = [session(pid) for pid in range(1, 80)]
    seen_before: set[tuple[int, object]] | None = None
    next_pid = 80
    for poll in range(1, 40):
        out = []
        for s in sessions:
            roll = rng.random()
            if roll < 0.05:
                continue  # ended
            if roll < 0.25:  # changed: a new object, the same backend
                s = replace(s, state=rng.choice(["idle", "active"]), query=str(poll))
            elif roll < 0.28:  # the pid went to a new backend
                s = replace(s, backend_start=ago(-poll))
            out.append(s)
        for _ in range(rng.randint(0, 3)):
            next_pid += 1
            kind = rng.choice(["client backend", "client backend", "autovacuum worker"])
            out.append(session(next_pid, backend_type=kind))
        sessions = out
        history.observe(snapshot(sessions, at=poll))
        seen = {(s.pid, s.backend_start) for s in sessions if s.is_client}
        want = len(seen - seen_before) if seen_before is not None else 0
        assert history.polls[-1][2] == want
        seen_before = seen
