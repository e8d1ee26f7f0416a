"""Process plumbing shared by the server wrappers: which OS user runs the servers,
subprocess calls with useful errors, the temp-dir lifecycle of a server, and last-resort
cleanup at exit.

The generic parts (RunAs, free ports, waiting for a port, starting a child as the server
user in its own process group, stopping it) are pgtop's own, from pgtop.demo.procs: the
demo starts its throwaway servers the same way. They are re-exported here, so
`from support.procs import free_port` keeps working.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import shutil
import subprocess
import tempfile
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from types import TracebackType
from typing import Self

from pgtop.demo.procs import (
    RunAs,
    free_port,
    on_free_port,
    pick_server_user,
    port_accepts,
    run_captured,
    server_env,
    start_child,
    stop_process,
    wait_until,
)

__all__ = [
    "SERVER_USER_ENV",
    "RunAs",
    "ServerError",
    "TempDirServer",
    "free_port",
    "on_free_port",
    "port_accepts",
    "register_cleanup",
    "run",
    "server_env",
    "server_user",
    "start_child",
    "stop_process",
    "tail",
    "unregister_cleanup",
    "wait_until",
]

# Env var naming the unprivileged OS user to run servers as when the tests run as root.
SERVER_USER_ENV = "PGTOP_TEST_SERVER_USER"


class ServerError(RuntimeError):
    """A test server failed to initialise, start or stop; the message carries its log."""


def server_user() -> RunAs:
    """PostgreSQL and PgBouncer refuse to run as root, so as root we drop to `postgres`."""
    name = os.environ.get(SERVER_USER_ENV, "postgres")
    run_as = pick_server_user(name)
    if run_as is None:
        raise ServerError(
            f"tests run as root but OS user {name!r} does not exist; PostgreSQL refuses to "
            f"run as root. Create it or set {SERVER_USER_ENV}."
        )
    return run_as


def run(
    cmd: Sequence[str | os.PathLike[str]],
    *,
    run_as: RunAs,
    cwd: Path,
    env: Mapping[str, str] | None = None,
    timeout: float = 60.0,
    check: bool = True,
) -> subprocess.CompletedProcess[str]:
    proc = run_captured(cmd, run_as=run_as, cwd=cwd, env=env, timeout=timeout)
    if check and proc.returncode != 0:
        raise ServerError(
            f"command failed ({proc.returncode}): {' '.join(map(str, cmd))}\n"
            f"--- stdout ---\n{proc.stdout}\n--- stderr ---\n{proc.stderr}"
        )
    return proc


def tail(path: Path, lines: int = 40) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError as exc:
        return f"<no log at {path}: {exc}>"


class TempDirServer(ABC):
    """A server living in its own temp dir: make_tmpdir() creates it (owned by the server
    user, cleaned up at exit even if a finalizer is skipped), cleanup() stops the server
    and removes the dir. Subclasses provide setup(), stop() and logfile; use as a context
    manager."""

    kind = "server"  # for the "not set up" error
    run_as: RunAs
    tmpdir: Path | None

    @property
    @abstractmethod
    def logfile(self) -> Path: ...

    @abstractmethod
    def setup(self) -> Self: ...

    @abstractmethod
    def stop(self) -> None: ...

    def _dir(self) -> Path:
        if self.tmpdir is None:
            raise ServerError(f"{self.kind} not set up")
        return self.tmpdir

    def make_tmpdir(self, prefix: str) -> Path:
        # Short path under /tmp: the unix socket path must stay below ~107 bytes.
        self.tmpdir = Path(tempfile.mkdtemp(prefix=prefix))
        register_cleanup(self, self.cleanup)
        self.run_as.hand_over(self.tmpdir)
        return self.tmpdir

    def cleanup(self) -> None:
        try:
            self.stop()
        finally:
            if self.tmpdir is not None:
                shutil.rmtree(self.tmpdir, ignore_errors=True)
            unregister_cleanup(self)

    def __enter__(self) -> Self:
        return self.setup()

    def __exit__(
        self, et: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.cleanup()

    def log_tail(self, lines: int = 40) -> str:
        return tail(self.logfile, lines)


# Every started server registers its cleanup here, so even an interpreter exit that skips
# fixture finalizers (KeyboardInterrupt during setup, a crash in a hook) stops it.
_cleanups: dict[int, Callable[[], None]] = {}


def register_cleanup(owner: object, cleanup: Callable[[], None]) -> None:
    _cleanups[id(owner)] = cleanup


def unregister_cleanup(owner: object) -> None:
    _cleanups.pop(id(owner), None)


@atexit.register
def _cleanup_all() -> None:
    for cleanup in list(_cleanups.values()):
        with contextlib.suppress(Exception):  # best effort; keep going with the others
            cleanup()
    _cleanups.clear()
