"""Host figures when pgtop runs on the database host: per-backend CPU, memory and I/O.

pg_activity reads /proc for every listed session on every refresh, which is most of its
CPU. pgtop reads only the backends on screen, in a thread, and only when the user asks
(key `h`). "Local" is proven, not guessed: pgtop's own backend must be a process on this
machine whose start time matches its backend_start.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from datetime import datetime

from pgtop.model.host import HostStats, ProcessStats

# A backend's start time as the OS and as PostgreSQL see it differ by scheduling only.
START_TOLERANCE_S = 2.0


def is_local_backend(pid: int, backend_start: datetime | None) -> bool:
    """True when `pid` is this machine's process for that backend (not a namesake)."""
    import psutil

    if backend_start is None or pid <= 0:  # a pooler announces made-up, even negative, pids
        return False
    try:
        proc = psutil.Process(pid)
        created = proc.create_time()
        name = proc.name()
    except (psutil.Error, OSError, ValueError):
        return False
    return "postgres" in name and abs(created - backend_start.timestamp()) <= START_TOLERANCE_S


@dataclass
class _Sample:
    at: float
    cpu: float  # user + system seconds
    read: int | None
    write: int | None


class HostCollector:
    """Samples the given backends; rates are deltas against the previous sample."""

    def __init__(self, data_directory: str | None = None) -> None:
        self.data_directory = data_directory
        self._last: dict[int, _Sample] = {}

    def sample(self, pids: list[int]) -> tuple[HostStats, dict[int, ProcessStats]]:
        """Blocking (reads /proc): call it in a thread."""
        return self._host(), self._processes(pids)

    def _host(self) -> HostStats:
        import psutil

        load1, load5, load15 = os.getloadavg()
        mem = psutil.virtual_memory()
        swap = psutil.swap_memory()
        disk_path = self.data_directory if self.data_directory else "/"
        try:
            disk = psutil.disk_usage(disk_path)
            disk_pct, disk_free = disk.percent, disk.free
        except OSError:  # the data directory is not readable by this user
            disk_path, disk_pct, disk_free = "/", psutil.disk_usage("/").percent, None
        return HostStats(
            load=(load1, load5, load15),
            cpus=psutil.cpu_count() or 1,
            mem_total=mem.total,
            mem_used_percent=mem.percent,
            swap_used_percent=swap.percent,
            disk_path=disk_path,
            disk_used_percent=disk_pct,
            disk_free=disk_free,
        )

    def _processes(self, pids: list[int]) -> dict[int, ProcessStats]:
        import psutil

        now = time.monotonic()
        out: dict[int, ProcessStats] = {}
        seen: dict[int, _Sample] = {}
        for pid in pids:
            try:
                proc = psutil.Process(pid)
                with proc.oneshot():
                    times = proc.cpu_times()
                    rss = proc.memory_info().rss
                    try:
                        io = proc.io_counters()
                        read, write = io.read_bytes, io.write_bytes
                    except (psutil.AccessDenied, AttributeError):
                        read = write = None
            except (psutil.Error, OSError):
                continue
            sample = _Sample(now, times.user + times.system, read, write)
            seen[pid] = sample
            prev = self._last.get(pid)
            out[pid] = _stats(pid, rss, prev, sample)
        self._last = seen  # forget backends that scrolled away or ended
        return out


def _stats(pid: int, rss: int, prev: _Sample | None, cur: _Sample) -> ProcessStats:
    if prev is None or cur.at <= prev.at:
        return ProcessStats(pid, None, rss, None, None)
    span = cur.at - prev.at

    def rate(a: int | None, b: int | None) -> float | None:
        return None if a is None or b is None or b < a else (b - a) / span

    return ProcessStats(
        pid=pid,
        cpu_percent=max(0.0, (cur.cpu - prev.cpu) / span * 100),
        rss=rss,
        read_bps=rate(prev.read, cur.read),
        write_bps=rate(prev.write, cur.write),
    )
