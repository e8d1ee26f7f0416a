"""What findings need from earlier polls: connections in use and new backends over time.

Mutable, like model/history.py: the object that keeps it between polls (MonitorState)
is its only writer, and calls `observe` once per PostgreSQL snapshot, before deriving.
Without one (`--once`), findings use what a single snapshot shows.
"""

from __future__ import annotations

from collections import deque
from datetime import datetime
from itertools import repeat
from operator import attrgetter, ne

from pgtop.model.changes import changes
from pgtop.model.findings.index import SessionIndex
from pgtop.model.records import Session, Snapshot
from pgtop.model.tally import client_sessions

_PID = attrgetter("pid")
_BACKEND_START = attrgetter("backend_start")
_ABSENT = object()  # no client session with that pid at the last poll

KEEP_S = 900.0  # fifteen minutes: enough for "growth over the last minutes" and a baseline


class FindingHistory:
    def __init__(self) -> None:
        self._reset()
        # The sessions each finding kind looks at (derive_findings updates it): a cache
        # by session object, so a jump back in a replay needs no reset.
        self.index = SessionIndex()

    def _reset(self) -> None:
        # (server time, client connections in use, backends not seen at the poll before)
        self.polls: deque[tuple[datetime, int, int]] = deque()
        # The listed client backends: pid -> backend_start (a pid names one at a time).
        self._seen: dict[int, datetime | None] = {}
        self._last: Snapshot | None = None
        # The last snapshot's sessions by id(): a session object seen then is no new backend.
        self._objs: dict[int, Session] = {}

    def observe(self, snap: Snapshot) -> None:
        if snap is self._last:
            return
        now = snap.server.snapshot_time
        if self._last is not None and now <= self._last.server.snapshot_time:
            self._reset()  # a replay jumped back: start over rather than mix times
        # Collectors keep an unchanged session the same object, so only the sessions that
        # are new objects (or gone) are looked at in Python; finding those runs in C.
        change = changes(self._objs, snap.sessions)  # worked out once per poll
        objs = change.objs
        seen = self._seen
        # Under churn a poll brings a few hundred new objects, nearly all the same backend
        # in a changed row: matched by pid and backend_start in C, not as hashed tuples.
        came = client_sessions([objs[i] for i in change.came])
        came_pids = list(map(_PID, came))
        came_starts = list(map(_BACKEND_START, came))
        if self._last is not None:
            new = sum(map(ne, map(seen.get, came_pids, repeat(_ABSENT)), came_starts))
        else:
            new = 0
        seen.update(zip(came_pids, came_starts, strict=True))
        # A backend gone is forgotten unless its pid is listed again (the same backend in a
        # changed row, or a new one that took the pid: `update` already holds that one).
        old = self._objs
        for pid in {old[i].pid for i in change.gone}.difference(came_pids):
            seen.pop(pid, None)
        self._objs = objs
        self.polls.append((now, snap.limits.client_connections, new))
        while self.polls and (now - self.polls[0][0]).total_seconds() > KEEP_S:
            self.polls.popleft()
        self._last = snap

    def connections_ago(self, now: datetime, seconds: float) -> tuple[int, float] | None:
        """(connections in use, how long ago) at the oldest poll within `seconds` of `now`;
        None when no poll is at least half that old (too short a history to tell growth)."""
        for t, used, _ in self.polls:
            ago = (now - t).total_seconds()
            if ago <= seconds:
                return (used, ago) if ago >= seconds / 2 else None
        return None

    def usual_new_rate(self, now: datetime, window_s: float) -> float | None:
        """New backends per second before the last `window_s`; None with under a minute of
        history before it."""
        before = [(t, n) for t, _, n in self.polls if (now - t).total_seconds() > window_s]
        if len(before) < 2:
            return None
        span = (before[-1][0] - before[0][0]).total_seconds()
        if span < 60:
            return None
        return sum(n for _, n in before[1:]) / span
