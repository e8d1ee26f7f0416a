"""What every sandboxed server shares: its directory, its OS user, its log, and being
stopped and removed for sure. The directory is the server's own temp dir (created by
make_root, removed by cleanup) unless the caller hands one in, which the caller then owns.

Every server that made its own dir registers its cleanup here, so even an interpreter exit
that skips the owner's teardown (KeyboardInterrupt during setup, a crash in a hook) stops
it and removes the dir.
"""

from __future__ import annotations

import atexit
import contextlib
import re
import shutil
import subprocess
import tempfile
from abc import ABC, abstractmethod
from collections.abc import Callable
from pathlib import Path
from types import TracebackType
from typing import Self

from pgtop.sandbox.procs import RunAs, SandboxError, on_free_port, tail

HOST = "127.0.0.1"


class SandboxServer(ABC):
    """A server in a directory of its own; use as a context manager, or setup()/cleanup().
    The object owns its process, port and (if it made it) its dir: setup(), start(),
    stop() and cleanup() are their only writers."""

    kind = "server"  # for error messages
    host = HOST
    # The version number in the first line of `<binary> --version` / `postgres -V`.
    version_pattern = r"\S+\s+(\S+)"
    version_text = ""
    # What the server logs when someone else took its port before it could bind
    # (PostgreSQL's words; PgBouncer says its own).
    port_taken_message = "could not bind"

    def __init__(self, run_as: RunAs, root: Path | None, temp_prefix: str) -> None:
        self.run_as = run_as
        self.root = root  # the caller's dir, or None until make_root() creates ours
        self.owns_root = root is None
        self.temp_prefix = temp_prefix
        self.port = 0
        self.process: subprocess.Popen[bytes] | None = None

    @property
    @abstractmethod
    def logfile(self) -> Path: ...

    @abstractmethod
    def prepare(self) -> None:
        """Everything before the first start (make_root(), initdb)."""

    @abstractmethod
    def start(self) -> None:
        """Start on self.port; raise SandboxError if the server does not come up."""

    @abstractmethod
    def stop(self) -> None: ...

    def setup(self) -> Self:
        """Prepare and start on a free port; on any failure everything created so far is
        removed."""
        try:
            self.prepare()
            # Someone may take the port between our probe and the server's bind: retry.
            on_free_port(
                self._start_on,
                host=self.host,
                errors=SandboxError,
                port_taken=lambda: self.port_taken_message in tail(self.logfile, 20),
            )
        except BaseException:
            self.cleanup()
            raise
        return self

    def _start_on(self, port: int) -> None:
        self.port = port
        self.start()

    @property
    def version(self) -> str:
        """`15.14` out of `postgres (PostgreSQL) 15.14 (Debian ...)`, `1.18.0` out of
        `PgBouncer 1.18.0`."""
        m = re.search(self.version_pattern, self.version_text)
        return m.group(1) if m else self.version_text

    @property
    def pid(self) -> int | None:
        return self.process.pid if self.process else None

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    @property
    def tmpdir(self) -> Path | None:
        return self.root

    def _dir(self) -> Path:
        if self.root is None:
            raise SandboxError(f"{self.kind} not set up")
        return self.root

    def make_root(self) -> Path:
        """Our own temp dir, given to the server user, unless the caller handed one in."""
        if self.root is None:
            # Short path under /tmp: a unix socket path must stay below ~107 bytes.
            self.root = Path(tempfile.mkdtemp(prefix=self.temp_prefix))
            _cleanups[id(self)] = self.cleanup
            self.run_as.hand_over(self.root)
        return self.root

    def cleanup(self) -> None:
        """Stop the server; remove its dir if it is ours. Idempotent."""
        try:
            self.stop()
        finally:
            if self.owns_root and self.root is not None:
                shutil.rmtree(self.root, ignore_errors=True)
            _cleanups.pop(id(self), None)

    def log_tail(self, lines: int = 40) -> str:
        try:
            return "\n".join(self.logfile.read_text(errors="replace").splitlines()[-lines:])
        except (OSError, SandboxError) as exc:
            return f"<no log: {exc}>"

    def __enter__(self) -> Self:
        return self.setup()

    def __exit__(
        self, et: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.cleanup()


_cleanups: dict[int, Callable[[], None]] = {}


@atexit.register
def _cleanup_all() -> None:
    for cleanup in list(_cleanups.values()):
        with contextlib.suppress(Exception):  # best effort; keep going with the others
            cleanup()
    _cleanups.clear()
