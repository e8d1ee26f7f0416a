"""The view's memo (sort keys and filter verdicts kept per unchanged session), and the
state counts kept per session object, must give what a full recompute gives, in the
same order, whatever changed between polls."""

import random

from builders import ago, session

from pgtop.model.derive import count_states
from pgtop.model.filter import parse_filter
from pgtop.model.records import Session
from pgtop.model.view import SORT_KEYS, SessionView, ViewMemo, visible_sessions
from support.records import replace

STATES = ["idle", "active", "idle in transaction", "idle in transaction (aborted)", None]
APPS = ["web", "batch", "", "psql"]


def _random_session(rng: random.Random, pid: int) -> Session:
    state = rng.choice(STATES)
    maybe = lambda: ago(rng.randint(0, 600)) if rng.random() < 0.8 else None  # noqa: E731
    return session(
        pid,
        state,
        backend_type="client backend" if state is not None else "walwriter",
        application=rng.choice(APPS),
        user=rng.choice(["app", "postgres", None]),
        xact_start=maybe(),
        query_start=maybe(),
        state_change=maybe(),
        wait_event_type=rng.choice([None, "Lock", "IO"]),
        blocked_by=tuple(rng.sample(range(1, 60), rng.randint(0, 2))) if rng.random() < 0.1 else (),
    )


def _poll(rng: random.Random, sessions: list[Session], next_pid: list[int]) -> list[Session]:
    """The next poll: a few sessions change (new objects), end or start; the rest are
    the very same objects, in a shuffled listing order now and then."""
    out = []
    for s in sessions:
        roll = rng.random()
        if roll < 0.05:
            continue  # ended
        if roll < 0.25:
            s = replace(_random_session(rng, s.pid), backend_start=s.backend_start)
        out.append(s)
    for _ in range(rng.randint(0, 4)):
        next_pid[0] += 1
        out.insert(rng.randint(0, len(out)), _random_session(rng, next_pid[0]))
    if rng.random() < 0.2:
        rng.shuffle(out)
    return out


def _views() -> list[SessionView]:
    views = [SessionView(), SessionView(reverse=True), SessionView(show_system=True)]
    for column in SORT_KEYS:
        views += [SessionView(sort=column), SessionView(sort=column, reverse=True)]
    views += [SessionView(hide_idle=True, sort="age"), SessionView(only_waiting_or_blocking=True)]
    return views


def test_memo_lists_what_a_full_recompute_lists_over_random_polls() -> None:
    rng = random.Random(21)
    timeless = parse_filter("-app:batch")
    for view in _views():
        memo = ViewMemo()
        next_pid = [60]
        sessions = [_random_session(rng, pid) for pid in range(1, 61)]
        for _ in range(25):
            sessions = _poll(rng, sessions, next_pid)
            now = ago(0)
            if rng.random() < 0.5:
                flt, same = timeless, timeless
            else:
                flt, same = parse_filter("dur>60s"), None
            match = lambda s, f=flt, now=now: f.matches(s, now)  # noqa: E731
            want = visible_sessions(tuple(sessions), view, match)
            got = visible_sessions(tuple(sessions), view, match, memo, same)
            assert [s.pid for s in got] == [s.pid for s in want], view
            assert all(a is b for a, b in zip(got, want, strict=True))


def test_a_changed_view_or_filter_is_not_answered_from_the_memo() -> None:
    memo = ViewMemo()
    rows = tuple(_random_session(random.Random(pid), pid) for pid in range(1, 30))
    by_pid = visible_sessions(rows, SessionView(sort="pid"), None, memo)
    by_pid_back = visible_sessions(rows, SessionView(sort="pid", reverse=True), None, memo)
    assert [s.pid for s in by_pid_back] == [s.pid for s in reversed(by_pid)]
    web, batch = parse_filter("app:web"), parse_filter("app:batch")
    now = ago(0)
    only_web = visible_sessions(rows, SessionView(), lambda s: web.matches(s, now), memo, web)
    only_batch = visible_sessions(rows, SessionView(), lambda s: batch.matches(s, now), memo, batch)
    assert {s.application for s in only_web} <= {"web"}
    assert {s.application for s in only_batch} <= {"batch"}


def test_state_counts_kept_from_changed_sessions_equal_a_full_recount() -> None:
    rng = random.Random(5)
    sessions = [_random_session(rng, pid) for pid in range(1, 61)]
    next_pid = 60
    for _ in range(60):  # a few sessions change, end or start per poll
        for _ in range(rng.randint(0, 5)):
            i = rng.randrange(len(sessions))
            sessions[i] = _random_session(rng, sessions[i].pid)
        for _ in range(rng.randint(0, 2)):
            sessions.pop(rng.randrange(len(sessions)))
        for _ in range(rng.randint(0, 2)):
            next_pid += 1
            sessions.append(_random_session(rng, next_pid))
        assert count_states(tuple(sessions)) == count_states(list(sessions))  # list: recount
