"""The replay feed: a recording played on its own clock, frame after frame.

A recording is one file or one server's hour files of a directory, read as one
(collect/replay.py load_directory), so playback and jumps cross hours seamlessly; with
`--at` it opens paused on that moment.

Playback waits the recorded interval between frames divided by the speed, and writes
each frame into the MonitorState as a live poll would (its one writer), so sort,
filter and inspect work as live. Nothing in a recording can be signalled or re-polled:
it offers no server (`has_server`) and only the playback controls.

The next frame is decoded, joined and its findings derived on a worker thread while
the current one is shown; while such a worker runs, the interpreter's thread switch
interval is shortened (`_quick_switches`, this module's only state, process-wide and
restored when the last worker ends) so the event loop gets the GIL back quickly.
"""

from __future__ import annotations

import asyncio
import bisect
import contextlib
import re
import sys
import threading
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta

from pgtop.collect.record import RecordingError
from pgtop.collect.replay import Recording
from pgtop.monitor.feed import REPLAY_GROUP, Notice, Spawn, Update
from pgtop.monitor.state import MonitorState

WORKER_SWITCH_S = 0.0005  # see ReplayFeed._prepare
MAX_GAP = 10.0  # a longer pause in the recording plays as this many seconds (at ×1)
MIN_SPEED, MAX_SPEED = 1 / 16, 64.0
_RELATIVE = re.compile(r"^([+-])\s*(\d+(?:\.\d+)?)\s*([smh]?)$")
_CLOCK = re.compile(r"^(\d{1,2}):(\d{2})(?::(\d{2}))?$")
_UNIT = {"": 1, "s": 1, "m": 60, "h": 3600}


# How many workers run under _quick_switches, and the interval to restore after the
# last; changed under the lock only (several replays may prepare at once).
_switching = threading.Lock()
_switch_users = 0
_switch_before = 0.0


@contextlib.contextmanager
def _quick_switches() -> Iterator[None]:
    global _switch_users, _switch_before
    with _switching:
        if _switch_users == 0:
            _switch_before = sys.getswitchinterval()
            sys.setswitchinterval(min(_switch_before, WORKER_SWITCH_S))
        _switch_users += 1
    try:
        yield
    finally:
        with _switching:
            _switch_users -= 1
            if _switch_users == 0:
                sys.setswitchinterval(_switch_before)


def parse_jump(text: str, times: list[datetime], current: int) -> int:
    """The frame index `text` names: HH:MM[:SS] (local time, as shown), +5m / -30s from
    the current frame, a frame number (1-based, as shown), or start / end.
    ValueError with a one-line reason otherwise."""
    text = text.strip().lower()
    last = len(times) - 1
    if text in ("start", "first", "^"):
        return 0
    if text in ("end", "last", "$"):
        return last
    if text.lstrip("#").isdigit():
        return min(last, max(0, int(text.lstrip("#")) - 1))
    if m := _RELATIVE.match(text):
        seconds = float(m.group(2)) * _UNIT[m.group(3)] * (-1 if m.group(1) == "-" else 1)
        return _nearest(times, times[current] + timedelta(seconds=seconds))
    if m := _CLOCK.match(text):
        h, mi, s = int(m.group(1)), int(m.group(2)), int(m.group(3) or 0)
        if h > 23 or mi > 59 or s > 59:
            raise ValueError(f"no such time of day: {text}")
        first, end = times[0].astimezone(), times[-1].astimezone()
        day = first.date()
        while day <= end.date():  # the first such time on any day the recording spans
            when = datetime(day.year, day.month, day.day, h, mi, s).astimezone()
            if first - timedelta(seconds=1) <= when <= end + timedelta(seconds=1):
                # The last frame within that second: the header shows whole seconds.
                return _index_at(times, when + timedelta(seconds=0.999))
            day += timedelta(days=1)
        raise ValueError(f"{text} is outside the recording ({first:%H:%M:%S}–{end:%H:%M:%S})")
    raise ValueError(f"not a time, offset or frame: {text!r} (try 12:03:00, -30s, +5m, 120)")


def _index_at(times: list[datetime], when: datetime) -> int:
    return max(0, bisect.bisect_right(times, when) - 1)


def _nearest(times: list[datetime], when: datetime) -> int:
    i = _index_at(times, when)
    if i + 1 < len(times) and times[i + 1] - when < abs(when - times[i]):
        return i + 1
    return i


