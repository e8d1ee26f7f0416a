"""The --sessions 10000 path: pgtop replaying a synthetic recording (synthetic.py) at its
recorded 1 s cadence in the same 120x40 pty, with a filter and a sort applied, measured
like a live run. No server is involved, so this measures the client only. ReplayResult
holds one replay's figures; replay_run() is their only writer.
"""

from __future__ import annotations

import itertools
import random
import shutil
import statistics
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pyte
import synthetic
from common import COLS, PGTOP, ROWS, WARMUP, log
from keys import DOWN, press
from monitors import monitor_env
from ptymon import PtyMonitor
from screens import cursor_pid, known_pid_rows, replay_frame, sort_arrow
from usage import cpu_delta, cpu_snapshot, vm_hwm_kb

FILTER = b"-app:batch"  # keeps 5/6 of the sessions: the sort still has most rows to order
SORT_KEY = b"e"  # age in state: changes for every session that changed
REVERSE = b"r"
HEADER_LINES = 6


def header(screen: pyte.Screen) -> list[str]:
    return [
        "".join(screen.buffer[y][x].data for x in range(screen.columns))
        for y in range(HEADER_LINES)
    ]


def frame_index(screen: pyte.Screen) -> int | None:
    return replay_frame(header(screen)[:2])


def arrow(screen: pyte.Screen) -> str | None:
    return sort_arrow(header(screen))


@dataclass
class ReplayResult:
    sessions: int
    frames_shown: list[tuple[int, float]] = field(default_factory=list)  # (index, read at)
    frame_interval_s: list[float] = field(default_factory=list)
    cpu_s_per_min: float = 0.0
    peak_rss_mb: float = 0.0
    first_screen_s: float = 0.0
    key_down_ms: list[float] = field(default_factory=list)
    key_sort_ms: list[float] = field(default_factory=list)
    window_s: float = 0.0
    generate_s: float = 0.0
    # Each press not seen within press()'s wait: which key, what the screen showed before
    # it and after the wait (the whole screen), so that a miss can be explained later.
    missed: list[dict[str, object]] = field(default_factory=list)


class FrameClock:
    """A pty watcher that never fires: it notes when the shown frame number changes."""

    def __init__(self, res: ReplayResult) -> None:
        self.res = res
        self.last: int | None = None

    def __call__(self, screen: pyte.Screen) -> bool:
        i = frame_index(screen)
        if i is not None and i != self.last:
            self.last = i
            self.res.frames_shown.append((i, time.monotonic()))
        return False


def open_replay(sessions: int, frames: int, tmp: Path, res: ReplayResult) -> PtyMonitor:
    """Write the synthetic recording into `tmp`, start pgtop replaying it (stop it when
    done), wait for its first screen, then apply the sort and the filter."""
    path = tmp / f"synthetic-{sessions}.pgtop.gz"
    t = time.monotonic()
    synthetic.write_recording(path, sessions, frames)
    res.generate_s = time.monotonic() - t
    log(
        f"  synthetic recording: {sessions:,} sessions x {frames} frames, 5 %/s changing, "
        f"{path.stat().st_size / 2**20:.1f} MB in {res.generate_s:.1f} s"
    )
    home = tmp / "home"
    home.mkdir()
    m = PtyMonitor(
        [str(PGTOP), "--replay", str(path)], monitor_env(home), COLS, ROWS, cwd=str(home)
    )
    known = synthetic.pids(sessions)
    first = m.watch(lambda s: known_pid_rows(s, known) >= 20)
    m.start()
    if not first.event.wait(120) or first.fired_at is None:
        raise RuntimeError("replay: no first screen in 120 s:\n" + "\n".join(m.lines()))
    res.first_screen_s = first.fired_at - m.started_at
    m.watch(FrameClock(res))
    m.send(SORT_KEY)
    time.sleep(1.0)
    m.send(b"/")
    time.sleep(0.5)
    m.send(FILTER)
    time.sleep(0.5)
    m.send(b"\r")
    return m


def replay_run(sessions: int, seconds: float, keys: int, rng: random.Random) -> ReplayResult:
    res = ReplayResult(sessions)
    tmp = Path(tempfile.mkdtemp(prefix="pgtop-bench-replay-"))
    # Enough frames for start-up, filter and sort, warm-up, the window and the keys.
    frames = int(60 + WARMUP + seconds + keys * 2 * 1.6)
    m: PtyMonitor | None = None
    try:
        m = open_replay(sessions, frames, tmp, res)
        time.sleep(WARMUP)
        t0 = time.monotonic()
        cpu0 = cpu_snapshot(m.pid)
        time.sleep(seconds)
        cpu1 = cpu_snapshot(m.pid)
        t1 = time.monotonic()
        res.window_s = t1 - t0
        res.cpu_s_per_min = cpu_delta(cpu0, cpu1) * 60.0 / res.window_s
        shown = [at for _, at in res.frames_shown if t0 <= at <= t1]
        res.frame_interval_s = [b - a for a, b in itertools.pairwise(shown)]
        for i in range(keys):
            before = m.snapshot(cursor_pid)
            res.key_down_ms.append(
                press(rng, m, DOWN, lambda s, b=before: cursor_pid(s) not in (None, b))
            )
            _note_miss(res, m, "down", i, res.key_down_ms[-1], before, cursor_pid)
        for i in range(keys):
            before = m.snapshot(arrow)
            res.key_sort_ms.append(
                press(rng, m, REVERSE, lambda s, b=before: arrow(s) not in (None, b))
            )
            _note_miss(res, m, "r", i, res.key_sort_ms[-1], before, arrow)
        if not m.alive():
            raise RuntimeError("replay: pgtop exited:\n" + "\n".join(m.lines()))
        res.peak_rss_mb = vm_hwm_kb(m.pid) / 1024.0
    finally:
        if m is not None:
            m.stop()
        shutil.rmtree(tmp, ignore_errors=True)
    return res


def _note_miss(
    res: ReplayResult,
    m: PtyMonitor,
    key: str,
    press_no: int,
    ms: float,
    before: object,
    reads: Callable[[pyte.Screen], object],
) -> None:
    if ms == ms:  # seen
        return
    now = m.snapshot(reads)
    log(f"  {key} press {press_no + 1} not seen in 3 s: before {before!r}, now {now!r}")
    res.missed.append(
        {"key": key, "press": press_no + 1, "before": before, "now": now, "screen": m.lines()}
    )


def replay_line(res: ReplayResult) -> str:
    iv = res.frame_interval_s
    keys = [v for v in res.key_down_ms + res.key_sort_ms if v == v]
    return (
        f"  replay {res.sessions:,}: frame interval median "
        f"{statistics.median(iv) if iv else float('nan'):.2f} s ({len(iv)} frames), "
        f"keys p50 {statistics.median(keys) if keys else float('nan'):.0f} ms, "
        f"cpu {res.cpu_s_per_min:.2f} s/min, rss {res.peak_rss_mb:.0f} MB"
    )
