"""Which sessions the sessions pane lists, and in what order: pure, unit-tested.

A `SessionView` (sort column, direction, filter, toggles) is immutable: the UI holds the
current one, replaces it when a key changes the order or the filter, and calls
`visible_sessions` with it on each snapshot.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from itertools import compress
from operator import not_
from typing import Any, NamedTuple

from pgtop.model.changes import changes
from pgtop.model.records import (
    ACTIVE,
    CLIENT_BACKEND,
    IDLE,
    IDLE_IN_TRANSACTION,
    IDLE_IN_TRANSACTION_ABORTED,
    Session,
)

# Lower sorts first in the default order: the sessions a DBA worries about on top.
_STATE_RANK = {
    IDLE_IN_TRANSACTION_ABORTED: 0,
    IDLE_IN_TRANSACTION: 1,
    ACTIVE: 2,
    "fastpath function call": 3,
    "disabled": 4,
    IDLE: 5,
}


def _ts(value: datetime | None) -> float:
    """Older timestamps sort as 'longer'; missing ones sort last in either direction."""
    return value.timestamp() if value is not None else float("inf")


def activity_age_start(s: Session) -> datetime | None:
    """When what the AGE column measures began: the query for active, else the state."""
    return s.query_start if s.state == ACTIVE else s.state_change


SortKey = Callable[[Session], Any]

# name -> (key, do the values shown descend?). Ages sort by start time, oldest first, so
# the ages on screen descend (▼) until reversed.
SORT_KEYS: dict[str, tuple[SortKey, bool]] = {
    "pid": (lambda s: s.pid, False),
    "database": (lambda s: (s.database or "").lower(), False),
    "user": (lambda s: (s.user or "").lower(), False),
    "application": (lambda s: s.application.lower(), False),
    "client": (lambda s: (s.client_addr or "", s.client_port or 0), False),
    "state": (lambda s: _STATE_RANK.get(s.state or "", 6), False),
    "wait": (lambda s: (s.wait_event_type or "~", s.wait_event or ""), False),
    "backend_age": (lambda s: _ts(s.backend_start), True),
    "xact_age": (lambda s: _ts(s.xact_start), True),
    "age": (lambda s: _ts(activity_age_start(s)), True),
    "blocked_by": (lambda s: (-len(s.blocked_by), s.blocked_by), False),
    "query": (lambda s: s.query.lower(), False),
}
SORT_NAMES = {"backend_age": "connection age", "xact_age": "xact age", "age": "age in state"}
DEFAULT_ORDER = "default (state, age)"


# Sorts after every time: a session without that start goes last. Timestamps are aware
# (asyncpg's, and recordings refuse naive ones: codec.sane_time), so they compare with it.
_NO_START = datetime.max.replace(tzinfo=UTC)


def _default_key(s: Session) -> tuple[int, datetime, datetime, int]:
    """Client sessions first, by state rank, then longest transaction / activity first.

    Datetimes compared as they are: under churn this runs for every changed session of
    every poll, and `.timestamp()` on an aware datetime was half its cost."""
    state = s.state
    return (
        (0 if s.backend_type == CLIENT_BACKEND else 10) + _STATE_RANK.get(state or "", 6),
        s.xact_start or _NO_START,
        (s.query_start if state == ACTIVE else s.state_change) or _NO_START,
        s.pid,
    )


class SessionView(NamedTuple):
    sort: str | None = None  # None: the default order above
    reverse: bool = False
    hide_idle: bool = False
    only_waiting_or_blocking: bool = False
    # Infrastructure (checkpointer, walwriter...) has no state; listed only on request.
    show_system: bool = False

    def with_sort(self, column: str | None) -> SessionView:
        """Sorted by `column` (None: the default order); the same column again reverses."""
        if column == self.sort:
            return self._replace(reverse=not self.reverse)
        return self._replace(sort=column, reverse=False)


def sort_name(column: str | None) -> str:
    """How a sort order is called on screen."""
    if column is None:
        return DEFAULT_ORDER
    return SORT_NAMES.get(column, column.replace("_", " "))


def sort_descends(view: SessionView) -> bool:
    """Whether the sorted column's values go down the screen largest first (▼)."""
    natural = SORT_KEYS[view.sort][1] if view.sort in SORT_KEYS else False
    return natural != view.reverse


