"""The sessions each finding kind looks at, kept from one snapshot to the next.

Most findings concern a few sessions of many (those idle in a transaction, holding an
old xmin, waiting on a lock, idle for long, just connected), but finding them meant a
Python loop over every session on every poll: at 50,000 sessions most of a frame. A
`SessionIndex` keeps those groups up to date from the sessions that are new objects or
gone since the last call (collectors and the replay keep an unchanged session the same
object, and sessions are immutable), so a poll costs what changed; the kind modules
then look at their group alone. Time-dependent tests (how long idle, how young) are
still made per poll, over the group only. Lock trees are kept per pile (locktrees.py).

Its one writer is `derive_findings`, which calls `update` with the snapshot it derives
from; the caller keeps it between polls inside `FindingHistory` (without one, a fresh
index is built for the single snapshot). A cache: dropping it changes no result.
"""

from __future__ import annotations

from collections import Counter
from datetime import datetime
from functools import lru_cache

from pgtop.model.changes import changes
from pgtop.model.findings.base import IDLE_IN_XACT_STATES
from pgtop.model.findings.locktrees import LockTrees
from pgtop.model.locks import TreeRow
from pgtop.model.pooler_join import client_app_shown
from pgtop.model.records import CLIENT_BACKEND, IDLE, Session

# An index rebuilt from scratch when more than this share of the sessions changed: then
# one pass over all is cheaper than removing and adding most of them.
_REBUILD_SHARE = 0.5
XID_SPACE = 1 << 32  # transaction ids wrap around at 2**32; ages are counted modulo it


