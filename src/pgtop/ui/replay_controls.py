"""Recording and replay in the app: the recorder hook, the playback clock, replay keys.

A mixin for PgTopApp. In replay mode no poller runs: a worker shows frame after frame,
waiting the recorded interval between them divided by the speed, and hands each one to
the app's ordinary `on_postgres_ready`, so sort, filter and inspect work as live. The
replay target is read-only and the acting keys are absent (see REPLAY_ABSENT).
"""

from __future__ import annotations

import asyncio
import bisect
import re
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Input, Static

from pgtop.collect.record import RecordingError
from pgtop.ui.messages import PostgresReady

if TYPE_CHECKING:
    from pgtop.collect.replay import Recording
    from pgtop.ui.app import PgTopApp

    _Base = PgTopApp
else:
    _Base = object

# Keys chosen not to collide with app.py, session_actions, sessions_table (home/end) or
# the databases pane (g); `p` (pause) is shared: in replay it pauses playback.
REPLAY_BINDINGS = [
    Binding("full_stop", "replay_step(1)", "Step", id="replay-next"),
    Binding("comma", "replay_step(-1)", "Step back", show=False, id="replay-back"),
    Binding("right_square_bracket", "replay_speed(2)", "Faster", show=False, id="replay-faster"),
    Binding("left_square_bracket", "replay_speed(0.5)", "Slower", show=False, id="replay-slower"),
    Binding("t", "replay_jump", "Jump to time", id="replay-jump"),
    Binding("circumflex_accent", "replay_to(0)", "First frame", show=False, id="replay-first"),
    Binding("dollar_sign", "replay_to(-1)", "Last frame", show=False, id="replay-last"),
]
REPLAY_ONLY = {"replay_step", "replay_speed", "replay_jump", "replay_to"}
# Nothing in a recording can be signalled, reconnected or re-polled.
REPLAY_ABSENT = {
    "cancel",
    "terminate",
    "terminate_database",
    "cancel_inspected",
    "terminate_inspected",
    "read_only_notice",
    "switch_profile",
    "slower",
    "faster",
    "refresh_now",
}
MAX_GAP = 10.0  # a longer pause in the recording plays as this many seconds (at ×1)
MIN_SPEED, MAX_SPEED = 1 / 16, 64.0
_RELATIVE = re.compile(r"^([+-])\s*(\d+(?:\.\d+)?)\s*([smh]?)$")
_CLOCK = re.compile(r"^(\d{1,2}):(\d{2})(?::(\d{2}))?$")
_UNIT = {"": 1, "s": 1, "m": 60, "h": 3600}


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


class JumpScreen(ModalScreen[str | None]):
    """A one-line prompt for where to jump."""

    BINDINGS = [Binding("escape", "dismiss(None)", "Cancel")]
    DEFAULT_CSS = """
    JumpScreen { align: center middle; }
    JumpScreen > Vertical { width: 70; height: auto; padding: 1 2; background: $panel;
                            border: round $accent; }
    """

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Static("Time (12:03:00), offset (-30s, +5m), frame number, start or end")
            yield Input(placeholder="time, offset or frame", id="jump-input")

    def on_input_submitted(self, event: Input.Submitted) -> None:
        self.dismiss(event.value)


