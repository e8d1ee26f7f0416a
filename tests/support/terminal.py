"""Run pgtop on a pseudo-terminal of its own (its controlling tty, as in a real shell),
type answers when given text appears, and collect everything it wrote."""

from __future__ import annotations

import fcntl
import os
import pty
import select
import struct
import subprocess
import sys
import termios
import time
from collections.abc import Sequence


def run_in_terminal(
    args: list[str],
    env: dict[str, str],
    answers: Sequence[tuple[bytes, bytes]],
    timeout: float = 30.0,
    size: tuple[int, int] = (0, 0),
) -> tuple[int, str]:
    """Each (seen, typed) pair: once `seen` has been written, type `typed` (in order).
    `size`: the terminal's columns and rows (0: unknown, as a bare pty reports).
    Returns the exit status and the output."""
    controller, terminal = pty.openpty()
    fcntl.ioctl(terminal, termios.TIOCSWINSZ, struct.pack("HHHH", size[1], size[0], 0, 0))

    def own_terminal() -> None:
        os.setsid()
        fcntl.ioctl(0, termios.TIOCSCTTY, 0)

    proc = subprocess.Popen(
        [sys.executable, "-m", "pgtop", *args],
        stdin=terminal,
        stdout=terminal,
        stderr=terminal,
        env=env,
        preexec_fn=own_terminal,
    )
    os.close(terminal)
    out = b""
    pending = list(answers)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        ready, _, _ = select.select([controller], [], [], 0.2)
        if ready:
            try:
                chunk = os.read(controller, 65536)
            except OSError:  # the child closed the terminal
                break
            if not chunk:
                break
            out += chunk
        if pending and pending[0][0] in out:
            os.write(controller, pending.pop(0)[1])
        if proc.poll() is not None and not ready:
            break
    try:
        proc.wait(timeout=10)
    finally:
        if proc.poll() is None:
            proc.kill()
        os.close(controller)
    return proc.returncode, out.decode(errors="replace")
