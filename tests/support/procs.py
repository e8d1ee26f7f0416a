"""Process plumbing shared by the server wrappers: which OS user runs the servers,
free ports, subprocess calls with useful errors, and last-resort cleanup at exit."""

from __future__ import annotations

import atexit
import contextlib
import os
import pwd
import socket
import subprocess
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

# Env var naming the unprivileged OS user to run servers as when the tests run as root.
SERVER_USER_ENV = "PGTOP_TEST_SERVER_USER"


class ServerError(RuntimeError):
    """A test server failed to initialise, start or stop; the message carries its log."""


@dataclass(frozen=True)
class RunAs:
    """The OS identity the servers run under. uid/gid None means "the current user"."""

    name: str
    uid: int | None = None
    gid: int | None = None

    @property
    def switches(self) -> bool:
        return self.uid is not None


def server_user() -> RunAs:
    """PostgreSQL and PgBouncer refuse to run as root, so as root we drop to `postgres`."""
    if os.geteuid() != 0:
        return RunAs(pwd.getpwuid(os.geteuid()).pw_name)
    name = os.environ.get(SERVER_USER_ENV, "postgres")
    try:
        entry = pwd.getpwnam(name)
    except KeyError:
        raise ServerError(
            f"tests run as root but OS user {name!r} does not exist; PostgreSQL refuses to "
            f"run as root. Create it or set {SERVER_USER_ENV}."
        ) from None
    return RunAs(name, entry.pw_uid, entry.pw_gid)


def hand_over(path: Path, run_as: RunAs) -> None:
    """Give a file or dir we created (as root) to the server user."""
    if run_as.switches:
        assert run_as.uid is not None and run_as.gid is not None
        os.chown(path, run_as.uid, run_as.gid)


def server_env(home: Path) -> dict[str, str]:
    """The caller's environment minus PG* variables, which would redirect pg_ctl/psql."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PG")}
    env.update(HOME=str(home), LC_ALL="C", LANG="C")
    return env


def _user_kwargs(run_as: RunAs) -> dict[str, object]:
    if not run_as.switches:
        return {}
    # Popen(user=...) switches ids in the child directly: no runuser/su in between, so the
    # pid we hold is the server's and signals reach it. extra_groups=[] drops root's groups.
    return {"user": run_as.uid, "group": run_as.gid, "extra_groups": []}


def run(
    cmd: Sequence[str | os.PathLike[str]],
    *,
    run_as: RunAs,
    cwd: Path,
    env: Mapping[str, str] | None = None,
    timeout: float = 60.0,
    check: bool = True,
) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run(
        [os.fspath(c) for c in cmd],
        cwd=cwd,
        env=dict(env) if env is not None else server_env(cwd),
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
        **_user_kwargs(run_as),  # type: ignore[arg-type]
    )
    if check and proc.returncode != 0:
        raise ServerError(
            f"command failed ({proc.returncode}): {' '.join(map(str, cmd))}\n"
            f"--- stdout ---\n{proc.stdout}\n--- stderr ---\n{proc.stderr}"
        )
    return proc


def popen(
    cmd: Sequence[str | os.PathLike[str]],
    *,
    run_as: RunAs,
    cwd: Path,
    stderr_path: Path,
) -> subprocess.Popen[bytes]:
    with open(stderr_path, "ab") as err:
        return subprocess.Popen(
            [os.fspath(c) for c in cmd],
            cwd=cwd,
            env=server_env(cwd),
            stdin=subprocess.DEVNULL,
            stdout=err,
            stderr=err,
            # Own process group: a Ctrl-C aimed at pytest must not kill it before we do.
            start_new_session=True,
            **_user_kwargs(run_as),  # type: ignore[arg-type]
        )


def free_port(host: str = "127.0.0.1") -> int:
    """A port nobody listens on right now (racy by nature; callers retry on bind errors)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


def port_accepts(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=0.5):
            return True
    except OSError:
        return False


def wait_until(predicate: Callable[[], bool], timeout: float, interval: float = 0.02) -> bool:
    deadline = time.monotonic() + timeout
    while True:
        if predicate():
            return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(interval)


def tail(path: Path, lines: int = 40) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError as exc:
        return f"<no log at {path}: {exc}>"


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
