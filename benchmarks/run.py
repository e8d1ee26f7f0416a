"""pgtop vs pg_activity under the same load, in a real pseudo-terminal.

    make bench                                     # = python benchmarks/run.py
    python benchmarks/run.py --repeat 1 --seconds 15 --sessions 300    # quick check
    python benchmarks/run.py --sessions 2000

Starts a throwaway PostgreSQL 15 (pg_stat_statements preloaded) and PgBouncer on
127.0.0.1, opens --sessions direct sessions in mixed states and --pooled clients through
PgBouncer (benchmarks/load.py, its own process), then runs each monitor in turn in a
120x40 pty at a 1 s refresh, --repeat times, round-robin, and prints medians and the ratio
pgtop / pg_activity. Everything it started is stopped and removed on exit, also on
failure, Ctrl-C or SIGTERM. Results go to benchmarks/results/latest.json.

Per run: launch -> first full screen; 5 s warm-up; a --seconds window for CPU, bytes,
pg_stat_statements; then ~20 cursor-down presses and ~20 presses of a screen-changing key
(pgtop: `/` opens the filter prompt; pg_activity has no filter, so `h`, its help screen),
each at a random phase against the refresh tick. After each round, --startups more
launches of each monitor, interleaved, timed to the first screen only; the first-screen
figure is the median over every launch.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import pwd
import random
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psutil
import psycopg
import pyte
from cluster import HOST, PgBouncer, Postgres
from ptymon import PtyMonitor

from pgtop.demo.procs import stop_process

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
PGTOP = ROOT / ".venv" / "bin" / "pgtop"
PGA_VENV = Path(os.environ.get("PGTOP_BENCH_PGA_VENV", HERE / ".venv-pg_activity"))
PGA = PGA_VENV / "bin" / "pg_activity"
RESULTS = HERE / "results" / "latest.json"
COLS, ROWS = 120, 40
WARMUP = 5.0
KEY_PRESSES = 20
DOWN = b"\x1b[B"
ESC = b"\x1b"

# --- screen predicates ----------------------------------------------------------------


def _first_token(line: str) -> str:
    parts = line.split(None, 1)
    return parts[0] if parts else ""


def known_pid_rows(screen: pyte.Screen, pids: set[str]) -> int:
    return sum(1 for line in screen.display if _first_token(line) in pids)


def cursor_pid(screen: pyte.Screen) -> str | None:
    """The pid on the highlighted (reverse video) session row, if any. Both monitors draw
    their cursor row in reverse video; header rows and tabs do not start with a pid."""
    for y in range(screen.lines):
        row = screen.buffer[y]
        if sum(1 for x in range(20) if row[x].reverse) < 16:
            continue
        tok = _first_token("".join(row[x].data for x in range(30)))
        if len(tok) >= 3 and tok.isdigit():
            return tok
    return None


@dataclass(frozen=True)
class MonitorSpec:
    name: str
    role: str
    cmd: Callable[[int, int], list[str]]  # (pg port, bouncer port) -> argv
    open_key: bytes
    open_key_doc: str
    opened: Callable[[pyte.Screen], bool]
    run_as_nobody: bool = False


def _contains(*needles: str) -> Callable[[pyte.Screen], bool]:
    return lambda screen: any(n in line for line in screen.display for n in needles)


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
PGTOP_OPENED = _contains("esc: clear")
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
        _contains("Press any key to exit"),
        run_as_nobody=True,
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

# --- measurement ----------------------------------------------------------------------


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


def pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    s = sorted(values)
    k = (len(s) - 1) * q
    lo, hi = int(k), min(int(k) + 1, len(s) - 1)
    return s[lo] + (s[hi] - s[lo]) * (k - lo)


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


class Bench:
    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.pg: Postgres | None = None
        self.bouncer: PgBouncer | None = None
        self.load: subprocess.Popen[bytes] | None = None
        self.tmp = Path(tempfile.mkdtemp(prefix="pgtop-bench-"))
        self.tmp.chmod(0o755)  # pg_activity's HOME lives here and runs as `nobody`
        self.monitor: PtyMonitor | None = None
        self.known_pids: set[str] = set()
        self.rng = random.Random(args.seed)

    # -- setup / teardown ---------------------------------------------------------------
    def sql(self, query: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        assert self.pg is not None
        with psycopg.connect(
            host=HOST, port=self.pg.port, user="postgres", dbname="postgres", autocommit=True
        ) as conn:
            cur = conn.execute(query, params)  # type: ignore[arg-type]
            return cur.fetchall() if cur.description else []

    def setup(self) -> None:
        a = self.args
        self.pg = Postgres(max_connections=a.sessions + a.pooled // 10 + 300)
        log(f"starting {self.pg.version} (max_connections {self.pg.max_connections})")
        self.pg.start()
        self.sql("CREATE EXTENSION pg_stat_statements")
        for role in ("bench_pgtop", "bench_pgactivity"):
            # Superuser for both: pg_activity wants superuser for its full view, and it
            # keeps the comparison fair.
            self.sql(f"CREATE ROLE {role} LOGIN SUPERUSER")
        self.sql("CREATE ROLE bench_load LOGIN")
        self.sql("CREATE ROLE bench_app LOGIN")
        self.sql("GRANT CREATE ON SCHEMA public TO bench_load")
        self.bouncer = PgBouncer(self.pg, ["bench_app", "bench_pgtop"], admin="bench_pgtop")
        self.bouncer.start()
        log(f"{self.bouncer.version} on {HOST}:{self.bouncer.port}")
        pids_file = self.tmp / "pids.json"
        cmd = [sys.executable, str(HERE / "load.py"), "--port", str(self.pg.port)]
        cmd += ["--bouncer-port", str(self.bouncer.port), "--sessions", str(a.sessions)]
        cmd += ["--pooled", str(a.pooled), "--pids-file", str(pids_file)]
        t0 = time.monotonic()
        self.load = subprocess.Popen(
            cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, start_new_session=True
        )
        assert self.load.stdout is not None
        line = self.load.stdout.readline().decode()
        if not line.startswith("READY"):
            raise RuntimeError(f"workload failed to start (exit {self.load.poll()}): {line!r}")
        self.known_pids = {str(p) for p in json.loads(pids_file.read_text())}
        log(f"workload: {line.split(' ', 1)[1].strip()} in {time.monotonic() - t0:.1f}s")
        time.sleep(3)  # let lock waits and pooled clients settle

    def cleanup(self) -> None:
        if self.monitor is not None:
            with contextlib.suppress(Exception):
                self.monitor.stop()
            self.monitor = None
        if self.load is not None:
            with contextlib.suppress(Exception):
                if self.load.stdin is not None:
                    self.load.stdin.close()
                # SIGTERM, then SIGKILL for its whole process group after 15 s.
                stop_process(self.load, signal.SIGTERM, timeout=15)
            self.load = None
        if self.bouncer is not None:
            with contextlib.suppress(Exception):
                self.bouncer.stop()
            self.bouncer = None
        if self.pg is not None:
            with contextlib.suppress(Exception):
                self.pg.stop()
            self.pg = None
        shutil.rmtree(self.tmp, ignore_errors=True)

    # -- one monitor run ---------------------------------------------------------------
    def monitor_env(self, home: Path) -> dict[str, str]:
        return {
            "PATH": "/usr/local/bin:/usr/bin:/bin",
            "HOME": str(home),
            "TERM": "xterm-256color",
            "COLUMNS": str(COLS),
            "LINES": str(ROWS),
            "LANG": "C.UTF-8",
            "LC_ALL": "C.UTF-8",
        }

    def backend_pids(self, role: str) -> list[int]:
        rows = self.sql("SELECT pid FROM pg_stat_activity WHERE usename = %s", (role,))
        return [int(r[0]) for r in rows]

    def stats(self, role: str) -> tuple[float, int]:
        rows = self.sql(
            "SELECT coalesce(sum(total_exec_time), 0), coalesce(sum(calls), 0)"
            " FROM pg_stat_statements WHERE userid = (SELECT oid FROM pg_roles"
            " WHERE rolname = %s)",
            (role,),
        )
        return float(rows[0][0]), int(rows[0][1])

    def press(self, m: PtyMonitor, key: bytes, changed: Callable[[pyte.Screen], bool]) -> float:
        """Send key at a random phase; return ms until the screen shows it (nan: missed)."""
        time.sleep(0.3 + self.rng.uniform(0.0, 1.0))
        w = m.watch(changed)
        t = m.send(key)
        w.event.wait(3.0)
        if w.fired_at is None:
            return float("nan")
        return (w.fired_at - t) * 1000.0

    def launch(self, spec: MonitorSpec) -> tuple[PtyMonitor, Path, float]:
        """Start `spec` in a pty with a fresh HOME; wait for its first full screen.
        Returns the monitor (stop it, and remove HOME, when done) and the seconds it took."""
        assert self.pg is not None and self.bouncer is not None
        home = Path(tempfile.mkdtemp(prefix="home-", dir=self.tmp))
        user = None
        # As root pg_activity could read the postmaster's pidfile and switch to its "local"
        # mode (per-backend /proc CPU/memory/IO). pgtop collects nothing of the kind, so
        # run it as an unprivileged OS user: like-for-like. --pga-local keeps it as root.
        if spec.run_as_nobody and os.geteuid() == 0 and not self.args.pga_local:
            nobody = pwd.getpwnam("nobody")
            user = (nobody.pw_uid, nobody.pw_gid)
            os.chown(home, *user)
        m = PtyMonitor(
            spec.cmd(self.pg.port, self.bouncer.port),
            self.monitor_env(home),
            COLS,
            ROWS,
            user=user,
            cwd=str(home),
        )
        need = min(20, max(1, len(self.known_pids) // 4))
        first = m.watch(lambda s: known_pid_rows(s, self.known_pids) >= need)
        self.monitor = m
        try:
            m.start()
            if not first.event.wait(60) or first.fired_at is None:
                raise RuntimeError(f"{spec.name}: no first screen in 60 s:\n" + screen_dump(m))
        except BaseException:
            self.stop_monitor(home)
            raise
        return m, home, first.fired_at - m.started_at

    def stop_monitor(self, home: Path) -> None:
        if self.monitor is not None:
            self.monitor.stop()
            self.monitor = None
        shutil.rmtree(home, ignore_errors=True)

    def first_screen(self, spec: MonitorSpec) -> float:
        """Seconds from launch to `spec`'s first full screen; then stop it."""
        _, home, seconds = self.launch(spec)
        self.stop_monitor(home)
        return seconds

    def run_one(self, spec: MonitorSpec, repeat: int) -> RunResult:
        a = self.args
        res = RunResult(spec.name, repeat)
        m, home, res.first_screen_s = self.launch(spec)
        try:
            time.sleep(WARMUP)
            # -- the measurement window
            backends = self.backend_pids(spec.role)
            self.sql("SELECT pg_stat_statements_reset()")
            res.loadavg_1m = os.getloadavg()[0]
            psutil.cpu_percent(None)
            t0 = time.monotonic()
            cpu0, b0, be0 = cpu_snapshot(m.pid), m.bytes_total, pids_cpu(backends)
            time.sleep(a.seconds)
            cpu1, b1, be1 = cpu_snapshot(m.pid), m.bytes_total, pids_cpu(backends)
            t1 = time.monotonic()
            res.machine_busy_cores = psutil.cpu_percent(None) / 100.0 * (os.cpu_count() or 1)
            exec_ms, calls = self.stats(spec.role)
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
            for _ in range(a.keys):
                before = m.snapshot(cursor_pid)
                ms = self.press(m, DOWN, lambda s, b=before: cursor_pid(s) not in (None, b))
                res.key_down_ms.append(ms)
            m.send(ESC)
            time.sleep(1.0)
            for _ in range(a.keys):
                res.key_open_ms.append(self.press(m, spec.open_key, spec.opened))
                m.send(ESC)
                m.wait(lambda s: not spec.opened(s), 3.0)
            res.key_misses = sum(1 for v in res.key_down_ms + res.key_open_ms if v != v)
            res.peak_rss_mb = vm_hwm_kb(m.pid) / 1024.0
        finally:
            self.stop_monitor(home)
        return res

    def profile_pgtop(self, seconds: int) -> None:
        """One extra pgtop run (not counted) under py-spy, nonblocking sampling."""
        assert self.pg is not None and self.bouncer is not None
        spy = shutil.which("py-spy", path=str(ROOT / ".venv" / "bin")) or shutil.which("py-spy")
        if not spy:
            log("py-spy not found: pip install py-spy into .venv to use --profile")
            return
        m, home, _ = self.launch(MONITORS["pgtop"])
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
            self.stop_monitor(home)


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


