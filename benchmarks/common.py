"""What every benchmark module shares: where things are, the terminal size, and the
progress log. Stateless."""

from __future__ import annotations

import os
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
# Both monitors run from venvs built on the same interpreter (the system Python when it is
# 3.11+, as a DBA's `pip install` would use): the project venv may sit on another build
# (pyenv's, without PGO/LTO, ran pgtop 12-20% slower), which would measure interpreters.
PGTOP_VENV = HERE / ".venv-pgtop"
PGTOP = PGTOP_VENV / "bin" / "pgtop"
PGA_VENV = Path(os.environ.get("PGTOP_BENCH_PGA_VENV", HERE / ".venv-pg_activity"))
PGA = PGA_VENV / "bin" / "pg_activity"
RESULTS = HERE / "results" / "latest.json"
HOST = "127.0.0.1"
COLS, ROWS = 120, 40
WARMUP = 5.0
KEY_PRESSES = 20


def log(msg: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {msg}", flush=True)
