"""Describing the machine and the versions under test, for the results file. Stateless."""

from __future__ import annotations

import contextlib
import os
import platform
import subprocess
from pathlib import Path
from typing import Any

import psutil
from common import PGA, PGA_VENV, PGTOP, PGTOP_VENV
from environment import BenchEnvironment


def _version(cmd: list[str]) -> str:
    with contextlib.suppress(Exception):
        out = subprocess.run(cmd, capture_output=True, text=True, timeout=30).stdout
        return out.strip().splitlines()[0]
    return "unknown"


def machine_info(env: BenchEnvironment | None) -> dict[str, Any]:
    cpu = "unknown"
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    pga_py = PGA_VENV / "bin" / "python"
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "memory_gb": round(psutil.virtual_memory().total / 2**30, 1),
        "kernel": platform.release(),
        "python_harness": platform.python_version(),
        "python_pgtop": _version([str(PGTOP_VENV / "bin" / "python"), "-V"]),
        "python_pg_activity": _version([str(pga_py), "-V"]),
        "postgresql": env.pg.version_text if env and env.pg else "none",
        "pgbouncer": env.bouncer.version_text if env and env.bouncer else "none",
        "pgtop": _version([str(PGTOP), "--version"]),
        "pg_activity": _version([str(PGA), "--version"]),
        "textual": _version(
            [str(PGTOP_VENV / "bin" / "python"), "-c", "import textual; print(textual.__version__)"]
        ),
        "loadavg_end": [round(x, 2) for x in os.getloadavg()],
    }