def screen_dump(m: PtyMonitor) -> str:
    return "\n".join(line.rstrip() for line in m.lines())


def log(msg: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {msg}", flush=True)


# --- report ---------------------------------------------------------------------------


def med(runs: list[RunResult], attr: str) -> float:
    return statistics.median(getattr(r, attr) for r in runs)


def keys_of(runs: list[RunResult], attr: str) -> list[float]:
    return [v for r in runs for v in getattr(r, attr) if v == v]


def summarize(results: dict[str, list[RunResult]], sessions: int) -> dict[str, Any]:
    s: dict[str, Any] = {}
    for name, runs in results.items():
        if not runs:
            continue
        d = {
            attr: med(runs, attr)
            for attr in (
                "cpu_s_per_min",
                "peak_rss_mb",
                "bytes_per_s",
                "exec_ms_per_s",
                "calls_per_s",
                "backend_cpu_s_per_min",
            )
        }
        # Every launch counts once: the full runs' first screens and the --startups ones.
        d["first_screen_s"] = statistics.median(
            [r.first_screen_s for r in runs] + [v for r in runs for v in r.startup_s]
        )
        d["first_screen_launches"] = len(runs) + sum(len(r.startup_s) for r in runs)
        for attr in ("key_down_ms", "key_open_ms"):
            vals = keys_of(runs, attr)
            d[attr + "_median"] = pct(vals, 0.5)
            d[attr + "_p95"] = pct(vals, 0.95)
            d[attr + "_max"] = max(vals) if vals else float("nan")
        d["key_misses"] = sum(r.key_misses for r in runs)
        d["runs"] = len(runs)
        s[name] = d
    s["key_p95_target_ms"] = 250.0 if sessions >= 2000 else 150.0
    return s


ROWS_SPEC = [
    # label, key, fmt, ratio target (<=), absolute pgtop target
    ("CPU s/min", "cpu_s_per_min", "{:.2f}", 1 / 3, None),
    ("server exec ms/s", "exec_ms_per_s", "{:.2f}", 0.5, None),
    ("server calls/s", "calls_per_s", "{:.1f}", None, None),
    ("backend CPU s/min (info)", "backend_cpu_s_per_min", "{:.2f}", None, None),
    ("terminal KB/s", "bytes_per_s", "{:.2f}", 1.0, None),
    ("peak RSS MB (VmHWM)", "peak_rss_mb", "{:.1f}", 1.5, None),
    ("first screen s", "first_screen_s", "{:.2f}", 1.2, None),
    ("key down median ms", "key_down_ms_median", "{:.1f}", None, ("<", 50.0)),
    ("key down p95 ms", "key_down_ms_p95", "{:.1f}", None, ("<", "p95")),
    ("key open median ms", "key_open_ms_median", "{:.1f}", None, ("<", 50.0)),
    ("key open p95 ms", "key_open_ms_p95", "{:.1f}", None, ("<", "p95")),
]


def table(summary: dict[str, Any]) -> tuple[str, list[dict[str, Any]]]:
    a, b = summary.get("pgtop", {}), summary.get("pg_activity", {})
    extra = summary.get("pgtop+pooler")
    p95 = summary["key_p95_target_ms"]
    head = f"{'metric':<27}{'pgtop':>10}{'pg_activity':>13}{'ratio':>8}  {'target':<14}{'ok':<5}"
    if extra:
        head += f"{'pgtop+pooler':>13}"
    lines = [head]
    verdicts: list[dict[str, Any]] = []
    for label, key, fmt, ratio_target, absolute in ROWS_SPEC:
        va, vb = a.get(key, float("nan")), b.get(key, float("nan"))
        scale = 1 / 1024 if key == "bytes_per_s" else 1.0
        ratio = va / vb if vb else float("nan")
        ok: bool | None = None
        target = ""
        if ratio_target is not None:
            target = f"<= {ratio_target:.2f}x"
            ok = ratio <= ratio_target
        elif absolute is not None:
            limit = p95 if absolute[1] == "p95" else float(absolute[1])
            target = f"< {limit:g} ms"
            ok = va < limit
        row = f"{label:<27}{fmt.format(va * scale):>10}{fmt.format(vb * scale):>13}"
        row += f"{ratio:>8.2f}  {target:<14}{'' if ok is None else ('yes' if ok else 'NO'):<5}"
        if extra:
            row += f"{fmt.format(extra.get(key, float('nan')) * scale):>13}"
        lines.append(row)
        verdicts.append(
            {"metric": label, "pgtop": va, "pg_activity": vb, "ratio": ratio, "target": target}
            | {"ok": ok}
        )
    return "\n".join(lines), verdicts


def machine_info(bench: Bench) -> dict[str, Any]:
    cpu = "unknown"
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break

    def version(cmd: list[str]) -> str:
        with contextlib.suppress(Exception):
            out = subprocess.run(cmd, capture_output=True, text=True, timeout=30).stdout
            return out.strip().splitlines()[0]
        return "unknown"

    pga_py = PGA_VENV / "bin" / "python"
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "memory_gb": round(psutil.virtual_memory().total / 2**30, 1),
        "kernel": platform.release(),
        "python_harness": platform.python_version(),
        "python_pgtop": version([str(ROOT / ".venv/bin/python"), "-V"]),
        "python_pg_activity": version([str(pga_py), "-V"]),
        "postgresql": bench.pg.version if bench.pg else "unknown",
        "pgbouncer": bench.bouncer.version if bench.bouncer else "unknown",
        "pgtop": version([str(PGTOP), "--version"]),
        "pg_activity": version([str(PGA), "--version"]),
        "textual": version(
            [str(ROOT / ".venv/bin/python"), "-c", "import textual; print(textual.__version__)"]
        ),
        "loadavg_end": [round(x, 2) for x in os.getloadavg()],
    }


