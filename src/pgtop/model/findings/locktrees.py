"""The lock trees findings look at, worked out per pile and kept while a pile stays put.

`waiters_behind` and `blocking_tree` (model/locks.py) over every session in a lock tree
were most of a poll's findings: on a busy server there are many piles (a blocker and
those waiting behind it), each worked out again on every poll although most did not
change. Both answers are a pile's own business: a waiter, whatever it waits on, and
what waits on it are joined to one pile, so counts and tree rows depend only on the
pile's sessions. Tree rows need no more than that either: roots, then blockers not
listed, then deadlock cycles, each in `blocking_tree`'s weight order, whose last term is
the pid; so the whole tree is the piles' trees merged by that order.

`LockTrees` keeps each pile's answer by its session objects (sessions are immutable and
collectors keep an unchanged one the same object), so a poll works out only the piles
that changed. Its one user is `derive_findings`, through the `SessionIndex` the caller
keeps between polls. A cache: dropping it changes no result.
"""

from __future__ import annotations

from datetime import datetime

from pgtop.model.locks import TreeRow, blocking_tree, waiters_behind
from pgtop.model.records import Session

_Weight = tuple[int, float, float, int]
# One top row of a pile's tree and the rows under it: (group, weight, rows). Group 0 a
# root, 1 a waiter whose blocker is not listed, 2 a deadlock cycle's first member.
_Top = tuple[int, _Weight, list[TreeRow]]
# A pile's sessions (held: their ids key the memo), its counts and its tree's tops.
_Pile = tuple[list[Session], dict[int, int], list[_Top]]


def _ts(value: datetime | None) -> float:  # as blocking_tree weighs them
    return value.timestamp() if value is not None else float("inf")


class LockTrees:
    def __init__(self) -> None:
        self._piles: dict[frozenset[int], _Pile] = {}

    def update(self, sessions: list[Session]) -> tuple[dict[int, int], list[TreeRow]]:
        """(waiters_behind(sessions), blocking_tree(sessions)): `sessions` are those in
        any lock tree (SessionIndex.lock_sessions). The counts are this object's until
        the next call: do not change them."""
        pids = [s.pid for s in sessions]
        if len(set(pids)) != len(pids):
            # One pid twice (a backend that ended and one that took its pid, listed
            # apart): weights could tie, so the listed order would count. Never kept.
            self._piles = {}
            behind = waiters_behind(sessions)
            return behind, blocking_tree(sessions, behind)
        piles = self._piles
        kept: dict[frozenset[int], _Pile] = {}
        behind: dict[int, int] = {}
        tops: list[_Top] = []
        for members in _piles_of(sessions):
            key = frozenset(map(id, members))
            pile = piles.get(key)
            if pile is None:
                pile = _work_out(members)
            kept[key] = pile
            behind.update(pile[1])
            tops.extend(pile[2])
        self._piles = kept
        tops.sort(key=_order)
        return behind, [row for _, _, rows in tops for row in rows]


def _order(top: _Top) -> tuple[int, _Weight]:
    return top[0], top[1]


def _piles_of(sessions: list[Session]) -> list[list[Session]]:
    """`sessions` split into piles: a waiter and each pid it waits on (listed or not) in
    one. Union-find over pids."""
    parent: dict[int, int] = {}

    def find(p: int) -> int:
        root = p
        while (up := parent.get(root, root)) != root:
            root = up
        while p != root:  # shorten the path for the next find
            parent[p], p = root, parent[p]
        return root

    for s in sessions:
        for b in s.blocked_by:
            ra, rb = find(s.pid), find(b)
            if ra != rb:
                parent[ra] = rb
    out: dict[int, list[Session]] = {}
    for s in sessions:
        out.setdefault(find(s.pid), []).append(s)
    return list(out.values())


def _work_out(members: list[Session]) -> _Pile:
    behind = waiters_behind(members)
    tree = blocking_tree(members, behind)
    listed = {s.pid for s in members}
    tops: list[_Top] = []
    for row in tree:
        if row.depth == 0:
            s = row.session
            if row.blocker_unknown:
                group = 1
            elif any(b in listed and b != s.pid for b in s.blocked_by):
                group = 2  # waits on a listed session, yet a top: a cycle's
            else:
                group = 0
            weight = (-behind.get(s.pid, 0), _ts(s.xact_start), _ts(s.state_change), s.pid)
            tops.append((group, weight, []))
        tops[-1][2].append(row)
    return members, behind, tops
