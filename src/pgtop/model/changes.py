"""Which session objects came and went between two listings, worked out once per pair.

Collectors and the replay keep an unchanged session the very same (immutable) object,
so several memos keep the last listing's sessions by id() and ask only what changed:
the findings' index and history, the replay's header counts (derive.SummaryFollower), the sessions
pane's order (view.ViewMemo). At 50,000 sessions building that id dict and its two set
differences costs more than the changes themselves, and each memo did it again for the
same pair of listings. `changes` answers the same pair from here: the memos hand back
the dict they were given last time, so after one poll they all hold the same one.

A producer that knows what it changed (the PostgreSQL collector: it builds only the
sessions whose rows changed) says so with `note_changes` (a listing made from another,
as the pooler join's, has no note and is compared in full); the answer for its new listing
is then last poll's dict with those few entries swapped (~30 us at 1,000 sessions), not
worked out from every session (~200-600 us, cold caches: a few % of pgtop's CPU).

Module state: the last few answers and notes (the listings and dicts they hold are never
changed in place: memos only read them). Reads and writes replace whole entries, so a
memo on another thread at worst misses the cache and works the answer out itself.
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
# (listing, the listing before it, the objects it has that that one had not, and the
# objects that one had that it has not), from note_changes
_notes: list[tuple[Sequence[object], Sequence[object], list[object], list[object]]] = []


def note_changes(before: Sequence[T], sessions: Sequence[T], came: list[T], gone: list[T]) -> None:
    """Listing `sessions` follows `before`; `came` holds every object it has that `before`
    had not, `gone` every object `before` had that it has not. Either may hold more (an
    object listed in both), as long as `came` is all listed in `sessions` and an object
    of `gone` still listed is in `came` too. No object is listed twice in either listing.
    Kept until a few later notes replace it."""
    _notes[:] = [*_notes[-(_KEEP - 1) :], (sessions, before, came, gone)]  # type: ignore[list-item]


def _from_note(before: dict[int, T], sessions: Sequence[T]) -> Changes | None:
    """The answer worked out from a note about `sessions`, when `before` is the answer's
    dict for the listing the note starts from."""
    note = next((n for n in _notes if n[0] is sessions), None)
    if note is None:
        return None
    _, prev, came, gone = note
    if not any(listed is prev and answer.objs is before for listed, _, answer in _cache):
        return None
    came_ids = list(map(id, came))
    still_listed = set(came_ids)
    gone_ids = {i for i in map(id, gone) if i in before and i not in still_listed}
    new = {i: o for i, o in zip(came_ids, came, strict=True) if i not in before}
    objs = dict(before)
    for i in gone_ids:
        del objs[i]
    objs.update(new)
    if len(objs) != len(sessions):  # not what the note says: work it out from the listing
        return None
    return Changes(objs, gone_ids, set(new))


def changes(before: dict[int, T], sessions: Sequence[T]) -> Changes:
    """What changed from `before` (a previous answer's `objs`, or {}) to `sessions`.
    `objs` has fewer entries than `sessions` when an object is listed twice."""
    for listed, prev, answer in list(_cache):
        if listed is sessions and prev is before:
            return answer
    noted = _from_note(before, sessions)
    if noted is not None:
        _cache[:] = [*_cache[-(_KEEP - 1) :], (sessions, before, noted)]  # type: ignore[list-item]
        return noted
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
