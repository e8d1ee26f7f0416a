"""Profiling pgtop with py-spy (--profile; not counted) and summarising the collapsed
stacks it writes. Stateless."""

from __future__ import annotations

import re
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

from common import ROOT, WARMUP, log
from launcher import Launcher
from monitors import MONITORS


def profile_pgtop(launcher: Launcher, seconds: int) -> None:
    """One extra pgtop run (not counted) under py-spy, nonblocking sampling."""
    spy = shutil.which("py-spy", path=str(ROOT / ".venv" / "bin")) or shutil.which("py-spy")
    if not spy:
        log("py-spy not found: pip install py-spy into .venv to use --profile")
        return
    m, home, _ = launcher.launch(MONITORS["pgtop"])
    try:
        time.sleep(WARMUP)
        raw = Path(tempfile.gettempdir()) / "pgtop-profile.txt"  # big: not in results/
        cmd = [spy, "record", "--nonblocking", "-d", str(seconds), "-r", "200"]
        cmd += ["-f", "raw", "-o", str(raw), "--pid", str(m.pid)]
        subprocess.run(
            cmd,
            check=False,
            capture_output=True,
            timeout=seconds + 60,
        )
        log(f"py-spy collapsed stacks: {raw}")
        summarize_profile(raw)
    finally:
        launcher.stop(home)


def _frame(f: str) -> str:
    """`render_line (textual/scroll_view.py:123)` -> `render_line (scroll_view.py)`."""
    m = re.match(r"^(.*) \((.*?)(?::\d+)?\)$", f)
    return f"{m.group(1)} ({Path(m.group(2)).name})" if m else f


def summarize_profile(raw: Path, top: int = 25) -> None:
    """Self and inclusive sample counts per function from py-spy's collapsed stacks."""
    if not raw.exists():
        return
    incl: dict[str, int] = {}
    self_: dict[str, int] = {}
    total = 0
    for line in raw.read_text().splitlines():
        stack, _, n = line.rpartition(" ")
        if not n.isdigit():
            continue
        count = int(n)
        frames = [_frame(f) for f in stack.split(";")]
        total += count
        for f in set(frames):
            incl[f] = incl.get(f, 0) + count
        self_[frames[-1]] = self_.get(frames[-1], 0) + count
    print(f"\nprofile: {total} samples; top inclusive:")
    for f, n in sorted(incl.items(), key=lambda kv: -kv[1])[:top]:
        print(f"  {100 * n / total:5.1f}%  {f}")
    print("top self:")
    for f, n in sorted(self_.items(), key=lambda kv: -kv[1])[:top]:
        print(f"  {100 * n / total:5.1f}%  {f}")
