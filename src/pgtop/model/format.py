"""Formatting for people: ages, sizes, and server text made safe to print on one line.

Server data (query text, names) can hold escape sequences, control characters, markup and
bidi overrides. `visible` turns every such character into a harmless visible stand-in, so
nothing that came from a server can move the cursor or change the terminal.
"""

from __future__ import annotations

import re
from functools import lru_cache

from rich.cells import cell_len

_WHITESPACE = re.compile(r"[ \t\r\n\v\f]+")
# Invisible characters that can hide or reorder text: zero-width and directional marks,
# bidi embeddings/overrides/isolates (and the Arabic letter mark), line/paragraph
# separators, invisible operators, and tag characters (which can smuggle hidden text).
_FORMAT_RANGES = (
    (0x061C, 0x061C),
    (0x180E, 0x180E),
    (0x200B, 0x200B),
    (0x200E, 0x200F),
    (0x2028, 0x202E),
    (0x2060, 0x2064),
    (0x2066, 0x206F),
    (0xFEFF, 0xFEFF),
    (0xE0000, 0xE007F),
)


def _visible_char(ch: str) -> str:
    code = ord(ch)
    if code < 0x20:
        return chr(0x2400 + code)  # control pictures: ␛ for ESC, ␀ for NUL ...
    if code == 0x7F:
        return "␡"
    if 0x80 <= code < 0xA0:
        return f"\\x{code:02x}"  # C1 controls, e.g. the 8-bit CSI
    return f"<U+{code:04X}>"  # one of _FORMAT_RANGES


_UNSAFE = re.compile(
    "[\x00-\x1f\x7f-\x9f" + "".join(f"{chr(lo)}-{chr(hi)}" for lo, hi in _FORMAT_RANGES) + "]"
)


def visible(text: str) -> str:
    """Text with every control or invisible formatting character shown as a visible stand-in."""
    return _UNSAFE.sub(lambda m: _visible_char(m.group()), text)


def one_line(text: str, width: int | None = None) -> str:
    """Whitespace collapsed, controls made visible, cut to `width` cells with an ellipsis."""
    if width is not None and len(text) > _prefix_len(width):
        # Only the head can be shown: keep the cache's keys small whatever the query size.
        head = _one_line(text[: _prefix_len(width)], width)
        if cell_len(head) >= width:
            return head
    return _one_line(text, width)


def _prefix_len(width: int) -> int:
    return max(256, 4 * width)


@lru_cache(maxsize=1024)  # ~40 visible rows x a dozen cells, with room
def _one_line(text: str, width: int | None) -> str:
    line = visible(_WHITESPACE.sub(" ", text).strip())
    if width is None:
        return line
    return truncate(line, width)


def truncate(text: str, width: int) -> str:
    if width <= 0:
        return ""
    if len(text) <= width and cell_len(text) <= width:
        return text
    out: list[str] = []
    used = 0
    for ch in text:
        w = cell_len(ch)
        if used + w > width - 1:
            break
        out.append(ch)
        used += w
    return "".join(out) + "…"


def age(seconds: float | None) -> str:
    """Compact age: 5.2s, 59s, 12m03s, 3h07m, 2d04h; '' when unknown."""
    if seconds is None:
        return ""
    if seconds < 10:
        return f"{seconds:.1f}s"
    s = int(seconds)
    if s < 60:
        return f"{s}s"
    if s < 3600:
        return f"{s // 60}m{s % 60:02d}s"
    if s < 86400:
        return f"{s // 3600}h{s % 3600 // 60:02d}m"
    return f"{s // 86400}d{s % 86400 // 3600:02d}h"


def percent(part: float, whole: float) -> float:
    return 0.0 if whole <= 0 else 100.0 * part / whole


def size(n: float) -> str:
    for unit in ("B", "kB", "MB", "GB", "TB"):
        if abs(n) < 1024 or unit == "TB":
            return f"{n:.0f}{unit}" if unit == "B" else f"{n:.1f}{unit}"
        n /= 1024
    return f"{n:.1f}TB"


def plural(n: int, word: str, many: str | None = None) -> str:
    """'1 client', '3 clients' ('1 query', '2 queries' with `many`)."""
    return f"{n} {word if n == 1 else many or word + 's'}"
