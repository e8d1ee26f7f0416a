"""The two monitors under test: how to start each (command line, environment), which key
changes its screen and how to see that it did, and installing pg_activity into its own
venv. Stateless."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pyte
from common import COLS, HOST, PGA, PGA_VENV, PGTOP, PGTOP_VENV, ROOT, ROWS, log
from screens import contains


@dataclass(frozen=True)
class MonitorSpec:
    name: str
    role: str
    cmd: Callable[[int, int], list[str]]  # (pg port, bouncer port) -> argv
    open_key: bytes
    open_key_doc: str
    opened: Callable[[pyte.Screen], bool]
    # As root pg_activity reads the postmaster's pidfile and switches to its "local" mode
    # (per-backend /proc CPU/memory/IO, which pgtop does not collect); as `nobody` it
    # cannot, and stays in its remote mode: like for like.
    run_as_nobody: bool = False
    mode: str = ""  # how the table's column header names it


def pgtop_cmd(port: int, bport: int, pooler: bool) -> list[str]:
    cmd = [str(PGTOP), "-h", HOST, "-p", str(port), "-U", "bench_pgtop", "-d", "postgres"]
    cmd += ["--refresh", "1"]
    if pooler:
        cmd += ["--pooler", f"postgresql://bench_pgtop@{HOST}:{bport}/pgbouncer"]
    return cmd


def pga_cmd(port: int, bport: int) -> list[str]:
    return [
        str(PGA),
        "-h",
        HOST,
        "-p",
        str(port),
        "-U",
        "bench_pgactivity",
        "-d",
        "postgres",
        "--refresh",
        "1",
        "--no-db-size",  # its default re-reads pg_database_size() for every db each tick
    ]


# The filter prompt draws its hint in the header while it is open.
PGTOP_OPENED = contains("esc: clear")
MONITORS = {
    "pgtop": MonitorSpec(
        "pgtop",
        "bench_pgtop",
        lambda p, b: pgtop_cmd(p, b, pooler=False),
        b"/",
        "/ (filter prompt)",
        PGTOP_OPENED,
    ),
    "pg_activity": MonitorSpec(
        "pg_activity",
        "bench_pgactivity",
        pga_cmd,
        b"h",
        "h (help screen)",
        contains("Press any key to exit"),
        run_as_nobody=True,
        mode="remote",
    ),
    "pg_activity local": MonitorSpec(
        "pg_activity local",
        "bench_pgactivity",
        pga_cmd,
        b"h",
        "h (help screen)",
        contains("Press any key to exit"),
        mode="local, as root",
    ),
    "pgtop+pooler": MonitorSpec(
        "pgtop+pooler",
        "bench_pgtop",
        lambda p, b: pgtop_cmd(p, b, pooler=True),
        b"/",
        "/ (filter prompt)",
        PGTOP_OPENED,
    ),
}


def monitor_env(home: Path) -> dict[str, str]:
    return {
        "PATH": "/usr/local/bin:/usr/bin:/bin",
        "HOME": str(home),
        "TERM": "xterm-256color",
        "COLUMNS": str(COLS),
        "LINES": str(ROWS),
        "LANG": "C.UTF-8",
        "LC_ALL": "C.UTF-8",
    }


def base_python() -> str:
    """The interpreter both monitors' venvs are built on: the system Python when it is
    3.11 or newer (what a DBA's `pip install` gets, and executable by the unprivileged
    user pg_activity runs as), else the one running the harness."""
    system = "/usr/bin/python3"
    if os.access(system, os.X_OK):
        check = "import sys; sys.exit(sys.version_info < (3, 11))"
        if subprocess.run([system, "-c", check], check=False).returncode == 0:
            return system
    return sys.executable


def ensure_pg_activity() -> None:
    """pg_activity (latest from PyPI) in its own venv, never in the project venv; as root,
    checked to run as `nobody` (its remote mode) before any measuring starts."""
    if not PGA.exists():
        base = base_python()
        log(f"creating {PGA_VENV} with {base} and installing pg_activity from PyPI")
        subprocess.run([base, "-m", "venv", str(PGA_VENV)], check=True)
        pip = [str(PGA_VENV / "bin" / "python"), "-m", "pip", "install", "-q"]
        subprocess.run([*pip, "--upgrade", "pg_activity[psycopg]"], check=True)
    if os.geteuid() == 0:
        probe = ["runuser", "-u", "nobody", "--", str(PGA), "--version"]
        if subprocess.run(probe, capture_output=True, check=False).returncode != 0:
            # A clone under a private directory (mktemp -d makes them 0700) hides it.
            raise SystemExit(
                f"bench: user nobody cannot run {PGA} (pg_activity's remote mode runs as "
                "nobody): clone pgtop where every user may read it"
            )


def ensure_pgtop() -> None:
    """This checkout of pgtop, installed (not editable, as a user gets it) into a venv on
    the same interpreter as pg_activity's; reinstalled every run so it is what is here."""
    if not (PGTOP_VENV / "bin" / "python").exists():
        base = base_python()
        log(f"creating {PGTOP_VENV} with {base}")
        subprocess.run([base, "-m", "venv", str(PGTOP_VENV)], check=True)
    pip = [str(PGTOP_VENV / "bin" / "python"), "-m", "pip", "install", "-q"]
    log(f"installing this checkout of pgtop into {PGTOP_VENV}")
    subprocess.run([*pip, str(ROOT)], check=True)  # its dependencies, once
    subprocess.run([*pip, "--force-reinstall", "--no-deps", str(ROOT)], check=True)
