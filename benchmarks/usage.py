"""What a monitor costs the machine: CPU seconds of its process tree and of given server
backends, and its peak memory (VmHWM). Stateless."""

from __future__ import annotations

import contextlib
import re
from pathlib import Path

import psutil


def tree(pid: int) -> list[psutil.Process]:
    try:
        root = psutil.Process(pid)
        return [root, *root.children(recursive=True)]
    except psutil.NoSuchProcess:
        return []


def cpu_snapshot(pid: int) -> dict[int, float]:
    out: dict[int, float] = {}
    for p in tree(pid):
        with contextlib.suppress(psutil.Error):
            t = p.cpu_times()
            out[p.pid] = t.user + t.system + t.children_user + t.children_system
    return out


def cpu_delta(before: dict[int, float], after: dict[int, float]) -> float:
    return sum(v - before.get(pid, 0.0) for pid, v in after.items())


def pids_cpu(pids: list[int]) -> float:
    total = 0.0
    for pid in pids:
        with contextlib.suppress(psutil.Error):
            t = psutil.Process(pid).cpu_times()
            total += t.user + t.system
    return total


def vm_hwm_kb(pid: int) -> int:
    total = 0
    for p in tree(pid):
        with contextlib.suppress(OSError):
            m = re.search(r"VmHWM:\s+(\d+) kB", Path(f"/proc/{p.pid}/status").read_text())
            total += int(m.group(1)) if m else 0
    return total
