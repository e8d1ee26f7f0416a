"""Reading a monitor's screen (a pyte screen): which workload sessions it shows, where
its cursor is, whether a text is on it. Stateless."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # annotations only: the pure line readers below run without pyte
    import pyte

# pgtop's header while replaying: "replay 13:05:33 5/30 ×1" (monitor/replay.py status()).
_REPLAY_FRAME = re.compile(r"replay(?: \w+)? \d\d:\d\d:\d\d (\d+)/\d+ ")


def _first_token(line: str) -> str:
    parts = line.split(None, 1)
    return parts[0] if parts else ""


def known_pid_rows(screen: pyte.Screen, pids: set[str]) -> int:
    return sum(1 for line in screen.display if _first_token(line) in pids)


def cursor_pid(screen: pyte.Screen) -> str | None:
    """The pid on the highlighted (reverse video) session row, if any. Both monitors draw
    their cursor row in reverse video; header rows and tabs do not start with a pid."""
    for y in range(screen.lines):
        row = screen.buffer[y]
        if sum(1 for x in range(20) if row[x].reverse) < 16:
            continue
        tok = _first_token("".join(row[x].data for x in range(30)))
        if len(tok) >= 3 and tok.isdigit():
            return tok
    return None


def contains(*needles: str) -> Callable[[pyte.Screen], bool]:
    return lambda screen: any(n in line for line in screen.display for n in needles)


def replay_frame(lines: list[str]) -> int | None:
    """The frame number pgtop's replay header shows (1-based), if any."""
    for line in lines:
        if m := _REPLAY_FRAME.search(line):
            return int(m.group(1))
    return None


def sort_arrow(lines: list[str]) -> str | None:
    """The arrow on the sessions table's sorted column: ▲ ascending, ▼ descending."""
    for line in lines:
        if "PID" in line:
            for arrow in ("▲", "▼"):
                if arrow in line:
                    return arrow
    return None
