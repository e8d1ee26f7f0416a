"""Fitting a header line to the terminal: whole items are dropped, numbers are never cut.

A header line is a list of parts, each with how long it should be kept. When the line is
too long the least important parts go first, whole, so "oldest xact 9m03s" never becomes
"oldest xact 9m…". Only parts marked shrinkable (free text such as a host name or an
error) are cut, and only once nothing else can go.
"""

from __future__ import annotations

from typing import NamedTuple

from rich.text import Text

GROUP_GAP = "  "


class Part(NamedTuple):
    text: Text
    keep: int = 0  # 0: always shown; a higher number is dropped sooner
    group: int = 0  # neighbours in one group are joined by `joiner`, groups by two spaces
    shrink: int = 0  # > 0: free text that may be cut down to this many cells, last of all
    joiner: str = " "


def _gaps(parts: list[Part]) -> list[str]:
    return [
        "" if i == 0 else p.joiner if p.group == parts[i - 1].group else GROUP_GAP
        for i, p in enumerate(parts)
    ]


def _length(parts: list[Part]) -> int:
    return sum(p.text.cell_len for p in parts) + sum(len(g) for g in _gaps(parts))


def fit_parts(parts: list[Part], width: int) -> Text:
    """The parts joined into one line of at most `width` cells where that is possible."""
    shown = [p for p in parts if p.text.cell_len]
    while width > 0 and _length(shown) > width:
        droppable = [i for i, p in enumerate(shown) if p.keep]
        if not droppable:
            break
        # The least important; among equals the rightmost, so the line reads the same.
        del shown[max(droppable, key=lambda i: (shown[i].keep, i))]
    texts = [p.text.copy() for p in shown]
    excess = _length(shown) - width if width > 0 else 0
    for i in reversed(range(len(shown))):
        if excess <= 0:
            break
        cells = texts[i].cell_len
        if shown[i].shrink and cells > shown[i].shrink:
            new = max(shown[i].shrink, cells - excess)
            texts[i].truncate(new, overflow="ellipsis")
            excess -= cells - new
    line = Text()
    for gap, text in zip(_gaps(shown), texts, strict=True):
        line.append(gap)
        line.append_text(text)
    return line


def pooler_states_part(states: dict[str, str], group: int) -> Part | None:
    """ "pooler: shop PAUSED, app DISABLED": what PgBouncer commands left on its databases,
    kept on the header however narrow (a forgotten PAUSE silently holds every client)."""
    if not states:
        return None
    shown = list(states.items())[:3]
    text = ", ".join(f"{name} {state}" for name, state in shown)
    if len(states) > len(shown):
        text += f", +{len(states) - len(shown)} more"
    return Part(Text(f"pooler: {text}", "bold black on yellow"), group=group, shrink=24)
