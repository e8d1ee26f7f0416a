"""Short histories of header figures and their sparklines.

A `History` is the one mutable thing in model/: the object that holds it is its only
writer, and adds one value per poll.
"""

from __future__ import annotations

from collections import deque

_BARS = "▁▂▃▄▅▆▇█"


class History:
    """The last `size` values of one figure (None for a poll that could not say)."""

    def __init__(self, size: int = 120) -> None:
        self.values: deque[float | None] = deque(maxlen=size)

    def add(self, value: float | None) -> None:
        self.values.append(value)

    def sparkline(self, width: int, top: float | None = None) -> str:
        """The newest `width` values as bars; `top` fixes the scale (e.g. max_connections)."""
        if width <= 0:
            return ""
        recent = list(self.values)[-width:]
        known = [v for v in recent if v is not None]
        scale = top if top else max(known, default=0.0)
        out = []
        for v in recent:
            if v is None:
                out.append(" ")
            elif scale <= 0:
                out.append(_BARS[0])
            else:
                out.append(_BARS[min(len(_BARS) - 1, int(v / scale * (len(_BARS) - 1) + 0.5))])
        return "".join(out).rjust(width)
