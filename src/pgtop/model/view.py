"""Which sessions the sessions pane lists, and in what order: pure, unit-tested.

A `SessionView` (sort column, direction, filter, toggles) is immutable: the UI holds the
current one, replaces it when a key changes the order or the filter, and calls
`visible_sessions` with it on each snapshot.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime
from itertools import compress
from operator import not_
from typing import Any

from pgtop.model.records import (
    ACTIVE,
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


def _default_key(s: Session) -> tuple[int, float, float, int]:
    """Client sessions first, by state rank, then longest transaction / activity first."""
    return (
        (0 if s.is_client else 1) * 10 + _STATE_RANK.get(s.state or "", 6),
        _ts(s.xact_start),
        _ts(activity_age_start(s)),
        s.pid,
    )


@dataclass(frozen=True, slots=True)
class SessionView:
    sort: str | None = None  # None: the default order above
    reverse: bool = False
    hide_idle: bool = False
    only_waiting_or_blocking: bool = False
    # Infrastructure (checkpointer, walwriter...) has no state; listed only on request.
    show_system: bool = False

    def with_sort(self, column: str | None) -> SessionView:
        """Sorted by `column` (None: the default order); the same column again reverses."""
        if column == self.sort:
            return replace(self, reverse=not self.reverse)
        return replace(self, sort=column, reverse=False)


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
    object for a session that did not change, so facts are cached by identity: whether
    a session passes the view's toggles and the filter, and its sort key, are computed
    once per session object. The passes over every session that remain (which ids are
    new or gone, looking the cached facts up, the sort on the cached keys) run in C
    (map, set, compress, sorted), not as Python loops. The last order is handed to the
    sort again, so it finds one long sorted run plus the changed rows. Entries of
    sessions no longer listed are dropped each call: nothing grows with time.
    """

    def __init__(self) -> None:
        self._for: tuple[object, ...] | None = None  # what the cached facts depend on
        self._objs: dict[int, Session] = {}  # holds each session: its id is not reused
        self._passes: dict[int, bool] = {}
        self._keys: dict[int, Any] = {}
        self._last_order: list[Session] = []

    def _forget_all(self, depends_on: tuple[object, ...]) -> None:
        self._for = depends_on
        self._objs, self._passes, self._keys, self._last_order = {}, {}, {}, []

    def _update(
        self,
        sessions: tuple[Session, ...] | list[Session],
        ids: list[int],
        passes: Callable[[Session], bool],
        key_of: SortKey,
    ) -> None:
        """Facts for the sessions new since the last call; none for those gone."""
        objs = self._objs
        now_ids = set(ids)
        gone = objs.keys() - now_ids
        for i in gone:
            del objs[i], self._passes[i], self._keys[i]
        if len(objs) != len(now_ids):
            new = list(compress(sessions, map(not_, map(objs.__contains__, ids))))
            for s in new:
                i = id(s)
                objs[i] = s
                self._passes[i] = passes(s)
                self._keys[i] = key_of(s)

    def visible(
        self,
        sessions: tuple[Session, ...] | list[Session],
        view: SessionView,
        matches: Callable[[Session], bool] | None,
        matches_id: object,
        passes: Callable[[Session], bool],
        key_of: SortKey,
    ) -> tuple[list[Session], list[Any]]:
        """The sessions that pass, sorted, and their sort keys."""
        depends_on = (view.show_system, view.hide_idle, key_of, matches_id)
        if depends_on != self._for or (matches is not None and matches_id is None):
            self._forget_all(depends_on)
        ids = list(map(id, sessions))
        self._update(sessions, ids, passes, key_of)
        # Last call's order first (those still listed and passing), then the rest.
        shown_ids = set(compress(ids, map(self._passes.__getitem__, ids)))
        last = self._last_order
        kept = list(compress(last, map(shown_ids.__contains__, map(id, last))))
        if len(kept) != len(shown_ids):  # new, changed or newly passing: sorted in below
            kept += map(self._objs.__getitem__, shown_ids.difference(map(id, kept)))
        keys = list(map(self._keys.__getitem__, map(id, kept)))
        order = sorted(range(len(kept)), key=keys.__getitem__, reverse=view.reverse)
        return list(map(kept.__getitem__, order)), list(map(keys.__getitem__, order))

    def remember(self, order: list[Session]) -> None:
        self._last_order = order


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
    keys: list[Any] | None = None
    if memo is not None:
        toggles = _passes_toggles(view)
        passes = toggles if matches is None else lambda s: toggles(s) and matches(s)
        rows, keys = memo.visible(sessions, view, matches, matches_id, passes, key_of)
        if view.only_waiting_or_blocking:
            blocking = blockers_of(sessions)
            pairs = [
                (s, k) for s, k in zip(rows, keys, strict=True) if s.blocked_by or s.pid in blocking
            ]
            rows, keys = [s for s, _ in pairs], [k for _, k in pairs]
    else:
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
        if keys is None:
            keys = [key_of(s) for s in rows]
        known = [s for s, k in zip(rows, keys, strict=True) if k[0] != unknown]
        rows = known + [s for s, k in zip(rows, keys, strict=True) if k[0] == unknown]
    if memo is not None:
        memo.remember(rows)
    return rows
