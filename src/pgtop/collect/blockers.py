"""Reusing a lock waiter's blockers for a few seconds instead of asking every tick.

pg_blocking_pids() copies the lock manager's state on each call, once per waiter: in a
lock pile-up (exactly when pgtop is opened) that is hundreds of copies a second. A
waiter still waiting on the same wait since the same moment is blocked by the same
sessions, minus those that ended, so its answer is reused for REUSE_FOR seconds and the
server is asked again after that. A waiter that moved on in between shows no blockers
for one poll, then fresh ones.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from datetime import datetime

from pgtop.model.records import Session

REUSE_FOR = 5.0


@dataclass(frozen=True, slots=True)
class _Known:
    key: tuple[datetime | None, datetime | None, str | None]
    blockers: tuple[int, ...]
    asked_at: float


def _key(s: Session) -> tuple[datetime | None, datetime | None, str | None]:
    return (s.backend_start, s.state_change, s.wait_event)


class BlockerCache:
    def __init__(self) -> None:
        self._known: dict[int, _Known] = {}

    def reusable(self, now: float) -> list[int]:
        """Waiters the server need not be asked about in this poll."""
        return [pid for pid, k in self._known.items() if now - k.asked_at < REUSE_FOR]

    def fill(
        self, sessions: tuple[Session, ...], skipped: list[int], now: float
    ) -> tuple[Session, ...]:
        """Sessions with blocked_by filled in for the waiters the server skipped."""
        skip = set(skipped)
        present = {s.pid for s in sessions}
        known: dict[int, _Known] = {}
        out = []
        for s in sessions:
            if s.waits_on_lock:
                if s.pid not in skip:
                    known[s.pid] = _Known(_key(s), s.blocked_by, now)
                else:
                    k = self._known.get(s.pid)
                    if k is not None and k.key == _key(s):
                        blockers = tuple(p for p in k.blockers if p in present)
                        s = dataclasses.replace(s, blocked_by=blockers)
                        known[s.pid] = k  # keeps its age: asked again when it expires
            out.append(s)
        self._known = known
        return tuple(out)
