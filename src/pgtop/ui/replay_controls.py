"""Recording and replay keys in the app: the recorder hook and the jump prompt.

A mixin for PgTopApp. The playback clock is the replay feed's (monitor/replay.py);
these bindings reach it through `action_feed`, so they exist only while a recording
plays (the feed offers those controls). The replay target is read-only and has no
server: keys that act on one are left out (app.py, NEEDS_SERVER).
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Input, Static

if TYPE_CHECKING:
    from pgtop.ui.app import PgTopApp

    _Base = PgTopApp
else:
    _Base = object

# Keys chosen not to collide with app.py, session_actions, sessions_table (home/end) or
# the databases pane (g); `p` (pause) is shared: in replay it pauses playback.
REPLAY_BINDINGS = [
    Binding("full_stop", "feed('step', 1)", "Step", id="replay-next"),
    Binding("comma", "feed('step', -1)", "Step back", show=False, id="replay-back"),
    Binding("right_square_bracket", "feed('speed', 2)", "Faster", show=False, id="replay-faster"),
    Binding("left_square_bracket", "feed('speed', 0.5)", "Slower", show=False, id="replay-slower"),
    Binding("t", "replay_jump", "Jump to time", id="replay-jump"),
    Binding("circumflex_accent", "feed('go_to', 0)", "First frame", show=False, id="replay-first"),
    Binding("dollar_sign", "feed('go_to', -1)", "Last frame", show=False, id="replay-last"),
]


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

    def action_replay_jump(self) -> None:
        def chosen(text: str | None) -> None:
            if not text or not text.strip():
                return
            try:
                self.action_feed("jump", text)
            except ValueError as exc:
                self.notify(str(exc), severity="warning")

        self.push_screen(JumpScreen(), callback=chosen)