def ensure_pg_activity() -> None:
    """pg_activity (latest from PyPI) in its own venv, never in the project venv. The venv
    is built from the system Python so the unprivileged user we run it as can execute it."""
    if PGA.exists():
        return
    base = "/usr/bin/python3" if os.access("/usr/bin/python3", os.X_OK) else sys.executable
    log(f"creating {PGA_VENV} with {base} and installing pg_activity from PyPI")
    subprocess.run([base, "-m", "venv", str(PGA_VENV)], check=True)
    pip = [str(PGA_VENV / "bin" / "python"), "-m", "pip", "install", "-q"]
    subprocess.run([*pip, "--upgrade", "pg_activity[psycopg]"], check=True)


def _raise_interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--repeat", type=int, default=3, help="runs per monitor (default 3)")
    p.add_argument("--seconds", type=float, default=60.0, help="measurement window (60)")
    p.add_argument("--sessions", type=int, default=1000, help="direct sessions (1000)")
    p.add_argument("--pooled", type=int, default=500, help="clients via PgBouncer (500)")
    p.add_argument("--keys", type=int, default=KEY_PRESSES, help="presses per key (20)")
    p.add_argument(
        "--startups",
        type=int,
        default=5,
        help="extra launches per monitor and run, timed to the first screen only (5)",
    )
    p.add_argument("--seed", type=int, default=1)
    p.add_argument(
        "--no-pooler-row", action="store_true", help="skip the extra pgtop --pooler runs"
    )
    p.add_argument(
        "--pga-local",
        action="store_true",
        help="run pg_activity as root, so it uses its local /proc mode",
    )
    p.add_argument(
        "--profile",
        type=int,
        default=0,
        metavar="S",
        help="afterwards profile pgtop S seconds with py-spy (not counted)",
    )
    p.add_argument("--output", type=Path, default=RESULTS)
    args = p.parse_args()
    if args.repeat < 1 or args.seconds < 1 or args.sessions < 1:
        p.error("--repeat, --seconds and --sessions must be positive")
    if not PGTOP.exists():
        p.error(f"{PGTOP} not found: run `make` / pip install -e . first")
    ensure_pg_activity()
    signal.signal(signal.SIGTERM, _raise_interrupt)
    signal.signal(signal.SIGHUP, _raise_interrupt)

    names = ["pgtop", "pg_activity"] + ([] if args.no_pooler_row else ["pgtop+pooler"])
    results: dict[str, list[RunResult]] = {n: [] for n in names}
    bench = Bench(args)
    started = time.time()
    try:
        bench.setup()
        for r in range(args.repeat):
            for name in names:  # round-robin, one monitor at a time
                log(f"run {r + 1}/{args.repeat}: {name}")
                res = bench.run_one(MONITORS[name], r)
                results[name].append(res)
                log(
                    f"  cpu {res.cpu_s_per_min:.2f} s/min, {res.bytes_per_s / 1024:.2f} KB/s, "
                    f"exec {res.exec_ms_per_s:.2f} ms/s ({res.calls_per_s:.1f} calls/s), "
                    f"rss {res.peak_rss_mb:.0f} MB, first {res.first_screen_s:.2f}s, "
                    f"down p50 {pct(keys_of([res], 'key_down_ms'), 0.5):.1f} ms, "
                    f"open p50 {pct(keys_of([res], 'key_open_ms'), 0.5):.1f} ms; "
                    f"load {res.loadavg_1m:.2f}, machine busy {res.machine_busy_cores:.2f} cores"
                )
                time.sleep(2)
            for _ in range(args.startups):  # interleaved, so both meet the same conditions
                for name in names:
                    results[name][-1].startup_s.append(bench.first_screen(MONITORS[name]))
                    time.sleep(0.5)
            if args.startups:
                log(
                    "  first screens: "
                    + "; ".join(
                        f"{n} " + " ".join(f"{v:.2f}" for v in results[n][-1].startup_s)
                        for n in names
                    )
                )
        info = machine_info(bench)
        if args.profile:
            bench.profile_pgtop(args.profile)
    except KeyboardInterrupt:
        log("interrupted: cleaning up")
        return 130
    finally:
        bench.cleanup()

    summary = summarize(results, args.sessions)
    text, verdicts = table(summary)
    print()
    print(
        f"pgtop vs pg_activity: {args.sessions} direct sessions + {args.pooled} pooled, "
        f"{COLS}x{ROWS} pty, refresh 1 s, {args.repeat} x {args.seconds:g} s window; medians "
        f"(keys: all presses pooled). open key: pgtop {MONITORS['pgtop'].open_key_doc}, "
        f"pg_activity {MONITORS['pg_activity'].open_key_doc}."
    )
    print(text)
    launches = summary.get("pgtop", {}).get("first_screen_launches", 0)
    print(f"first screen: median over {launches} launches of each monitor")
    doc = {
        "date": time.strftime("%Y-%m-%dT%H:%M:%S%z", time.localtime(started)),
        "command": " ".join([Path(sys.argv[0]).name, *sys.argv[1:]]),
        "params": {
            "sessions": args.sessions,
            "pooled": args.pooled,
            "repeat": args.repeat,
            "seconds": args.seconds,
            "keys": args.keys,
            "startups": args.startups,
            "terminal": f"{COLS}x{ROWS} TERM=xterm-256color",
            "refresh_s": 1,
            "pg_activity_mode": "local (root)" if args.pga_local else "remote (OS user nobody)",
            "open_key": {n: MONITORS[n].open_key_doc for n in names},
        },
        "machine": info,
        "summary": _rounded(summary),
        "verdicts": _rounded(verdicts),
        "runs": [_rounded(r.__dict__) for runs in results.values() for r in runs],
    }
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(doc, indent=1) + "\n")
    log(f"wrote {args.output}")
    return 0


def _rounded(obj: Any) -> Any:
    if isinstance(obj, float):
        return None if obj != obj else round(obj, 3)
    if isinstance(obj, dict):
        return {k: _rounded(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_rounded(v) for v in obj]
    return obj


if __name__ == "__main__":
    if sys.argv[1:2] == ["--summarize-profile"]:  # re-read a saved py-spy raw profile
        summarize_profile(Path(sys.argv[2]), int(sys.argv[3]) if len(sys.argv) > 3 else 25)
        sys.exit(0)
    sys.exit(main())
