"""Run a terminal program in a pseudo-terminal, read all its output, and emulate the screen.

One thread reads the master side and does nothing else: it stamps each chunk with the
time it was read, counts it (bytes written to the terminal) and queues it. A second
thread feeds the chunks into a pyte screen and evaluates the watchers (predicates over
that screen) after each one; a watcher that fires gets the read time of the chunk that
made it true. Parsing is kept off the reading thread because pyte is slow (4 KB of a
full repaint took it 4-38 ms under load): when one thread did both, the chunk after a
big one was read only once the big one was parsed, so a screen written in two chunks
looked late by that parse, by an amount that depended on the harness, not the monitor.
A PtyMonitor owns its child process, the pty and the screen; the reader thread is the
byte count's only writer and the parser thread the screen's.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import pty
import queue
import re
import select
import signal
import struct
import subprocess
import sys
import termios
import threading
import time
from collections.abc import Callable, Mapping, Sequence

import pyte

Predicate = Callable[[pyte.Screen], bool]

# pyte does not parse DCS strings (ESC P ... ESC \\); blessed sends XTGETTCAP queries as DCS.
_DCS = re.compile(rb"\x1bP.*?\x1b\\", re.S)


class AnsweringScreen(pyte.Screen):
    """A pyte screen that answers the terminal's reports (cursor position, device
    attributes) the way a real terminal would: blessed (pg_activity) blocks on the cursor
    position report at start-up until it gets an answer."""

    def __init__(self, cols: int, rows: int) -> None:
        super().__init__(cols, rows)
        self.reply_fd = -1

    def write_process_input(self, data: str) -> None:
        if self.reply_fd >= 0:
            with contextlib.suppress(OSError):
                os.write(self.reply_fd, data.encode())


class Watcher:
    def __init__(self, pred: Predicate, since: float) -> None:
        self.pred = pred
        self.since = since  # chunks read before this cannot fire it
        self.fired_at: float | None = None
        self.event = threading.Event()


class PtyMonitor:
    def __init__(
        self,
        cmd: Sequence[str],
        env: Mapping[str, str],
        cols: int = 120,
        rows: int = 40,
        user: tuple[int, int] | None = None,
        cwd: str | None = None,
    ) -> None:
        self.cmd = list(cmd)
        self.env = dict(env)
        self.cols, self.rows = cols, rows
        self.user = user
        self.cwd = cwd
        self.screen = AnsweringScreen(cols, rows)
        self._pending = b""
        self.stream = pyte.ByteStream(self.screen)
        self.lock = threading.Lock()
        self.bytes_total = 0
        self.watchers: list[Watcher] = []
        self.proc: subprocess.Popen[bytes] | None = None
        self.master = -1
        self.started_at = 0.0
        self._reader: threading.Thread | None = None
        self._parser: threading.Thread | None = None
        # (read time, bytes) from the reader to the parser; None when the reader ends.
        self._chunks: queue.Queue[tuple[float, bytes] | None] = queue.Queue()
        self._stop = threading.Event()

    # -- lifecycle ----------------------------------------------------------------------
    def start(self) -> None:
        # The reader must get the interpreter lock soon after its chunk arrives, while
        # the parser holds it: within 1 ms rather than Python's default 5 ms.
        sys.setswitchinterval(0.001)
        master, slave = pty.openpty()
        fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", self.rows, self.cols, 0, 0))
        kw: dict[str, object] = {}
        if self.user is not None:
            os.fchown(slave, *self.user)
            kw = {"user": self.user[0], "group": self.user[1], "extra_groups": []}

        def make_controlling_tty() -> None:
            fcntl.ioctl(0, termios.TIOCSCTTY, 0)

        self.master = master
        self.screen.reply_fd = master
        self.started_at = time.monotonic()
        try:
            self.proc = subprocess.Popen(
                self.cmd,
                stdin=slave,
                stdout=slave,
                stderr=slave,
                env=self.env,
                cwd=self.cwd,
                start_new_session=True,
                preexec_fn=make_controlling_tty,
                close_fds=True,
                **kw,  # type: ignore[arg-type]
            )
        finally:
            os.close(slave)
        self._parser = threading.Thread(target=self._parse_loop, daemon=True)
        self._parser.start()
        self._reader = threading.Thread(target=self._read_loop, daemon=True)
        self._reader.start()

    def _read_loop(self) -> None:
        try:
            self._read_chunks(self.master)
        finally:
            self._chunks.put(None)

    def _read_chunks(self, fd: int) -> None:
        while not self._stop.is_set():
            try:
                ready, _, _ = select.select([fd], [], [], 0.1)
            except (OSError, ValueError):
                return
            if not ready:
                continue
            try:
                data = os.read(fd, 65536)
            except OSError:  # EIO: the child closed the slave side
                return
            if not data:
                return
            self.bytes_total += len(data)
            self._chunks.put((time.monotonic(), data))

    def _parse_loop(self) -> None:
        while True:
            item = self._chunks.get()
            try:
                if item is None:
                    return
                read_at, data = item
                with self.lock:
                    self.stream.feed(self._strip_dcs(data))
                    for w in self.watchers:
                        if w.fired_at is None and read_at >= w.since and w.pred(self.screen):
                            w.fired_at = read_at
                            w.event.set()
                    self.watchers = [w for w in self.watchers if w.fired_at is None]
            finally:
                self._chunks.task_done()

    def _settle(self) -> None:
        """Wait until every chunk read so far is on the screen."""
        if self._parser is not None and self._parser.is_alive():
            self._chunks.join()

    def _strip_dcs(self, data: bytes) -> bytes:
        data = _DCS.sub(b"", self._pending + data)
        self._pending = b""
        cut = data.rfind(b"\x1bP")
        if cut >= 0:  # an unterminated DCS: keep it for the next chunk
            self._pending, data = data[cut:], data[:cut]
        return data

    def stop(self) -> None:
        proc = self.proc
        if proc is not None and proc.poll() is None:
            for sig, wait in ((signal.SIGTERM, 5.0), (signal.SIGKILL, 5.0)):
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.killpg(proc.pid, sig)
                try:
                    proc.wait(wait)
                    break
                except subprocess.TimeoutExpired:
                    continue
        self._stop.set()
        if self._reader is not None:
            self._reader.join(2)
        if self._parser is not None:
            self._parser.join(2)
        if self.master >= 0:
            with contextlib.suppress(OSError):
                os.close(self.master)
            self.master = -1

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    # -- screen -------------------------------------------------------------------------
    def watch(self, pred: Predicate) -> Watcher:
        """Register a predicate; it is checked now, on the screen of everything read so
        far, and after every chunk read from now on."""
        self._settle()
        with self.lock:
            w = Watcher(pred, time.monotonic())
            if pred(self.screen):
                w.fired_at = time.monotonic()
                w.event.set()
            else:
                self.watchers.append(w)
        return w

    def wait(self, pred: Predicate, timeout: float) -> float | None:
        """Block until pred holds; return the read time of the chunk that made it true."""
        w = self.watch(pred)
        w.event.wait(timeout)
        with self.lock:
            if w in self.watchers:
                self.watchers.remove(w)
        return w.fired_at

    def send(self, data: bytes) -> float:
        t = time.monotonic()
        os.write(self.master, data)
        return t

    def lines(self) -> list[str]:
        self._settle()
        with self.lock:
            return list(self.screen.display)

    def snapshot(self, fn: Callable[[pyte.Screen], object]) -> object:
        self._settle()
        with self.lock:
            return fn(self.screen)
