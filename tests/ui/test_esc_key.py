"""Esc in a real terminal: pgtop waits 25 ms (ESCDELAY) to tell a lone Esc from the start
of an arrow key's sequence, and then answers, where Textual's own input loop answered
only 100 ms later whatever ESCDELAY said. Arrow keys stay arrow keys."""

from __future__ import annotations

import fcntl
import os
import pty
import select
import subprocess
import sys
import termios
import textwrap
import time

import pytest
from textual import constants
from textual._xterm_parser import XTermParser

from pgtop.target import Target
from pgtop.ui.app import PgTopApp
from pgtop.ui.esc_driver import PromptEscDriver, input_wait

# A Textual app on pgtop's driver that shows the last key it got and how many it got.
KEY_ECHO = textwrap.dedent(
    """
    from textual.app import App
    from textual.widgets import Static
    from pgtop.ui.esc_driver import PromptEscDriver

    class KeyEcho(App):
        count = 0
        def compose(self):
            yield Static("ready", id="last")
        def on_key(self, event):
            self.count += 1
            self.query_one(Static).update(f"got-{event.key}-{self.count}")

    KeyEcho(driver_class=PromptEscDriver).run()
    """
)


def test_pgtop_sets_a_short_escape_delay_that_a_users_own_overrides() -> None:
    show = "import os, pgtop.__main__; print(os.environ['ESCDELAY'])"
    env = {k: v for k, v in os.environ.items() if k != "ESCDELAY"}
    ours = subprocess.run([sys.executable, "-c", show], env=env, capture_output=True, text=True)
    assert ours.stdout.strip() == "25"
    theirs = subprocess.run(
        [sys.executable, "-c", show], env={**env, "ESCDELAY": "80"}, capture_output=True, text=True
    )
    assert theirs.stdout.strip() == "80"


def test_the_app_runs_on_the_prompt_esc_driver_in_a_terminal() -> None:
    assert PgTopApp(Target()).driver_class is PromptEscDriver


def test_the_input_loop_wakes_when_a_lone_esc_is_due(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(constants, "ESCAPE_DELAY", 0.025)  # as under pgtop's ESCDELAY
    parser = XTermParser()
    assert input_wait(parser) is None  # nothing pending: wait for input alone
    assert list(parser.feed("\x1b")) == []  # maybe the start of a sequence: wait
    assert 0 < input_wait(parser) <= 0.025
    keys = list(parser.feed("[B"))  # it was: the arrow key, and nothing waits any more
    assert [getattr(k, "key", None) for k in keys] == ["down"]
    assert input_wait(parser) is None


class Terminal:
    """KEY_ECHO on a pseudo-terminal of its own; `press` times a key until it shows."""

    def __init__(self) -> None:
        self.controller, terminal = pty.openpty()
        fcntl.ioctl(terminal, termios.TIOCSWINSZ, b"\x18\x00\x50\x00\x00\x00\x00\x00")
        env = {**os.environ, "ESCDELAY": "25", "TERM": "xterm-256color"}
        self.proc = subprocess.Popen(
            [sys.executable, "-c", KEY_ECHO],
            stdin=terminal,
            stdout=terminal,
            stderr=terminal,
            env=env,
            start_new_session=True,
        )
        os.close(terminal)
        self.out = b""
        self.presses = 0

    def wait_for(self, text: bytes, timeout: float = 10.0) -> float:
        deadline = time.monotonic() + timeout
        while text not in self.out:
            assert time.monotonic() < deadline, f"{text!r} never shown: {self.out[-300:]!r}"
            ready, _, _ = select.select([self.controller], [], [], 0.01)
            if ready:
                self.out += os.read(self.controller, 65536)
        return time.monotonic()

    def press(self, key: bytes, name: str) -> float:
        """Seconds from writing `key` until the app shows it got `name`."""
        self.presses += 1
        sent = time.monotonic()
        os.write(self.controller, key)
        return self.wait_for(f"got-{name}-{self.presses}".encode()) - sent

    def close(self) -> None:
        self.proc.kill()
        self.proc.wait(10)
        os.close(self.controller)


def test_esc_answers_well_before_100_ms_and_arrows_stay_arrows() -> None:
    term = Terminal()
    try:
        term.wait_for(b"ready")
        esc = []
        for _ in range(3):
            time.sleep(0.2)
            esc.append(term.press(b"\x1b", "escape"))
            time.sleep(0.2)
            term.press(b"\x1b[B", "down")  # a sequence in one write is one key
        # Textual's loop alone took 100-110 ms each time, the fastest included.
        assert min(esc) < 0.08, f"esc took {[round(s * 1000) for s in esc]} ms"
    finally:
        term.close()


def _wakeups(pid: int) -> int:
    """Times the process's threads went to sleep and were woken (voluntary switches)."""
    total = 0
    for tid in os.listdir(f"/proc/{pid}/task"):
        with open(f"/proc/{pid}/task/{tid}/status") as status:
            for line in status:
                if line.startswith("voluntary_ctxt_switches:"):
                    total += int(line.split()[1])
    return total


def test_an_idle_app_is_not_woken_for_nothing_and_still_quits_at_once() -> None:
    # Textual's input loop woke ten times a second to look whether it should stop.
    term = Terminal()
    try:
        term.wait_for(b"ready")
        time.sleep(0.5)  # start-up done
        before = _wakeups(term.proc.pid)
        time.sleep(2.0)
        woken = _wakeups(term.proc.pid) - before
        assert woken < 8, f"{woken} wake-ups in 2 s of nothing"
        asked = time.monotonic()
        os.write(term.controller, b"\x11")  # ctrl+q: Textual's quit
        term.proc.wait(5)
        assert time.monotonic() - asked < 1.0
    finally:
        if term.proc.poll() is None:
            term.close()
        else:
            os.close(term.controller)
