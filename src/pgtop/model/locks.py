"""Who holds whom up: lock trees and how many sessions wait behind a blocker. Pure.

Everything here reads `Session.blocked_by` (pg_blocking_pids() of lock waiters). A pid
there that the snapshot does not list is a blocker pgtop cannot show: 0 is a prepared
transaction, others are pgtop's own backends or sessions that ended meanwhile.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from itertools import compress, repeat
from operator import attrgetter, eq
from typing import NamedTuple

from pgtop.model.records import Session

_BLOCKED_BY = attrgetter("blocked_by")
_PID = attrgetter("pid")
_WAIT_TYPE = attrgetter("wait_event_type")


class TreeRow(NamedTuple):
    session: Session
    depth: int  # 0 for a root; its waiters 1, theirs 2, ...
    # A root only because its blocker is not listed (a prepared transaction, a session
    # that ended meanwhile): such roots come last, after every real root blocker.
    blocker_unknown: bool = False


def blockers_unknown(s: Session) -> bool:
    """Whether `s` waits, and on whom, is hidden: a role without pg_monitor sees other
    users' sessions without state, wait or start. Anyone else's blockers are known: the
    collector reads them in the poll that sees the wait."""
    return s.state is None and s.backend_start is None


def _waiters_of(sessions: Iterable[Session]) -> dict[int, list[Session]]:
    """blocker pid -> the sessions waiting on it directly."""
    out: dict[int, list[Session]] = {}
    for s in filter(_BLOCKED_BY, sessions):  # the few that wait, picked out in C
        for blocker in set(s.blocked_by):  # a blocker may be listed more than once
            if blocker != s.pid:
                out.setdefault(blocker, []).append(s)
    return out


# The last tuple of sessions waiters_behind counted, and its answer: the sessions pane
# asks again for each redraw of one poll (a key that re-sorts), the inspect screen and
# the acting keys for the same poll. Tuples only: they cannot change. Replaced whole.
_last_behind: tuple[tuple[Session, ...], dict[int, int]] | None = None


def waiters_behind(sessions: Iterable[Session]) -> dict[int, int]:
    """pid -> how many sessions wait behind it, directly or behind its waiters, each
    counted once. Only blockers are keys. What "blocks N" shows on a blocker's row.
    The answer is shared between callers for the same tuple: do not change it."""
    global _last_behind
    last = _last_behind
    if last is not None and last[0] is sessions:
        return last[1]
    counts = _count_behind(sessions)
    if isinstance(sessions, tuple):
        _last_behind = (sessions, counts)
    return counts


def _count_behind(sessions: Iterable[Session]) -> dict[int, int]:
    direct = {b: [w.pid for w in ws] for b, ws in _waiters_of(sessions).items()}
    bit: dict[int, int] = {}
    for pid in (p for ws in direct.values() for p in ws):
        bit.setdefault(pid, 1 << len(bit))
    clean: dict[int, int] = {}  # pid -> bitmask of every session waiting behind it
    counts: dict[int, int] = {}
    for start in direct:
        if start in clean:
            counts[start] = clean[start].bit_count()
            continue
        # Iterative post-order walk (a queue of a thousand waiters would overflow
        # recursion). A waiter met again on the current path is a deadlock cycle (the
        # server breaks it within deadlock_timeout): not followed, and what was found
        # below it is not remembered for reuse, as it depends on where the walk began.
        on_path = {start}
        acc = {start: 0}
        cyclic: set[int] = set()
        stack = [(start, iter(direct.get(start, ())))]
        while stack:
            node, children = stack[-1]
            child = next(children, None)
            if child is None:
                stack.pop()
                on_path.discard(node)
                mask = acc.pop(node)
                if node not in cyclic:
                    clean[node] = mask
                if stack:
                    parent = stack[-1][0]
                    acc[parent] |= mask | bit[node]
                    if node in cyclic:
                        cyclic.add(parent)
                else:
                    counts[node] = mask.bit_count()
            elif child in clean:
                acc[node] |= clean[child] | bit[child]
            elif child in on_path:
                cyclic.add(node)
            else:
                on_path.add(child)
                acc[child] = 0
                stack.append((child, iter(direct.get(child, ()))))
    return counts


def _ts(value: datetime | None) -> float:
    return value.timestamp() if value is not None else float("inf")


def blocking_tree(
    sessions: Sequence[Session], behind: dict[int, int] | None = None
) -> list[TreeRow]:
    """Sessions in lock trees, depth-first: each root blocker, then its waiters under it.

    Roots first by how many sessions wait behind them in all, then oldest transaction
    first. A root blocks others and waits on nobody. Waiters whose blockers are not listed
    come after them, as roots marked `blocker_unknown`; a deadlock cycle (no root) last,
    from its oldest member. `behind` is waiters_behind(sessions), if already computed.
    """
    if behind is None:
        behind = waiters_behind(sessions)
    by_pid = dict(zip(map(_PID, sessions), sessions, strict=True))
    waiters = _waiters_of(sessions)

    def weight(s: Session) -> tuple[int, float, float, int]:
        return (-behind.get(s.pid, 0), _ts(s.xact_start), _ts(s.state_change), s.pid)

    roots: list[Session] = []
    unknown: list[Session] = []
    # Only a session that waits, waits on a lock or blocks one can be a root or unknown:
    # those are picked out in C, in their listed order, not looked at one by one.
    waits = map(bool, map(_BLOCKED_BY, sessions))
    on_lock = map(eq, repeat("Lock"), map(_WAIT_TYPE, sessions))
    blocks = map(waiters.__contains__, map(_PID, sessions))
    for s in compress(sessions, map(any, zip(waits, on_lock, blocks, strict=True))):
        listed = [b for b in s.blocked_by if b in by_pid and b != s.pid]
        if listed:
            continue
        if s.blocked_by or (s.waits_on_lock and s.pid not in waiters):
            unknown.append(s)
        elif s.pid in waiters:
            roots.append(s)
    # Each waiter goes under its blocker nearest a root (breadth first): in a queue where
    # each waiter is also blocked by all those ahead of it, that is the holder, not a
    # chain as deep as the queue.
    children: dict[int, list[Session]] = {}
    placed: set[int] = set()
    tops: list[tuple[Session, bool]] = []
    every_waiter = {w.pid for ws in waiters.values() for w in ws}

    def place(group: list[Session], unknown_root: bool) -> None:
        level = [s for s in sorted(group, key=weight) if s.pid not in placed]
        placed.update(s.pid for s in level)
        tops.extend((s, unknown_root) for s in level)
        while level:
            below: list[Session] = []
            for s in level:
                mine = [w for w in waiters.get(s.pid, ()) if w.pid not in placed]
                placed.update(w.pid for w in mine)
                children[s.pid] = sorted(mine, key=weight)
                below.extend(children[s.pid])
            level = below

    place(roots, False)
    place(unknown, True)
    # Deadlock cycles have no root; the server breaks them within deadlock_timeout.
    while every_waiter - placed:
        place([min((by_pid[p] for p in every_waiter - placed), key=weight)], False)
    out: list[TreeRow] = []
    for top, unknown_root in tops:
        stack = [(top, 0)]
        while stack:
            s, depth = stack.pop()
            out.append(TreeRow(s, depth, unknown_root and depth == 0))
            stack.extend((w, depth + 1) for w in reversed(children.get(s.pid, ())))
    return out


def keep_with_ancestors(tree: list[TreeRow], keep: set[int]) -> list[TreeRow]:
    """The rows of `tree` whose session is in `keep`, with the blockers above them: a
    filter that hides a root blocker would otherwise leave its waiters headless."""
    kept: list[TreeRow] = []
    needed_depth = -1  # rows shallower than this, met walking back up, are ancestors
    for row in reversed(tree):
        if row.session.pid in keep or row.depth < needed_depth:
            kept.append(row)
            needed_depth = row.depth
        if row.depth == 0:
            needed_depth = -1
    kept.reverse()
    return kept


def root_of(tree: list[TreeRow], pid: int) -> TreeRow | None:
    """The root of the lock tree `pid` is in (itself when it is a root); None when it
    neither waits on a lock nor blocks anyone."""
    root: TreeRow | None = None
    for row in tree:
        if row.depth == 0:
            root = row
        if row.session.pid == pid:
            return root
    return None


def tree_guides(depths: Sequence[int]) -> list[str]:
    """The guide drawn before each row of a depth-first tree: "├─ ", "└─ " and "│  "
    columns, as `tree` draws them; "" for roots."""
    guides: list[str] = [""] * len(depths)
    more_below: list[bool] = []  # per depth: a later sibling follows at that depth
    for i in range(len(depths) - 1, -1, -1):
        d = depths[i]
        if len(more_below) <= d:
            more_below.extend([False] * (d + 1 - len(more_below)))
        if d:
            bars = "".join("│  " if more_below[k] else "   " for k in range(1, d))
            guides[i] = bars + ("├─ " if more_below[d] else "└─ ")
        more_below[d] = True
        del more_below[d + 1 :]
    return guides