class SessionIndex:
    def __init__(self) -> None:
        self._clear()
        # Lock trees per pile, by session object: outlives a rebuild of the groups.
        self._lock_trees = LockTrees()

    def _clear(self) -> None:
        self._sessions: tuple[Session, ...] | None = None
        self._objs: dict[int, Session] = {}  # id -> session: holds them, ids are not reused
        self.by_pid: dict[int, Session] = {}
        # Client sessions per shown application and per role: counted from every session
        # when first asked (only a server near full asks), then kept up to date.
        self._counts: tuple[Counter[str], Counter[str]] | None = None
        # Client backends only (background workers never count), by id():
        self.idle_in_transaction: dict[int, Session] = {}
        self.xid_holders: dict[int, Session] = {}  # with a backend_xmin or backend_xid
        # Their xmin and xid as numbers modulo 2**32, parsed once per session, not per poll.
        self.held_xids: dict[int, tuple[int, ...]] = {}
        self.started: dict[int, Session] = {}  # with a known backend_start
        # (application, role) -> idle sessions not held by a pooler: leak candidates
        self.idle: dict[tuple[str, str], dict[int, Session]] = {}
        # Any backend waiting (blocked_by) or on a lock: the lock trees start from these.
        self.waiting: dict[int, Session] = {}
        # started_since's last answer, and the started sessions added since: a session
        # too old for one `since` stays too old for any later one.
        self._young: tuple[datetime, dict[int, Session]] | None = None
        self._started_lately: list[tuple[int, Session]] = []

    def update(self, sessions: tuple[Session, ...] | list[Session]) -> None:
        """Bring the groups to `sessions` (the snapshot's, in any order)."""
        if sessions is self._sessions:
            return
        old = self._objs
        change = changes(old, sessions)  # worked out once per poll for every memo
        objs, gone, came = change.objs, change.gone, change.came
        if len(objs) != len(sessions) or len(gone) + len(came) > _REBUILD_SHARE * len(objs):
            self._rebuild(objs)
        else:
            for i in gone:
                self._remove(i, old[i])
            for i in came:
                self._add(i, objs[i])
        self._objs = objs
        self._sessions = sessions if isinstance(sessions, tuple) else None

    def _rebuild(self, objs: dict[int, Session]) -> None:
        """The groups of `objs` from scratch, as `_add` of each would leave them (under
        churn, a rebuild every poll). One pass with the groups at hand: at 10,000
        sessions a pass per group costs more in memory reads than it saves in calls."""
        self._clear()
        by_pid, waiting = self.by_pid, self.waiting
        iit, xid, started, idle = self.idle_in_transaction, self.xid_holders, self.started, {}
        held = self.held_xids
        iit_states = IDLE_IN_XACT_STATES
        for i, s in objs.items():
            by_pid[s.pid] = s
            if s.blocked_by or s.wait_event_type == "Lock":
                waiting[i] = s
            if s.backend_type != CLIENT_BACKEND:
                continue
            state = s.state
            if state in iit_states:
                iit[i] = s
            if s.backend_xmin or s.backend_xid:
                xid[i] = s
                held[i] = _xid_numbers(s)
            if s.backend_start is not None:
                started[i] = s
            if state == IDLE and _leak_candidate(s):  # the state test skips a call
                key = (s.application, s.user or "")
                group = idle.get(key)
                if group is None:
                    group = idle[key] = {}
                group[i] = s
        self.idle = idle
        # _clear forgot started_since's last answer: its next call looks at all started.

    def _add(self, i: int, s: Session) -> None:
        self.by_pid[s.pid] = s
        if s.blocked_by or s.wait_event_type == "Lock":
            self.waiting[i] = s
        if s.backend_type != CLIENT_BACKEND:
            return
        if self._counts is not None:
            apps, roles = self._counts
            apps[client_app_shown(s)] += 1
            roles[s.user or ""] += 1
        state = s.state
        if state in IDLE_IN_XACT_STATES:
            self.idle_in_transaction[i] = s
        if s.backend_xmin or s.backend_xid:
            self.xid_holders[i] = s
            self.held_xids[i] = _xid_numbers(s)
        if s.backend_start is not None:
            self.started[i] = s
            self._started_lately.append((i, s))
        if state == IDLE and _leak_candidate(s):  # the state test skips a call
            self.idle.setdefault((s.application, s.user or ""), {})[i] = s

    def _remove(self, i: int, s: Session) -> None:
        if self.by_pid.get(s.pid) is s:  # else a new backend already took the pid
            del self.by_pid[s.pid]
        self.waiting.pop(i, None)
        if s.backend_type != CLIENT_BACKEND:
            return
        if self._counts is not None:
            apps, roles = self._counts
            _decrement(apps, client_app_shown(s))
            _decrement(roles, s.user or "")
        self.idle_in_transaction.pop(i, None)
        self.xid_holders.pop(i, None)
        self.held_xids.pop(i, None)
        self.started.pop(i, None)
        if s.state == IDLE and _leak_candidate(s):
            key = (s.application, s.user or "")
            group = self.idle[key]
            del group[i]
            if not group:
                del self.idle[key]

    @property
    def apps(self) -> Counter[str]:
        """Client sessions per application as shown (the client's behind PgBouncer)."""
        return self._client_counts()[0]

    @property
    def roles(self) -> Counter[str]:
        """Client sessions per role."""
        return self._client_counts()[1]

    def _client_counts(self) -> tuple[Counter[str], Counter[str]]:
        if self._counts is None:
            clients = [s for s in self._objs.values() if s.backend_type == CLIENT_BACKEND]
            self._counts = (
                Counter(map(client_app_shown, clients)),
                Counter(s.user or "" for s in clients),
            )
        return self._counts

    def started_since(self, since: datetime) -> list[Session]:
        """Client sessions whose backend started at or after `since`: from the last
        answer and the sessions added since, when `since` did not go back (a replay's
        jump); else from every started session (in C)."""
        last = self._young
        lately, self._started_lately = self._started_lately, []
        started = self.started
        if last is None or since < last[0] or len(lately) > len(started):
            candidates = list(started.items())
        else:
            candidates = [*last[1].items(), *lately]
        young = {
            i: s
            for i, s in candidates
            if started.get(i) is s and s.backend_start >= since  # type: ignore[operator]
        }
        self._young = (since, young)
        return list(young.values())

    def lock_sessions(self) -> list[Session]:
        """The sessions in any lock tree: those waiting, and the listed ones they wait on
        (what `waiters_behind` and `blocking_tree` need, in place of every session)."""
        out = dict(self.waiting)
        by_pid = self.by_pid
        for s in self.waiting.values():
            for pid in s.blocked_by:
                b = by_pid.get(pid)
                if b is not None:
                    out[id(b)] = b
        return list(out.values())

    def lock_trees(self) -> tuple[dict[int, int], list[TreeRow]]:
        """waiters_behind and blocking_tree of lock_sessions(), worked out again only for
        the piles that changed (locktrees.py)."""
        return self._lock_trees.update(self.lock_sessions())


def _xid_numbers(s: Session) -> tuple[int, ...]:
    """The session's xmin and xid (text, as the server sends them) as numbers modulo
    2**32, the space in which their age is counted; what is not a number is left out."""
    return _xid_pair(s.backend_xmin, s.backend_xid)


# Under churn a few hundred changed sessions a poll hold an xmin, most of them the same
# few: parsed once per distinct pair (a C cache), not once per session.
@lru_cache(maxsize=4096)
def _xid_pair(xmin: str | None, xid: str | None) -> tuple[int, ...]:
    return tuple(int(x) % XID_SPACE for x in (xmin, xid) if x and x.isdigit())


def _leak_candidate(s: Session) -> bool:
    # A pooler's idle server connections are its pool, not a leak.
    return (
        s.state == IDLE
        and s.state_change is not None
        and s.pooler is None
        and s.application.lower() != "pgbouncer"
    )


def _decrement(counter: Counter[str], key: str) -> None:
    left = counter[key] - 1
    if left > 0:
        counter[key] = left
    else:
        del counter[key]
