"""`run.py --profile S`: pgtop under py-spy on each workload (today, churn), on a quiet
server (100 idle sessions) and replaying the synthetic recording of --replay-sessions
(10,000) sessions, and Textual's own idle cost (idle_app.py) as the reference.
For each: CPU s/min over the window, then the self time grouped by where it is spent
(pgtop's modules, textual, rich, asyncpg, the rest) and the top functions. Collapsed
stacks stay in /tmp/pgtop-profile-<name>.txt (re-read: run.py --summarize-profile FILE).
Stateless; the BenchEnvironment it creates is stopped before it returns.
"""

from __future__ import annotations

import argparse
import re
import shutil
import subprocess
import tempfile
import time
from collections import Counter
from pathlib import Path

from common import COLS, HERE, PGTOP_VENV, ROOT, ROWS, WARMUP, log
from environment import BenchEnvironment
from launcher import Launcher
from monitors import MONITORS, monitor_env
from ptymon import PtyMonitor
from replayrun import ReplayResult, open_replay
from usage import cpu_delta, cpu_snapshot
from workloads import churn, quiet, today

RATE = 200  # samples/s: each sample of the thread holding the GIL is ~5 ms


def _py_spy() -> str | None:
    return shutil.which("py-spy", path=str(ROOT / ".venv" / "bin")) or shutil.which("py-spy")


def record(pid: int, seconds: int, raw: Path) -> float:
    """py-spy on `pid` for `seconds` (nonblocking: it does not pause pgtop); returns the
    process tree's CPU s/min over the same window (py-spy's own CPU not included)."""
    spy = _py_spy()
    if not spy:
        raise RuntimeError("py-spy not found: pip install -r benchmarks/requirements.txt")
    # --gil: only the thread running Python is sampled, so a thread waiting in select() or
    # on a lock (Textual's input and writer threads) does not count as busy.
    cmd = [spy, "record", "--nonblocking", "--gil", "-d", str(seconds), "-r", str(RATE)]
    cmd += ["-f", "raw", "-o", str(raw), "--pid", str(pid)]
    cpu0, t0 = cpu_snapshot(pid), time.monotonic()
    subprocess.run(cmd, check=False, capture_output=True, timeout=seconds + 60)
    return cpu_delta(cpu0, cpu_snapshot(pid)) * 60.0 / (time.monotonic() - t0)


def _frame(f: str) -> tuple[str, str]:
    """`render_line (textual/scroll_view.py:123)` -> (`render_line (scroll_view.py)`,
    its file path)."""
    m = re.match(r"^(.*) \((.*?)(?::\d+)?\)$", f)
    if not m:
        return f, ""
    return f"{m.group(1)} ({Path(m.group(2)).name})", m.group(2)


def group_of(path: str, name: str = "") -> str:
    """Where a frame's file belongs: a pgtop module (pgtop.ui.widgets, pgtop.model.view,
    ...), textual, rich, asyncpg, or python (the standard library, asyncio's loop) / other.
    asyncpg decodes rows in compiled code that py-spy cannot see: its time shows as
    asyncio's data_received, which only asyncpg's protocol feeds here."""
    p = path.replace("\\", "/")
    if m := re.search(r"(?:^|/)pgtop/(.+?)\.py$", p):
        parts = m.group(1).split("/")
        keep = 2 if parts[0] in ("ui", "collect", "model", "monitor") else 1
        return "pgtop." + ".".join(parts[:keep])
    for lib in ("textual", "rich", "asyncpg"):
        if re.search(rf"(?:^|/){lib}/", p):
            return lib
    if name.startswith("_SelectorSocketTransport._read_ready__data_received"):
        return "asyncpg (compiled protocol)"
    if p == "<string>" and "__init__" in name:
        return "dataclass __init__ (records)"
    if "site-packages" in p:
        return "other libraries"
    return "python (stdlib, asyncio)" if p else "native/unknown"