def sort_label(view: SessionView) -> str:
    """The order in words for the header: the default is named, so it can be found again."""
    if view.sort not in SORT_KEYS:
        return f"sort: {DEFAULT_ORDER}" + (" reversed" if view.reverse else "")
    return f"sort: {sort_name(view.sort)} {'▼' if sort_descends(view) else '▲'}"


def blockers_of(sessions: list[Session] | tuple[Session, ...]) -> set[int]:
    """Pids that block at least one other session."""
    return {pid for s in sessions for pid in s.blocked_by}


class ViewMemo:
    """What `visible_sessions` computed for the sessions of the last call, kept by the
    caller (one per sessions pane) so that a poll costs what changed, not what exists.

    Sessions are immutable and collectors (and the replay) hand back the very same
    object for a session that did not change. The memo keeps the passing sessions in
    ascending key order with their keys; a new call finds which objects came or went
    (in C: a dict and two set differences over ids), drops the gone ones from the order
    (in C: compress), and asks only the new ones whether they pass the view's toggles
    and the filter and what their sort key is, then places them by bisection. Reversing
    the order is a slice. Nothing of sessions no longer listed is kept.
    """

    def __init__(self) -> None:
        self._for: tuple[object, ...] | None = None  # what the cached facts depend on
        self._forget_all(None)

    def _forget_all(self, depends_on: tuple[object, ...] | None) -> None:
        self._for = depends_on
        self._sessions: tuple[Session, ...] | list[Session] | None = None
        self._objs: dict[int, Session] = {}  # the last call's sessions: ids are not reused
        self._order: list[Session] = []  # those that pass, ascending by key
        self._keys: list[Any] = []  # their sort keys, position for position

    def _take(
        self,
        sessions: tuple[Session, ...] | list[Session],
        passes: Callable[[Session], bool],
        key_of: SortKey,
    ) -> None:
        old = self._objs
        change = changes(old, sessions)  # worked out once per poll for every memo
        objs, gone = change.objs, change.gone
        if len(objs) != len(sessions):  # an object listed twice: no identity to go by
            self._forget_all(self._for)
            came: Iterable[Session] = sessions
        else:
            if gone and self._order:
                keep = list(map(not_, map(gone.__contains__, map(id, self._order))))
                if not all(keep):
                    self._order = list(compress(self._order, keep))
                    self._keys = list(compress(self._keys, keep))
            came = map(objs.__getitem__, change.came)
            self._objs = objs
        self._sessions = sessions if isinstance(sessions, tuple) else None
        new = [s for s in came if passes(s)]
        if not new:
            return
        new_keys = list(map(key_of, new))
        ranked = sorted(range(len(new)), key=new_keys.__getitem__)
        order, keys = self._order, self._keys
        if not order:
            self._order = [new[j] for j in ranked]
            self._keys = [new_keys[j] for j in ranked]
            return
        # Each new session goes where bisection puts it (keys are unique: they end with
        # the pid); the runs of kept sessions between them are copied as slices.
        out_order: list[Session] = []
        out_keys: list[Any] = []
        at = 0
        for j in ranked:
            k = new_keys[j]
            to = bisect_left(keys, k, at)
            out_order += order[at:to]
            out_keys += keys[at:to]
            out_order.append(new[j])
            out_keys.append(k)
            at = to
        out_order += order[at:]
        out_keys += keys[at:]
        self._order, self._keys = out_order, out_keys

    def visible(
        self,
        sessions: tuple[Session, ...] | list[Session],
        view: SessionView,
        matches: Callable[[Session], bool] | None,
        matches_id: object,
        passes: Callable[[Session], bool],
        key_of: SortKey,
    ) -> tuple[list[Session], list[Any]]:
        """The sessions that pass and their sort keys, in ascending key order (whatever
        `view.reverse` says: the caller reverses)."""
        depends_on = (view.show_system, view.hide_idle, key_of, matches_id)
        if depends_on != self._for or (matches is not None and matches_id is None):
            self._forget_all(depends_on)
        if sessions is not self._sessions:
            self._take(sessions, passes, key_of)
        return list(self._order), list(self._keys)


