"""changes(): which session objects came and went between two listings. A producer's
note (what it added and dropped) must give the very answer worked out from the
listings, and a note that does not fit must not be trusted."""

from __future__ import annotations

import random

from pgtop.model import changes as changes_module
from pgtop.model.changes import changes, note_changes


class Obj:
    """A session stand-in: only its identity matters here."""


def _fresh_answer(before_listing: list[Obj], listing: tuple[Obj, ...]):
    """The answer from the listings alone (no cache, no notes)."""
    changes_module._cache.clear()
    changes_module._notes.clear()
    base = changes({}, tuple(before_listing)).objs
    return changes(base, listing)


def test_a_producers_notes_give_the_answer_the_listings_give() -> None:
    rng = random.Random(7)
    listing: tuple[Obj, ...] = tuple(Obj() for _ in range(300))
    changes_module._cache.clear()
    changes_module._notes.clear()
    objs = changes({}, listing).objs
    for _ in range(40):
        kept = [o for o in listing if rng.random() > 0.2]
        gone = [o for o in listing if o not in set(kept)]
        came = [Obj() for _ in range(rng.randrange(0, 80))]
        new_listing = tuple(kept + came)
        note_changes(listing, new_listing, came, gone)
        assert changes_module._from_note(objs, new_listing) is not None  # the note is used
        noted = changes(objs, new_listing)
        # Three memos ask about the same poll: one answer.
        assert changes(objs, new_listing) is noted

        cached = (list(changes_module._cache), list(changes_module._notes))
        expected = _fresh_answer(list(listing), new_listing)
        changes_module._cache[:], changes_module._notes[:] = cached
        assert noted.objs == expected.objs
        assert noted.gone == expected.gone == set(map(id, gone))
        assert noted.came == expected.came == set(map(id, came))
        listing, objs = new_listing, noted.objs


def test_candidates_listed_on_both_sides_have_neither_come_nor_gone() -> None:
    # The collector names every lock waiter as maybe come and last poll's as maybe gone:
    # one handed out again as the very same object is in both, and changed nothing.
    changes_module._cache.clear()
    changes_module._notes.clear()
    a, waiter, old, new = Obj(), Obj(), Obj(), Obj()
    first = (a, waiter, old)
    objs = changes({}, first).objs
    second = (a, waiter, new)
    note_changes(first, second, [waiter, new], [waiter, old])
    assert changes_module._from_note(objs, second) is not None
    answer = changes(objs, second)
    assert answer.gone == {id(old)} and answer.came == {id(new)}
    assert answer.objs == {id(a): a, id(waiter): waiter, id(new): new}


def test_a_note_that_does_not_add_up_is_not_trusted() -> None:
    changes_module._cache.clear()
    changes_module._notes.clear()
    a, b, c = Obj(), Obj(), Obj()
    first = (a, b)
    objs = changes({}, first).objs
    second = (a, b, c)
    note_changes(first, second, [], [])  # c came, and the note does not say so
    assert changes_module._from_note(objs, second) is None
    answer = changes(objs, second)
    assert answer.came == {id(c)} and not answer.gone


def test_a_note_from_another_listing_than_the_memos_is_not_used() -> None:
    changes_module._cache.clear()
    changes_module._notes.clear()
    a, b, c = Obj(), Obj(), Obj()
    seen = changes({}, (a,)).objs  # this memo last saw (a,)
    other = (a, b)
    changes({}, other)
    third = (a, b, c)
    note_changes(other, third, [c], [])  # true, but from (a, b), not from what it saw
    answer = changes(seen, third)
    assert answer.came == {id(b), id(c)} and not answer.gone
