"""Reusing a lock waiter's blockers for a few seconds instead of asking every tick.

pg_blocking_pids() copies the lock manager's state on each call, once per waiter: in a
lock pile-up (exactly when pgtop is opened) that is hundreds of copies a second. So an
answer is reused for up to REUSE_FOR seconds, but only while nothing it rests on moved:

- the waiter is in the same wait (same backend, state_change and wait event). The
  server checks this itself (sessions.sql gets the waits of `reusable`): a waiter in a
  new wait is asked in the same poll, never left without blockers;
- every blocker is still there in the same transaction and state (a lock is held until
  its transaction ends). When one ended or moved on, the waiter is asked again in the
  same poll (`fill` names it, the collector asks with blockers.sql).

An empty answer (the waiter got its lock between reading pg_stat_activity and asking),
or one naming a blocker pgtop does not list (0, a prepared transaction), is never reused.

A waiter's record is rebuilt each poll (its blockers are filled in), so a waiter equal
to what the last poll showed is handed out as last poll's very object: the memos
downstream (findings, view) treat a new object as a changed session.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import datetime
from itertools import compress, count, repeat
from operator import attrgetter, eq
from typing import NamedTuple

from pgtop.model.records import Session, replace_session

REUSE_FOR = 5.0

WaitKey = tuple[datetime | None, datetime | None, str | None]
# What a blocker looked like when it was named: its transaction and state began then.
Fingerprint = tuple[datetime | None, datetime | None]


class _Known(NamedTuple):
    wait: WaitKey
    blockers: tuple[int, ...]
    fingerprints: tuple[Fingerprint, ...]
    asked_at: float


class Reusable(NamedTuple):
    """Waits whose blockers pgtop knows, as parallel lists for sessions.sql."""

    pids: list[int]
    backend_starts: list[datetime | None]
    state_changes: list[datetime | None]
    wait_events: list[str | None]


SessionOf = Callable[[int], Session | None]  # a listed session by pid
_PID = attrgetter("pid")
_WAIT_TYPE = attrgetter("wait_event_type")


def _by_pid(sessions: tuple[Session, ...]) -> dict[int, Session]:
    return dict(zip(map(_PID, sessions), sessions, strict=True))  # in C


def _where(flags: Iterable[bool]) -> list[int]:
    """The positions of the true flags. Lock waiters are a few of 1,000 sessions: they
    are looked for in C (a Python pass over every session was ~5 % of pgtop's CPU), and
    only they are then handled in Python."""
    return list(compress(count(), flags))


def _wait(s: Session) -> WaitKey:
    return (s.backend_start, s.state_change, s.wait_event)


def _fingerprint(s: Session | None) -> Fingerprint | None:
    return None if s is None else (s.xact_start, s.state_change)


class BlockerCache:
    def __init__(self) -> None:
        self._known: dict[int, _Known] = {}
        # pid -> the lock waiters handed out by the last poll (`_before`) and by this one
        # (`_shown`, fill then answer): one equal to the last poll's is handed out as it.
        self._before: dict[int, Session] = {}
        self._shown: dict[int, Session] = {}

    def reusable(self, now: float) -> Reusable:
        """Waits the server need not ask pg_blocking_pids() about, if still the same."""
        fresh = {pid: k for pid, k in self._known.items() if now - k.asked_at < REUSE_FOR}
        return Reusable(
            pids=list(fresh),
            backend_starts=[k.wait[0] for k in fresh.values()],
            state_changes=[k.wait[1] for k in fresh.values()],
            wait_events=[k.wait[2] for k in fresh.values()],
        )

    def fill(
        self,
        sessions: tuple[Session, ...],
        asked: set[int],
        now: float,
        *,
        waiters_within: int | None = None,
        session_of: SessionOf | None = None,
    ) -> tuple[tuple[Session, ...], list[int]]:
        """Sessions with blockers filled in for waiters the server was not asked about,
        and the waiters whose known blockers no longer hold: ask about those now.

        `asked`: pids whose blockers the server read in this poll. `waiters_within`:
        every lock waiter is among that many first sessions (the collector's rows sent
        this poll come first, and a waiter is always sent); `session_of`: the listed
        session of a pid, when the caller has them by pid (else they are mapped here).
        """
        known: dict[int, _Known] = {}
        stale: list[int] = []
        self._before, self._shown = self._shown, {}
        head = sessions if waiters_within is None else sessions[:waiters_within]
        waiting = _where(map(eq, repeat("Lock"), map(_WAIT_TYPE, head)))
        if not waiting:
            self._known = known
            return sessions, stale
        by_pid = session_of or _by_pid(sessions).get
        out = list(sessions)
        for i in waiting:
            s = out[i]
            k = self._known.get(s.pid)
            if s.pid in asked:
                self._remember(known, s, s.blocked_by, by_pid, now)
            elif k is not None and k.wait == _wait(s) and self._still_hold(k, by_pid):
                s = replace_session(s, blocked_by=k.blockers)
                known[s.pid] = k  # keeps its age: asked again when it expires
            else:
                stale.append(s.pid)
            out[i] = self._as_before(s, self._before.get(s.pid))
        self._known = known
        return tuple(out), stale

    def answer(
        self, sessions: tuple[Session, ...], answers: dict[int, tuple[int, ...]], now: float
    ) -> tuple[Session, ...]:
        """Sessions with the blockers just read for the waiters `fill` named."""
        by_pid = _by_pid(sessions).get
        out = list(sessions)
        for i in _where(map(answers.__contains__, map(_PID, sessions))):
            s = replace_session(out[i], blocked_by=answers[out[i].pid])
            self._remember(self._known, s, s.blocked_by, by_pid, now)
            out[i] = self._as_before(s, self._before.get(s.pid))
        return tuple(out)

    def handed_out(self) -> list[Session]:
        """The lock waiters as this poll hands them out (after fill, and answer if any)."""
        return list(self._shown.values())

    def _as_before(self, s: Session, before: Session | None) -> Session:
        """`before` (what the last poll handed out for this pid) when `s` equals it, else
        `s`; remembered for the next poll either way. Only waiters come here: few."""
        if before is not None and before is not s and before == s:
            s = before
        self._shown[s.pid] = s
        return s

    @staticmethod
    def _remember(
        known: dict[int, _Known],
        s: Session,
        blockers: tuple[int, ...],
        by_pid: SessionOf,
        now: float,
    ) -> None:
        prints = tuple(_fingerprint(by_pid(p)) for p in blockers)
        # Nothing to check an unlisted blocker against (pid 0 is a prepared transaction).
        if blockers and None not in prints:
            known[s.pid] = _Known(_wait(s), blockers, prints, now)

    @staticmethod
    def _still_hold(k: _Known, by_pid: SessionOf) -> bool:
        """Every blocker is still there, in the transaction and state it was in."""
        return all(
            f == _fingerprint(by_pid(p)) for p, f in zip(k.blockers, k.fingerprints, strict=True)
        )
