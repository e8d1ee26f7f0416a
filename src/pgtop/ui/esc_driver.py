"""The terminal driver: Textual's LinuxDriver, with a lone Esc reported after ESCDELAY.

Textual (8.2) reads the terminal in a thread that waits up to 100 ms for input and only
then checks whether a lone Esc byte has waited long enough to be the Esc key: whatever
ESCDELAY says (pgtop's default is 25 ms, __main__.py), Esc came 100-110 ms after it was
pressed, where every other key takes a few ms. This driver's input loop is Textual's
(linux_driver.py `run_input_thread`), except that while the parser waits to tell Esc
from the start of a sequence it wakes up when that wait ends.

No state beyond the thread's own locals; the app picks this driver (app.py).
"""

from __future__ import annotations

import os
import selectors
from codecs import getincrementaldecoder

from textual._loop import loop_last
from textual._parser import ParseError
from textual._time import get_time
from textual._xterm_parser import XTermParser
from textual.drivers.linux_driver import LinuxDriver

IDLE_WAIT_S = 0.1  # Textual's: how often the loop looks at `exit_event` when no key comes


def input_wait(parser: XTermParser) -> float:
    """How long to wait for input: until the parser's timeout (a lone Esc) if it has one."""
    due = parser._timeout_time
    if due is None:
        return IDLE_WAIT_S
    return min(IDLE_WAIT_S, max(0.0, due - get_time()))


class PromptEscDriver(LinuxDriver):
    def run_input_thread(self) -> None:
        """Wait for input and dispatch events (Textual's loop; see the module docstring)."""
        selector = selectors.SelectSelector()
        selector.register(self.fileno, selectors.EVENT_READ)
        fileno = self.fileno
        parser = XTermParser(self._debug)
        decode = getincrementaldecoder("utf-8")().decode

        def process(events: list[tuple[selectors.SelectorKey, int]], final: bool = False) -> None:
            for last, (_key, mask) in loop_last(events):
                if mask & selectors.EVENT_READ:
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
            process(selector.select(IDLE_WAIT_S), final=True)
        finally:
            selector.close()
            try:
                for _event in parser.feed(""):
                    pass
            except (EOFError, ParseError):
                pass
