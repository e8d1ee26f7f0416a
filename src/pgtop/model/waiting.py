"""How many sessions wait behind a blocker, directly or through other waiters."""

from __future__ import annotations

from collections.abc import Iterable

from pgtop.model.records import Session


def waiting_behind(sessions: Iterable[Session]) -> dict[int, int]:
    """Blocker pid -> how many distinct sessions wait behind it, directly or transitively,
    from each session's `blocked_by`. Pids that block nobody are absent."""
    waiters: dict[int, set[int]] = {}
    for s in sessions:
        for blocker in s.blocked_by:
            if blocker != s.pid:
                waiters.setdefault(blocker, set()).add(s.pid)
    counts: dict[int, int] = {}
    for blocker in waiters:
        seen: set[int] = set()
        todo = list(waiters[blocker])
        while todo:
            pid = todo.pop()
            if pid in seen or pid == blocker:  # a cycle leads back: count nobody twice
                continue
            seen.add(pid)
            todo.extend(waiters.get(pid, ()))
        counts[blocker] = len(seen)
    return counts