class ReplayFeed:
    """Plays `recording`; `notice` tells the user about damaged frames."""

    controls = frozenset({"toggle_pause", "step", "speed", "go_to", "jump"})
    has_server = False
    postgres = None
    samples_host = False

    def __init__(
        self,
        recording: Recording,
        address: str,
        refresh: float,
        on_update: Callable[[Update], None],
        notice: Notice,
    ) -> None:
        self.recording = recording
        self.address = address
        self.state = MonitorState(refresh=refresh)
        self._on_update = on_update
        self._notice = notice
        self.index = 0
        self.speed_factor = 1.0
        self.playing = False
        self._shown_at = 0.0
        self._wake = asyncio.Event()

    # -- running ------------------------------------------------------------------------

    def start(self, spawn: Spawn) -> None:
        # --at names a moment to look at: it stays on screen (paused) until played on.
        self.playing = self.recording.start == 0
        damaged = self.recording.summary()
        if damaged:
            self._notice(damaged, "warning", 10)
        spawn(self._playback(), REPLAY_GROUP)

    async def close(self) -> None:
        pass  # a recording holds no connection

    @property
    def paused(self) -> bool:
        return not self.playing

    def status(self) -> str:
        rec, i = self.recording, self.index
        when = rec.times[i].astimezone()
        # Short enough to fit an 80-column header after the server's version and address.
        state = "" if self.playing else " end" if i == len(rec) - 1 else " paused"
        return f"replay{state} {when:%H:%M:%S} {i + 1}/{len(rec)} ×{self.speed_factor:g}"

    def _delay(self) -> float | None:
        """Seconds until the next frame is due, None while paused or at the end."""
        rec, i = self.recording, self.index
        if not self.playing or i >= len(rec) - 1:
            return None
        gap = min(MAX_GAP, max(0.0, (rec.times[i + 1] - rec.times[i]).total_seconds()))
        loop = asyncio.get_running_loop()
        return max(0.0, self._shown_at + gap / self.speed_factor - loop.time())

    async def _playback(self) -> None:
        self._show(self.recording.start)
        while True:
            self._wake.clear()
            delay = self._delay()
            if delay is None:
                if self.playing:  # reached the end
                    self.playing = False
                    self._show_status()
                await self._wake.wait()
                continue
            # The next frame is decoded, joined and its findings derived in a worker
            # thread while this one is shown: not on the event loop, where keys would
            # wait for it (at 50,000 sessions, most of a second).
            await asyncio.to_thread(self._prepare, self.index + 1)
            delay = self._delay()
            if delay is None or self._wake.is_set():  # paused, stepped or sped meanwhile
                continue
            try:
                await asyncio.wait_for(self._wake.wait(), delay)
            except TimeoutError:
                self._show(self.index + 1)

    def _prepare(self, index: int) -> None:
        """On a worker thread. It shares the GIL with the event loop, which gives it up
        at every turn (each select) and then waits for the worker to hand it back: by
        default up to 5 ms a turn, and a key takes dozens of turns. While the worker
        runs, it hands the GIL back within WORKER_SWITCH_S instead."""
        with _quick_switches():
            snap = self.recording.prepare(index)
            if snap is not None:
                self.state.prepare_postgres(snap)

    def _show(self, index: int) -> None:
        rec = self.recording
        index = min(len(rec) - 1, max(0, index))
        try:
            # A damaged frame is stepped over in the direction of travel, never shown.
            wanted, step = index, -1 if index < self.index else 1
            index, snap, skipped = rec.readable(wanted, step)
            if index != self.index + 1 or self.state.pg_snapshot is None:
                # A jump: rates come from the frame before, not the one shown last.
                before, prev, _ = rec.readable(index - 1, -1) if index > 0 else (index, None, 0)
                self.state.restart_from(prev if before < index else None)
        except RecordingError as exc:
            self.playing = False
            self._notice(str(exc), "error", None)
            return
        if (index - wanted) * step < 0:  # nothing readable that way: as at the end
            self.playing = False
            where = "after" if step > 0 else "before"
            self._notice(f"no readable frame {where} this one", "warning", None)
        elif skipped:
            plural = "s" if skipped != 1 else ""
            self._notice(f"skipped {skipped} unreadable frame{plural}", "warning", None)
        self.index = index
        self._shown_at = asyncio.get_running_loop().time()
        first = self.state.take_postgres(snap, self.status())
        self._on_update(Update("postgres", first=first))

    def _show_status(self) -> None:
        self.state.set_status(self.status())
        self._on_update(Update("status"))

    def _poke(self) -> None:
        """Playback changed: the status says so now, the clock counts from here."""
        self._show_status()
        self._wake.set()

    # -- the controls -------------------------------------------------------------------

    def toggle_pause(self) -> None:
        if not self.playing and self.index >= len(self.recording) - 1:
            self._show(0)  # resuming at the end plays again from the start
        self.playing = not self.playing
        self._shown_at = asyncio.get_running_loop().time()
        self._poke()

    def step(self, step: int) -> None:
        self.playing = False
        self._show(self.index + step)
        self._poke()

    def speed(self, factor: float) -> None:
        self.speed_factor = min(MAX_SPEED, max(MIN_SPEED, self.speed_factor * factor))
        self._poke()

    def go_to(self, index: int) -> None:
        """Frame `index`, counted from the end when negative."""
        self._show(index if index >= 0 else len(self.recording) + index)
        self._poke()

    def jump(self, text: str) -> None:
        """Where `text` names (parse_jump); ValueError with the reason otherwise."""
        self.go_to(parse_jump(text, self.recording.times, self.index))

    def watch_locks_of(self, pid: int | None, *, now: bool = False) -> int | None:
        return None  # a recording has the locks it recorded, or none

    def poll_now(self) -> None:
        pass  # nothing to ask
