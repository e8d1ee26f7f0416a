"""The terminal driver: Textual's LinuxDriver, with a lone Esc reported after ESCDELAY and
an input thread that sleeps until there is something to do.

Textual (8.2) reads the terminal in a thread that waits up to 100 ms for input and only
then checks whether a lone Esc byte has waited long enough to be the Esc key: whatever
ESCDELAY says (pgtop's default is 25 ms, __main__.py), Esc came 100-110 ms after it was
pressed, where every other key takes a few ms. Its 100 ms wait is also how often it looks
whether it should stop: ten wake-ups a second, each taking the GIL (~4 % of pgtop's CPU on
a monitor that otherwise draws once a second). This driver's input loop is Textual's
(linux_driver.py `run_input_thread`), except that it waits for input, for the parser's
timeout while it tells Esc from the start of a sequence, or for the stop request, which
wakes it through a pipe (`WakingEvent`), and for nothing else.

State: the wake pipe, written by whoever sets `exit_event`, drained by the input thread.
"""

from __future__ import annotations

import contextlib
import os
import selectors
import threading
from codecs import getincrementaldecoder
from typing import Any

from textual._loop import loop_last
from textual._parser import ParseError
from textual._time import get_time
from textual._xterm_parser import XTermParser
from textual.drivers.linux_driver import LinuxDriver

from pgtop.ui import alt_screen


def input_wait(parser: XTermParser) -> float | None:
    """How long to wait for input: until the parser's timeout (a lone Esc) if it has one,
    else until input comes (None)."""
    due = parser._timeout_time
    if due is None:
        return None
    return max(0.0, due - get_time())


class WakingEvent(threading.Event):
    """An Event whose set() also writes a byte to a pipe, so that a thread waiting in
    select() on the pipe's other end wakes at once."""

    def __init__(self, wake_fd: int) -> None:
        super().__init__()
        self._wake_fd = wake_fd

    def set(self) -> None:
        super().set()
        with contextlib.suppress(OSError):  # full (already woken) or closed
            os.write(self._wake_fd, b"x")


class PromptEscDriver(LinuxDriver):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._wake_read, wake_write = os.pipe()
        os.set_blocking(self._wake_read, False)
        os.set_blocking(wake_write, False)
        self._wake_write = wake_write
        self.exit_event = WakingEvent(wake_write)

    def start_application_mode(self) -> None:
        alt_screen.taken_over()  # the early screen's, if it was drawn
        super().start_application_mode()

    def close(self) -> None:
        super().close()
        for fd in (self._wake_read, self._wake_write):
            with contextlib.suppress(OSError):
                os.close(fd)

    def run_input_thread(self) -> None:
        """Wait for input and dispatch events (Textual's loop; see the module docstring)."""
        selector = selectors.SelectSelector()
        selector.register(self.fileno, selectors.EVENT_READ)
        selector.register(self._wake_read, selectors.EVENT_READ)
        fileno = self.fileno
        parser = XTermParser(self._debug)
        decode = getincrementaldecoder("utf-8")().decode

        def process(events: list[tuple[selectors.SelectorKey, int]], final: bool = False) -> None:
            for last, (key, mask) in loop_last(events):
                if key.fd == self._wake_read:
                    with contextlib.suppress(BlockingIOError):
                        os.read(self._wake_read, 512)
                elif mask & selectors.EVENT_READ:
                    text = decode(os.read(fileno, 1024 * 4), final=final and last)
                    if not text:  # stdin piped and closed
                        break
                    for event in parser.feed(text):
                        self.process_message(event)
            for event in parser.tick():
                self.process_message(event)

        try:
            while not self.exit_event.is_set():
                process(selector.select(input_wait(parser)))
            selector.unregister(fileno)
            process(selector.select(0.1), final=True)
        finally:
            selector.close()
            try:
                for _event in parser.feed(""):
                    pass
            except (EOFError, ParseError):
                pass
