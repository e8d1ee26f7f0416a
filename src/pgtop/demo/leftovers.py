"""Demo directories left behind by a pgtop that could not clean up (SIGKILL, a power cut):
found at the next demo start, their servers stopped, the directories removed.

Each demo writes OWNER_FILE (its pid and process start time) into its temp dir: the dir
is stale once that process is gone. A dir without the file (an older pgtop's, or one
being created right now) is stale only if it is older than GRACE seconds and no server in
it still has a live parent outside it (the demo runs its servers as its own children).
Only dirs and processes of the given OS users are touched, and a process only if its
working directory is inside the stale dir (the postmaster, its backends and PgBouncer run
there), so a reused pid is never hit. Stateless: the owner file on disk is the state.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import stat
import tempfile
import time
from collections.abc import Collection
from pathlib import Path

import psutil

PREFIX = "pgtop-demo-"
OWNER_FILE = "pgtop.owner"
GRACE = 60.0


def claim(root: Path) -> None:
    """Mark `root` as this process's demo dir."""
    me = psutil.Process()
    (root / OWNER_FILE).write_text(f"{me.pid} {me.create_time()!r}\n")


def _owner_alive(root: Path) -> bool | None:
    """True/False, or None when the dir has no readable owner file."""
    try:
        pid_text, created_text = (root / OWNER_FILE).read_text().split()
        pid, created = int(pid_text), float(created_text)
    except (OSError, ValueError):
        return None
    try:
        return abs(psutil.Process(pid).create_time() - created) < 0.01
    except psutil.NoSuchProcess:
        return False
    except psutil.Error:  # exists but cannot be inspected: leave its dir alone
        return True


def _processes_inside(root: Path, uid: int) -> list[psutil.Process]:
    inside = []
    for proc in psutil.process_iter(["uids", "cwd"]):
        uids, cwd = proc.info["uids"], proc.info["cwd"]
        if uids is None or uids.real != uid or not cwd:
            continue
        if Path(cwd) == root or Path(cwd).is_relative_to(root):
            inside.append(proc)
    return inside


def _run_by_someone(procs: list[psutil.Process]) -> bool:
    """Whether a process outside the dir (not init, which adopts orphans) is the parent of
    one inside it: the pgtop that started them, still alive."""
    inside = {proc.pid for proc in procs}
    for proc in procs:
        with contextlib.suppress(psutil.Error):
            if proc.ppid() not in inside and proc.ppid() > 1:
                return True
    return False


def _stop_servers(root: Path, uid: int) -> int:
    """SIGQUIT (immediate shutdown) to the postmaster, SIGTERM to the rest (PgBouncer's
    immediate shutdown), SIGKILL to whatever is still there after 5 s."""
    procs = _processes_inside(root, uid)
    try:
        postmaster = int((root / "data" / "postmaster.pid").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        postmaster = None
    for proc in procs:
        with contextlib.suppress(psutil.Error):
            proc.send_signal(signal.SIGQUIT if proc.pid == postmaster else signal.SIGTERM)
    _, alive = psutil.wait_procs(procs, timeout=5)
    for proc in alive:
        with contextlib.suppress(psutil.Error):
            proc.kill()
    psutil.wait_procs(alive, timeout=5)
    return len(procs)


def sweep(owners: Collection[int], where: Path | None = None) -> list[tuple[Path, int]]:
    """Remove stale demo dirs owned by `owners` (uids) in the temp dir; returns each
    removed dir with how many of its processes were stopped."""
    where = where or Path(tempfile.gettempdir())
    removed = []
    for root in where.glob(PREFIX + "*"):
        try:
            info = root.lstat()
        except OSError:
            continue
        if not stat.S_ISDIR(info.st_mode) or info.st_uid not in owners:
            continue
        alive = _owner_alive(root)
        if alive is None:
            young = time.time() - info.st_mtime < GRACE
            alive = young or _run_by_someone(_processes_inside(root, info.st_uid))
        if alive:
            continue
        stopped = _stop_servers(root, info.st_uid)
        shutil.rmtree(root, ignore_errors=True)  # safe against symlinks planted inside
        if not os.path.lexists(root):
            removed.append((root, stopped))
    return removed
