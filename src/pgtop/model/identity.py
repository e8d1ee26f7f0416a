"""A session's identity: its pid *and* when its backend started.

A pid alone names whichever backend holds it now: PostgreSQL's next backend may get the
pid of one that just ended. What must keep pointing at the session a user chose (a mark,
the inspected session, an action's target) keeps both, and lets go when they differ.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime

from pgtop.model.records import Session

SessionId = tuple[int, datetime | None]


def session_id(s: Session) -> SessionId:
    return (s.pid, s.backend_start)


def same_session(a: Session, b: Session) -> bool:
    return a.pid == b.pid and a.backend_start == b.backend_start


def split_marks(
    marked: Mapping[int, Session], sessions: Iterable[Session]
) -> tuple[dict[int, Session], list[Session]]:
    """The marks whose session still runs (with its record from `sessions`), and those
    whose session ended (gone, or its pid now held by another backend), as marked."""
    current = {s.pid: s for s in sessions}
    kept: dict[int, Session] = {}
    ended: list[Session] = []
    for pid, mark in marked.items():
        now = current.get(pid)
        if now is not None and same_session(now, mark):
            kept[pid] = now
        else:
            ended.append(mark)
    return kept, ended