def summarize_profile(raw: Path, top: int = 15) -> None:
    """Self time per group and the top self-time functions from py-spy's raw output."""
    if not raw.exists():
        log(f"no profile at {raw}")
        return
    self_fn: Counter[str] = Counter()
    self_group: Counter[str] = Counter()
    incl_group: Counter[str] = Counter()
    total = 0
    for line in raw.read_text().splitlines():
        stack, _, n = line.rpartition(" ")
        if not n.isdigit():
            continue
        count = int(n)
        frames = [_frame(f) for f in stack.split(";") if f]
        if not frames:
            continue
        total += count
        name, path = frames[-1]
        group = group_of(path, name)
        self_fn[f"{group}: {name}"] += count
        self_group[group] += count
        for g in {group_of(p, n) for n, p in frames}:
            incl_group[g] += count
    if not total:
        print("  (no samples)")
        return
    print(f"  {total} samples while holding the GIL (~{total / RATE:.1f} s at {RATE}/s)")
    print("  self time by group (inclusive in brackets):")
    for g, n in self_group.most_common():
        print(f"    {100 * n / total:5.1f}%  ({100 * incl_group[g] / total:5.1f}%)  {g}")
    print(f"  top {top} functions by self time:")
    for f, n in self_fn.most_common(top):
        print(f"    {100 * n / total:5.1f}%  {f}")


def _profile_one(name: str, m: PtyMonitor, seconds: int) -> None:
    time.sleep(WARMUP)
    raw = Path(tempfile.gettempdir()) / f"pgtop-profile-{name}.txt"
    cpu = record(m.pid, seconds, raw)
    print(
        f"\n== profile {name}: {cpu:.2f} CPU s/min over {seconds} s (py-spy {RATE}/s, "
        f"nonblocking); stacks in {raw}"
    )
    summarize_profile(raw)


def profile_all(args: argparse.Namespace) -> None:
    seconds = args.profile
    # The quiet server first: no pooled client has made PgBouncer open server connections.
    workloads = [
        quiet(),
        today(args.sessions, args.pooled),
        churn(args.sessions, args.churn_pooled),
    ]
    # The reference first: an empty Textual app, no server, on pgtop's interpreter.
    home = Path(tempfile.mkdtemp(prefix="pgtop-bench-idle-"))
    argv = [str(PGTOP_VENV / "bin" / "python"), str(HERE / "idle_app.py")]
    m = PtyMonitor(argv, monitor_env(home), COLS, ROWS, cwd=str(home))
    try:
        m.start()
        m.wait(lambda s: any("Quit" in line for line in s.display), 30)
        _profile_one("textual-idle", m, seconds)
    finally:
        m.stop()
        shutil.rmtree(home, ignore_errors=True)
    if args.replay_sessions:  # the synthetic replay: the client alone at many sessions
        log(f"profiling pgtop replaying {args.replay_sessions:,} synthetic sessions")
        tmp = Path(tempfile.mkdtemp(prefix="pgtop-bench-replay-"))
        res = ReplayResult(args.replay_sessions)
        rm: PtyMonitor | None = None
        try:
            rm = open_replay(args.replay_sessions, 60 + int(WARMUP) + seconds + 30, tmp, res)
            _profile_one(f"replay-{args.replay_sessions}", rm, seconds)
        finally:
            if rm is not None:
                rm.stop()
            shutil.rmtree(tmp, ignore_errors=True)
    env = BenchEnvironment(max(w.sessions for w in workloads), max(w.pooled for w in workloads))
    launcher = Launcher(env)
    try:
        env.setup()
        for w in workloads:
            env.start_load(w)
            log(f"profiling pgtop on {w.title()}")
            mon, home2, _ = launcher.launch(MONITORS["pgtop"])
            try:
                _profile_one(w.name, mon, seconds)
            finally:
                launcher.stop(home2)
    finally:
        launcher.stop()
        env.cleanup()