class ReplayControls(_Base):
    """Mixed into PgTopApp; inert unless it was given a recorder or a recording."""

    _replay_index = 0
    _replay_speed = 1.0
    _replay_playing = False
    _replay_shown_at = 0.0
    _replay_wake: asyncio.Event | None = None

    # -- recording -------------------------------------------------------------------

    def record_snapshot(self) -> None:
        """Called for each PostgreSQL snapshot while `--record` is on."""
        recorder = self.recorder
        snap = self.current_snapshot()  # with the latest pooler data merged in
        if recorder is None or snap is None:
            return
        note = f"rec {recorder.path.name}"
        error = recorder.record(snap)
        notes = self.header_state.notes
        if error is not None:
            self.notify(error, severity="error", timeout=10)
        if recorder.recording and note not in notes:
            notes.append(note)
        elif not recorder.recording and note in notes:
            notes.remove(note)

    async def stop_recording(self) -> None:
        if self.recorder is not None:
            await asyncio.to_thread(self.recorder.close)

    # -- playback --------------------------------------------------------------------

    @property
    def recording(self) -> Recording:
        assert self.replay is not None
        return self.replay

    def start_replay(self) -> None:
        self._replay_wake = asyncio.Event()
        self._replay_playing = True
        # The status carries the frame's time and line 1 says read-only: name the file.
        self.header_state.notes[:] = [f"replay of {self.recording.path.name}"]
        self.header_state.replaying = True
        damaged = self.recording.summary()
        if damaged:
            self.notify(damaged, severity="warning", timeout=10, markup=False)
        self.run_worker(self._playback(), group="replay", exit_on_error=False)

    def replay_status(self) -> str:
        rec = self.recording
        i = self._replay_index
        when = rec.times[i].astimezone()
        # Short enough to fit an 80-column header after the server's version and address.
        state = "" if self._replay_playing else " end" if i == len(rec) - 1 else " paused"
        return f"replay{state} {when:%H:%M:%S} {i + 1}/{len(rec)} ×{self._replay_speed:g}"

    def _replay_delay(self) -> float | None:
        """Seconds until the next frame is due, None while paused or at the end."""
        rec, i = self.recording, self._replay_index
        if not self._replay_playing or i >= len(rec) - 1:
            return None
        gap = min(MAX_GAP, max(0.0, (rec.times[i + 1] - rec.times[i]).total_seconds()))
        loop = asyncio.get_running_loop()
        return max(0.0, self._replay_shown_at + gap / self._replay_speed - loop.time())

    async def _playback(self) -> None:
        assert self._replay_wake is not None
        self._replay_show(0)
        while True:
            self._replay_wake.clear()
            delay = self._replay_delay()
            if delay is None:
                if self._replay_playing:  # reached the end
                    self._replay_playing = False
                    self._replay_update_status()
                await self._replay_wake.wait()
                continue
            try:
                await asyncio.wait_for(self._replay_wake.wait(), delay)
            except TimeoutError:
                self._replay_show(self._replay_index + 1)

    def _replay_show(self, index: int) -> None:
        rec = self.recording
        index = min(len(rec) - 1, max(0, index))
        try:
            # A damaged frame is stepped over in the direction of travel, never shown.
            wanted, step = index, -1 if index < self._replay_index else 1
            index, snap, skipped = rec.readable(wanted, step)
            if index != self._replay_index + 1 or self.state.pg_snapshot is None:
                # A jump: rates come from the frame before, not the one shown last.
                before, prev, _ = rec.readable(index - 1, -1) if index > 0 else (index, None, 0)
                self.state.restart_from(prev if before < index else None)
        except RecordingError as exc:
            self._replay_playing = False
            self.notify(str(exc), severity="error", markup=False)
            return
        if (index - wanted) * step < 0:  # nothing readable that way: as at the end
            self._replay_playing = False
            where = "after" if step > 0 else "before"
            self.notify(f"no readable frame {where} this one", severity="warning")
        elif skipped:
            plural = "s" if skipped != 1 else ""
            self.notify(f"skipped {skipped} unreadable frame{plural}", severity="warning")
        self._replay_index = index
        self._replay_shown_at = asyncio.get_running_loop().time()
        self.on_postgres_ready(PostgresReady(snap))

    def _replay_update_status(self) -> None:
        self.state.set_status(self.replay_status())
        self._show_status()

    def _replay_poke(self) -> None:
        self._replay_update_status()
        if self._replay_wake is not None:
            self._replay_wake.set()

    def replay_toggle_pause(self) -> None:
        if not self._replay_playing and self._replay_index >= len(self.recording) - 1:
            self._replay_show(0)  # resuming at the end plays again from the start
        self._replay_playing = not self._replay_playing
        self._replay_shown_at = asyncio.get_running_loop().time()
        self._replay_poke()

    def action_replay_step(self, step: int) -> None:
        self._replay_playing = False
        self._replay_show(self._replay_index + step)
        self._replay_poke()

    def action_replay_speed(self, factor: float) -> None:
        self._replay_speed = min(MAX_SPEED, max(MIN_SPEED, self._replay_speed * factor))
        self._replay_poke()

    def action_replay_to(self, index: int) -> None:
        self._replay_show(index if index >= 0 else len(self.recording) + index)
        self._replay_poke()

    def action_replay_jump(self) -> None:
        def chosen(text: str | None) -> None:
            if not text or not text.strip():
                return
            try:
                index = parse_jump(text, self.recording.times, self._replay_index)
            except ValueError as exc:
                self.notify(str(exc), severity="warning")
                return
            self.action_replay_to(index)

        self.push_screen(JumpScreen(), callback=chosen)
