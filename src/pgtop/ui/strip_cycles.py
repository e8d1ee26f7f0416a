"""Painting without a reference cycle per line (a workaround for Textual's `Strip.divide`).

Textual's compositor cuts every line it paints with `Strip.divide`, and a cut at the
strip's own length returns `[self]`, which `divide` keeps in the strip's own cache: the
strip, its seven small caches and its segments become cyclic garbage that only the
cyclic collector frees. At 120x40 under churn that was ~110 strips and ~1,700 container
objects a second: a young-generation collection every ~6 s, ~5 ms each with the event
loop held (~0.75 ms/s, ~5 % of pgtop's CPU), found with gc.DEBUG_SAVEALL (Textual 8.2).

`install` wraps `divide` once: the answer is unchanged, but a `[self]` answer is not kept
(the strip's other kept divisions go with it: the cache holds four). Then a painted line
is freed by reference counting when the next paint replaces it.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from textual.strip import Strip

_textual_divide = Strip.divide


def _divide(self: Strip, cuts: Iterable[int]) -> Sequence[Strip]:
    strips = _textual_divide(self, cuts)
    if len(strips) == 1 and strips[0] is self:
        self._divide_cache.clear()
    return strips


def install() -> None:
    """Idempotent."""
    Strip.divide = _divide  # type: ignore[method-assign]