def _first_unknown(keys: list[Any]) -> int:
    """Where the ascending keys of an age column reach the sessions without that age
    (_ts gives them infinity: they sort last); len(keys) when there are none."""
    unknown = float("inf")
    if not keys or not isinstance(keys[-1][0], float) or keys[-1][0] != unknown:
        return len(keys)
    return bisect_left(keys, (unknown,))


def _with_pid(key: SortKey) -> SortKey:
    return lambda s: (key(s), s.pid)


# Per column, (the column's value, pid): pids are unique, so no two keys tie.
_COLUMN_KEYS: dict[str, SortKey] = {name: _with_pid(key) for name, (key, _) in SORT_KEYS.items()}


def _passes_toggles(view: SessionView) -> Callable[[Session], bool]:
    """Whether a session passes the view's toggles (not the lock-only one: that depends
    on the other sessions)."""

    def passes(s: Session) -> bool:
        listed = s.is_client or s.state is not None
        if not view.show_system and not listed:
            return False
        return not (view.hide_idle and (s.state == IDLE or not listed))

    return passes


def visible_sessions(
    sessions: tuple[Session, ...] | list[Session],
    view: SessionView,
    matches: Callable[[Session], bool] | None = None,
    memo: ViewMemo | None = None,
    matches_id: object = None,
) -> list[Session]:
    """The sessions listed under `view`, in its order. With a `memo` (the caller's, kept
    between calls) the same list costs only what changed since the last call;
    `matches_id` is the filter's identity when its verdicts do not depend on the time
    (None: every session is asked again)."""
    column = view.sort if view.sort in SORT_KEYS else None
    key_of = _default_key if column is None else _COLUMN_KEYS[column]
    if memo is not None:
        toggles = _passes_toggles(view)
        passes = toggles if matches is None else lambda s: toggles(s) and matches(s)
        rows, keys = memo.visible(sessions, view, matches, matches_id, passes, key_of)
        if view.reverse:
            # Reversed, the sessions without that age would come first: they go last.
            cut = _first_unknown(keys) if column is not None else len(keys)
            rows = rows[cut - 1 :: -1] + rows[: cut - 1 : -1] if cut else rows[::-1]
            keys = keys[cut - 1 :: -1] + keys[: cut - 1 : -1] if cut else keys[::-1]
        if view.only_waiting_or_blocking:
            blocking = blockers_of(sessions)
            rows = [s for s in rows if s.blocked_by or s.pid in blocking]
        return rows
    rows = list(sessions)
    if not view.show_system:
        rows = [s for s in rows if s.is_client or s.state is not None]
    if view.hide_idle:
        rows = [s for s in rows if s.state != IDLE and (s.is_client or s.state is not None)]
    if view.only_waiting_or_blocking:
        blocking = blockers_of(sessions)
        rows = [s for s in rows if s.blocked_by or s.pid in blocking]
    if matches is not None:
        rows = [s for s in rows if matches(s)]
    rows.sort(key=key_of, reverse=view.reverse)
    if column is not None and view.reverse:
        # Reversed, the sessions without that age would come first: they go last.
        unknown = float("inf")
        keys = [key_of(s) for s in rows]
        known = [s for s, k in zip(rows, keys, strict=True) if k[0] != unknown]
        rows = known + [s for s, k in zip(rows, keys, strict=True) if k[0] == unknown]
    return rows
