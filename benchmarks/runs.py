"""One measured run of one monitor: launch to first screen, warm-up, the measurement
window (CPU, terminal bytes, server statements), then the key presses. RunResult holds
one run's figures; run_one is their only writer."""

from __future__ import annotations

import os
import random
import time
from dataclasses import dataclass, field

import psutil
import statements
from common import WARMUP
from keys import key_latencies
from launcher import Launcher, screen_dump
from monitors import MonitorSpec
from usage import cpu_delta, cpu_snapshot, pids_cpu, vm_hwm_kb


@dataclass
class RunResult:
    monitor: str
    repeat: int
    cpu_s_per_min: float = 0.0
    peak_rss_mb: float = 0.0
    bytes_per_s: float = 0.0
    exec_ms_per_s: float = 0.0
    calls_per_s: float = 0.0
    backend_cpu_s_per_min: float = 0.0
    first_screen_s: float = 0.0
    # More launches, measured to the first screen only (--startups): one launch per run
    # is too few for a figure that varies by +-30 % between launches.
    startup_s: list[float] = field(default_factory=list)
    window_s: float = 0.0
    key_down_ms: list[float] = field(default_factory=list)
    key_open_ms: list[float] = field(default_factory=list)
    key_misses: int = 0
    loadavg_1m: float = 0.0  # at window start: other load on the machine skews everything
    machine_busy_cores: float = 0.0  # all processes, during the window


def run_one(
    launcher: Launcher,
    spec: MonitorSpec,
    repeat: int,
    *,
    seconds: float,
    keys: int,
    rng: random.Random,
) -> RunResult:
    env = launcher.env
    res = RunResult(spec.name, repeat)
    m, home, res.first_screen_s = launcher.launch(spec)
    try:
        time.sleep(WARMUP)
        # -- the measurement window
        backends = statements.backend_pids(env, spec.role)
        statements.reset(env)
        res.loadavg_1m = os.getloadavg()[0]
        psutil.cpu_percent(None)
        t0 = time.monotonic()
        cpu0, b0, be0 = cpu_snapshot(m.pid), m.bytes_total, pids_cpu(backends)
        time.sleep(seconds)
        cpu1, b1, be1 = cpu_snapshot(m.pid), m.bytes_total, pids_cpu(backends)
        t1 = time.monotonic()
        res.machine_busy_cores = psutil.cpu_percent(None) / 100.0 * (os.cpu_count() or 1)
        exec_ms, calls = statements.exec_ms_and_calls(env, spec.role)
        if not m.alive():
            raise RuntimeError(f"{spec.name} exited during the window:\n" + screen_dump(m))
        win = t1 - t0
        res.window_s = win
        res.cpu_s_per_min = cpu_delta(cpu0, cpu1) * 60.0 / win
        res.bytes_per_s = (b1 - b0) / win
        res.exec_ms_per_s = exec_ms / win
        res.calls_per_s = calls / win
        res.backend_cpu_s_per_min = (be1 - be0) * 60.0 / win
        # -- keys: cursor down, then the screen-changing key (open, then close)
        res.key_down_ms, res.key_open_ms = key_latencies(rng, m, spec, keys)
        res.key_misses = sum(1 for v in res.key_down_ms + res.key_open_ms if v != v)
        res.peak_rss_mb = vm_hwm_kb(m.pid) / 1024.0
    finally:
        launcher.stop(home)
    return res
