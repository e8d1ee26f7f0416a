"""Key latency: presses at a random phase against the refresh tick, each timed from the
write until the screen shows its effect. Stateless (the caller owns the random source)."""

from __future__ import annotations

import random
import time
from collections.abc import Callable

import pyte
from monitors import MonitorSpec
from ptymon import PtyMonitor
from screens import cursor_pid

DOWN = b"\x1b[B"
ESC = b"\x1b"


def press(
    rng: random.Random, m: PtyMonitor, key: bytes, changed: Callable[[pyte.Screen], bool]
) -> float:
    """Send key at a random phase; return ms until the screen shows it (nan: missed)."""
    time.sleep(0.3 + rng.uniform(0.0, 1.0))
    w = m.watch(changed)
    t = m.send(key)
    w.event.wait(3.0)
    if w.fired_at is None:
        return float("nan")
    return (w.fired_at - t) * 1000.0


def key_latencies(
    rng: random.Random, m: PtyMonitor, spec: MonitorSpec, presses: int
) -> tuple[list[float], list[float]]:
    """(cursor-down ms, screen-changing key ms): `presses` of each; the screen-changing
    key is closed again with Escape between presses."""
    down: list[float] = []
    for _ in range(presses):
        before = m.snapshot(cursor_pid)
        down.append(press(rng, m, DOWN, lambda s, b=before: cursor_pid(s) not in (None, b)))
    m.send(ESC)
    time.sleep(1.0)
    opened: list[float] = []
    for _ in range(presses):
        opened.append(press(rng, m, spec.open_key, spec.opened))
        m.send(ESC)
        m.wait(lambda s: not spec.opened(s), 3.0)
    return down, opened
