"""Which sessions the sessions pane lists, and in what order: pure, unit-tested.

A `SessionView` (sort column, direction, filter, toggles) is immutable: the UI holds the
current one, replaces it when a key changes the order or the filter, and calls
`visible_sessions` with it on each snapshot.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime
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


def visible_sessions(
    sessions: tuple[Session, ...] | list[Session],
    view: SessionView,
    matches: Callable[[Session], bool] | None = None,
) -> list[Session]:
    rows: list[Session] = list(sessions)
    if not view.show_system:
        rows = [s for s in rows if s.is_client or s.state is not None]
    if view.hide_idle:
        rows = [s for s in rows if s.state != IDLE and (s.is_client or s.state is not None)]
    if view.only_waiting_or_blocking:
        blocking = blockers_of(sessions)
        rows = [s for s in rows if s.blocked_by or s.pid in blocking]
    if matches is not None:
        rows = [s for s in rows if matches(s)]
    if view.sort is None or view.sort not in SORT_KEYS:
        rows.sort(key=_default_key, reverse=view.reverse)
    else:
        key, _ = SORT_KEYS[view.sort]
        rows.sort(key=lambda s: (key(s), s.pid), reverse=view.reverse)
        if view.reverse:  # reversed, the sessions without that age would come first
            unknown = float("inf")
            rows = [s for s in rows if key(s) != unknown] + [s for s in rows if key(s) == unknown]
    return rows
