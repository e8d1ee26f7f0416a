"""Process plumbing for throwaway servers: which OS user runs them, short commands run as
that user, starting a server in its own process group, and stopping it for sure. Stateless.

The servers are our direct children (no daemonising), each the leader of its own process
group: a Ctrl-C typed in the terminal does not reach them before we are ready, and at the
end we can signal the whole group.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import pwd
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

# Names the unprivileged OS user the servers run as when we are root.
SERVER_USER_ENV = "PGTOP_TEST_SERVER_USER"


class SandboxError(Exception):
    """A server could not be set up, started or stopped; the message is one line."""


@dataclass(frozen=True)
class RunAs:
    """The OS identity of the servers; uid None means 'the current user'."""

    name: str
    uid: int | None = None
    gid: int | None = None

    @property
    def switches(self) -> bool:
        """True when the servers run as another OS user than ours (we are root)."""
        return self.uid is not None

    def popen_kwargs(self) -> dict[str, object]:
        if self.uid is None:
            return {}
        # Popen switches ids in the child itself (no runuser/su in between), so the pid we
        # hold is the server's and signals reach it. extra_groups=[] drops root's groups.
        return {"user": self.uid, "group": self.gid, "extra_groups": []}

    def hand_over(self, path: Path) -> None:
        """Give a file or dir we created (as root) to the server user."""
        if self.uid is not None and self.gid is not None:
            os.chown(path, self.uid, self.gid)


def pick_server_user(root_fallback: str = "postgres") -> RunAs | None:
    """Who runs the servers: the current user, or as root `root_fallback` (PostgreSQL and
    PgBouncer refuse to run as root); None if we are root and that OS user does not exist."""
    if os.geteuid() != 0:
        return RunAs(pwd.getpwuid(os.geteuid()).pw_name)
    try:
        entry = pwd.getpwnam(root_fallback)
    except KeyError:
        return None
    return RunAs(root_fallback, entry.pw_uid, entry.pw_gid)


def server_user(name: str | None = None) -> RunAs:
    """PostgreSQL and PgBouncer refuse to run as root: as root, drop to `name`, else to
    $PGTOP_TEST_SERVER_USER, else to `postgres`."""
    name = name or os.environ.get(SERVER_USER_ENV) or "postgres"
    run_as = pick_server_user(name)
    if run_as is None:
        raise SandboxError(
            f"running as root and there is no OS user {name!r} to run PostgreSQL as (it "
            f"refuses to run as root): create it, set {SERVER_USER_ENV}, or run as a normal user"
        )
    return run_as


def server_env(home: Path) -> dict[str, str]:
    """Our environment minus PG* variables, which would point initdb/psql elsewhere."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PG")}
    env.update(HOME=str(home), LC_ALL="C", LANG="C")
    return env


def run_captured(
    cmd: Sequence[str | os.PathLike[str]],
    *,
    run_as: RunAs,
    cwd: Path,
    env: Mapping[str, str] | None = None,
    timeout: float = 60.0,
) -> subprocess.CompletedProcess[str]:
    """Run a short command as `run_as` in `cwd`, output captured as text, exit code not
    checked. `env` defaults to server_env(cwd). OSError and TimeoutExpired propagate."""
    return subprocess.run(
        [os.fspath(c) for c in cmd],
        cwd=cwd,
        env=dict(env) if env is not None else server_env(cwd),
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
        **run_as.popen_kwargs(),  # type: ignore[arg-type]
    )


def run(
    cmd: Sequence[str | os.PathLike[str]], *, run_as: RunAs, cwd: Path, timeout: float = 60.0
) -> str:
    """Run a short command as the server user; a failure becomes a one-line SandboxError."""
    try:
        proc = run_captured(cmd, run_as=run_as, cwd=cwd, timeout=timeout)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise SandboxError(f"cannot run {Path(cmd[0]).name}: {exc}") from None
    if proc.returncode != 0:
        lines = (proc.stderr or proc.stdout).strip().splitlines()
        why = lines[-1] if lines else f"exit code {proc.returncode}"
        raise SandboxError(f"{Path(cmd[0]).name} failed as OS user {run_as.name}: {why}")
    return proc.stdout


def _load_prctl() -> Callable[..., int] | None:
    with contextlib.suppress(Exception):
        return ctypes.CDLL(None, use_errno=True).prctl  # type: ignore[no-any-return]
    return None


# Resolved here, in the parent: the forked child must not dlopen (another thread may hold
# the loader's lock at fork time); it only calls this pointer.
_PRCTL = _load_prctl() if sys.platform == "linux" else None
_PR_SET_PDEATHSIG = 1


def _die_with_parent(sig: int) -> Callable[[], None] | None:
    """In the child: if pgtop is killed outright (SIGKILL), the kernel sends the server
    `sig`, so no server outlives us even when none of our cleanup code can run."""
    prctl = _PRCTL
    if prctl is None:
        return None

    def preexec() -> None:
        prctl(_PR_SET_PDEATHSIG, sig)

    return preexec


def spawn(
    cmd: Sequence[str | os.PathLike[str]],
    *,
    run_as: RunAs,
    cwd: Path,
    log: Path,
    death_signal: int | None = None,
) -> subprocess.Popen[bytes]:
    """Start a server in the foreground as our child and as `run_as`, in a new session
    (its own process group), stdout and stderr appended to `log`. With `death_signal`,
    the kernel sends it that signal if the thread that started it dies (Linux): use it
    only from a thread that outlives the server (a test's worker thread may not)."""
    try:
        with open(log, "ab") as out:
            return subprocess.Popen(
                [os.fspath(c) for c in cmd],
                cwd=cwd,
                env=server_env(cwd),
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=out,
                start_new_session=True,
                preexec_fn=_die_with_parent(death_signal) if death_signal is not None else None,
                **run_as.popen_kwargs(),  # type: ignore[arg-type]
            )
    except OSError as exc:
        raise SandboxError(f"cannot start {Path(cmd[0]).name}: {exc}") from None


def stop_process(proc: subprocess.Popen[bytes] | None, sig: int, timeout: float = 5.0) -> None:
    """Ask politely with `sig`, then SIGKILL the whole process group; always reap."""
    if proc is None or proc.poll() is not None:
        return
    with contextlib.suppress(ProcessLookupError):
        proc.send_signal(sig)
    try:
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(proc.pid, signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(timeout=5)


def free_port(host: str = "127.0.0.1") -> int:
    """A port nobody listens on right now (racy: callers retry on a bind error)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


def on_free_port(
    start: Callable[[int], None],
    *,
    host: str,
    errors: type[BaseException] | tuple[type[BaseException], ...],
    port_taken: Callable[[], bool],
    attempts: int = 3,
) -> int:
    """Call start(port) on a free port; if it raises one of `errors` and port_taken() says
    someone grabbed the port between our probe and the server's bind, try another port.
    Returns the port the server started on; the last failure propagates."""
    attempt = 1
    while True:
        port = free_port(host)
        try:
            start(port)
            return port
        except errors:
            if attempt >= attempts or not port_taken():
                raise
        attempt += 1


def port_accepts(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=0.5):
            return True
    except OSError:
        return False


def wait_until(predicate: Callable[[], bool], timeout: float, interval: float = 0.02) -> bool:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() >= deadline:
            return False
        time.sleep(interval)
    return True


def tail(path: Path, lines: int = 3) -> str:
    """The last meaningful lines of a log, joined into one line for an error message."""
    try:
        text = path.read_text(errors="replace").strip().splitlines()
    except OSError:
        return ""
    return " | ".join(line.strip() for line in text[-lines:])
