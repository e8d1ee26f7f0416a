"""Host figures, present only when pgtop runs on the database host."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class ProcessStats:
    pid: int
    cpu_percent: float | None  # None on the first sample: a rate needs two
    rss: int
    read_bps: float | None  # None when /proc/PID/io is not readable by this user
    write_bps: float | None


@dataclass(frozen=True, slots=True)
class HostStats:
    load: tuple[float, float, float]
    cpus: int
    mem_total: int
    mem_used_percent: float
    swap_used_percent: float
    disk_path: str
    disk_used_percent: float
    disk_free: int | None
