"""Which session objects came and went between two listings, worked out once per pair.

Collectors and the replay keep an unchanged session the very same (immutable) object,
so several memos keep the last listing's sessions by id() and ask only what changed:
the findings' index and history, the replay's header counts (derive.SummaryFollower), the sessions
pane's order (view.ViewMemo). At 50,000 sessions building that id dict and its two set
differences costs more than the changes themselves, and each memo did it again for the
same pair of listings. `changes` answers the same pair from here: the memos hand back
the dict they were given last time, so after one poll they all hold the same one.

Module state: the last few answers (the listings and dicts they hold are never changed
in place: memos only read them). Reads and writes replace whole entries, so a memo on
another thread at worst misses the cache and works the answer out itself.
"""

from __future__ import annotations

from collections.abc import KeysView, Sequence
from typing import TypeVar

T = TypeVar("T")

# A listing and its pooler-joined copy may alternate, and the replay's worker thread
# prepares the next listing while the event loop still draws this one.
_KEEP = 4


class Changes:
    """Listing `sessions` after `before`: `objs` is sessions by id (the dict to keep for
    the next call), `gone` the ids of `before` no longer listed, `came` those new."""

    __slots__ = ("came", "gone", "objs")

    def __init__(self, objs: dict[int, T], gone: set[int], came: set[int]) -> None:
        self.objs = objs
        self.gone = gone
        self.came = came


_cache: list[tuple[Sequence[object], dict[int, object], Changes]] = []


def changes(before: dict[int, T], sessions: Sequence[T]) -> Changes:
    """What changed from `before` (a previous answer's `objs`, or {}) to `sessions`.
    `objs` has fewer entries than `sessions` when an object is listed twice."""
    for listed, prev, answer in list(_cache):
        if listed is sessions and prev is before:
            return answer
    objs: dict[int, T] | None = None
    for listed, _, answer in list(_cache):
        if listed is sessions:
            objs = answer.objs  # type: ignore[assignment]
            break
    if objs is None:
        objs = dict(zip(map(id, sessions), sessions, strict=True))  # in C
    keys: KeysView[int] = objs.keys()
    answer = Changes(objs, before.keys() - keys, keys - before.keys())
    _cache[:] = [*_cache[-(_KEEP - 1) :], (sessions, before, answer)]  # type: ignore[list-item]
    return answer
