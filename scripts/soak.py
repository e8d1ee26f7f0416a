#!/usr/bin/env python3
"""Soak test: the real `pgtop` in a pseudo-terminal for a long run against churning sessions.

Not part of CI (30 minutes by default). It starts a throwaway PostgreSQL (tests/support)
unless --dsn names one, runs bounded loops of sessions that connect, run a short query or
sit idle in a transaction, and disconnect, and runs pgtop at a 0.5 s refresh in a pty whose
output is read (and discarded) continuously. Every --sample seconds it records pgtop's RSS
and the server's count of application_name = 'pgtop' connections. At the end it presses q
and reports memory growth (after a warm-up) and whether any connection leaked.

    .venv/bin/python scripts/soak.py                # 30 minutes, own server
    .venv/bin/python scripts/soak.py --minutes 3    # a quick check
    .venv/bin/python scripts/soak.py --dsn postgresql://postgres:pw@host/postgres

Exit status 0 when growth < --max-growth-mb (10) and no pgtop connection outlived it.
"""

from __future__ import annotations

import argparse
import contextlib
import fcntl
import json
import os
import pty
import random
import select
import signal
import struct
import subprocess
import sys
import termios
import threading
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path

import psycopg

REPO = Path(__file__).resolve().parent.parent
PGTOP = Path(sys.executable).with_name("pgtop")


@dataclass
class Sample:
    t: float  # seconds since pgtop started
    rss_mb: float
    pgtop_connections: int
    churn_sessions: int  # connections the churn loops have open right now


@dataclass
class Report:
    minutes: float
    refresh: float
    samples: list[Sample] = field(default_factory=list)
    churn_connects: int = 0
    churn_errors: int = 0
    bytes_written_by_pgtop: int = 0
    exit_code: int | None = None
    connections_after_exit: int | None = None
    baseline_mb: float = 0.0
    final_mb: float = 0.0
    peak_mb: float = 0.0
    growth_mb: float = 0.0
    max_pgtop_connections: int = 0
    ok: bool = False


# -- the server --------------------------------------------------------------------------


@contextlib.contextmanager
def own_server() -> Iterator[str]:
    """A throwaway PostgreSQL from the test support code; yields a superuser DSN."""
    sys.path.insert(0, str(REPO / "tests"))
    from support import PostgresServer, discover_postgres

    installs = discover_postgres(REPO)
    if not installs:
        raise SystemExit("soak: no PostgreSQL found; pass --dsn")
    server = PostgresServer(installs[0].bindir, max_connections=100)
    server.setup()
    try:
        yield server.dsn()
    finally:
        server.cleanup()


def count_pgtop(dsn: str) -> int:
    with psycopg.connect(dsn, autocommit=True, application_name="pgtop-soak") as conn:
        row = conn.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'pgtop'"
        ).fetchone()
    return int(row[0]) if row else 0


# -- churning sessions ---------------------------------------------------------------------


class Churn:
    """`workers` threads, each looping: connect, do one thing, disconnect. Bounded: at most
    `workers` sessions at a time, each living under a second."""

    def __init__(self, dsn: str, workers: int = 6) -> None:
        self.dsn = dsn
        self.workers = workers
        self.stop = threading.Event()
        self.open = 0
        self.connects = 0
        self.errors = 0
        self._lock = threading.Lock()
        self._threads: list[threading.Thread] = []

    def _loop(self, n: int) -> None:
        rnd = random.Random(n)
        while not self.stop.is_set():
            try:
                with psycopg.connect(
                    self.dsn, autocommit=True, application_name=f"soak-churn-{n}", connect_timeout=5
                ) as conn:
                    with self._lock:
                        self.open += 1
                        self.connects += 1
                    try:
                        what = rnd.random()
                        if what < 0.5:
                            conn.execute("SELECT pg_sleep(%s)", (rnd.uniform(0.05, 0.8),))
                        elif what < 0.8:
                            with conn.transaction():
                                conn.execute("SELECT txid_current()")
                                time.sleep(rnd.uniform(0.05, 0.5))
                        else:
                            conn.execute(
                                "SELECT count(*) FROM generate_series(1, %s)",
                                (rnd.randint(1000, 100000),),
                            )
                    finally:
                        with self._lock:
                            self.open -= 1
            except psycopg.Error:
                with self._lock:
                    self.errors += 1
                time.sleep(0.5)
            self.stop.wait(rnd.uniform(0.02, 0.2))

    def start(self) -> None:
        for n in range(self.workers):
            t = threading.Thread(target=self._loop, args=(n,), name=f"churn-{n}", daemon=True)
            t.start()
            self._threads.append(t)

    def close(self) -> None:
        self.stop.set()
        for t in self._threads:
            t.join(timeout=5)


# -- pgtop in a pty ------------------------------------------------------------------------


class PtyPgtop:
    def __init__(self, args: list[str], env: dict[str, str], cols: int = 120, rows: int = 40):
        self.master, slave = pty.openpty()
        fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))
        self.proc = subprocess.Popen(
            [str(PGTOP), *args],
            stdin=slave,
            stdout=slave,
            stderr=slave,
            env=env,
            start_new_session=True,
            close_fds=True,
            preexec_fn=lambda: fcntl.ioctl(0, termios.TIOCSCTTY, 0),
        )
        os.close(slave)
        self.bytes = 0
        self.tail = b""
        self._done = threading.Event()
        self._reader = threading.Thread(target=self._read, name="pty-reader", daemon=True)
        self._reader.start()

    def _read(self) -> None:
        while not self._done.is_set():
            ready, _, _ = select.select([self.master], [], [], 0.2)
            if not ready:
                continue
            try:
                data = os.read(self.master, 65536)
            except OSError:
                return
            if not data:
                return
            self.bytes += len(data)
            self.tail = (self.tail + data)[-4096:]

    def rss_mb(self) -> float:
        status = Path(f"/proc/{self.proc.pid}/status").read_text()
        kb = next(int(line.split()[1]) for line in status.splitlines() if line.startswith("VmRSS"))
        return kb / 1024

    def quit(self, timeout: float = 15.0) -> int | None:
        with contextlib.suppress(OSError):
            os.write(self.master, b"q")
        try:
            self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.send_signal(signal.SIGTERM)
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.proc.wait(timeout=5)
            if self.proc.poll() is None:
                self.proc.kill()
                self.proc.wait()
        self._done.set()
        self._reader.join(timeout=2)
        os.close(self.master)
        return self.proc.returncode


def pgtop_env(home: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PG", "TEXTUAL"))}
    env.update(
        HOME=str(home),
        PGTOP_CONFIG=str(home / "profiles.toml"),
        PGTOP_STATE_DIR=str(home / "state"),
        TERM="xterm-256color",
        LANG="C.UTF-8",
        LC_ALL="C.UTF-8",
    )
    return env


# -- the run ---------------------------------------------------------------------------------


def soak(dsn: str, args: argparse.Namespace) -> Report:
    import tempfile

    report = Report(minutes=args.minutes, refresh=args.refresh)
    churn = Churn(dsn, workers=args.workers)
    churn.start()
    with tempfile.TemporaryDirectory(prefix="pgtop-soak-") as tmp:
        app = PtyPgtop([dsn, "--refresh", str(args.refresh)], pgtop_env(Path(tmp)))
        started = time.monotonic()
        end = started + args.minutes * 60
        try:
            next_sample = started
            while time.monotonic() < end:
                if app.proc.poll() is not None:
                    print(f"soak: pgtop exited early ({app.proc.returncode})", file=sys.stderr)
                    print(app.tail.decode("utf-8", "replace")[-1500:], file=sys.stderr)
                    break
                if time.monotonic() >= next_sample:
                    sample = Sample(
                        t=round(time.monotonic() - started, 1),
                        rss_mb=round(app.rss_mb(), 2),
                        pgtop_connections=count_pgtop(dsn),
                        churn_sessions=churn.open,
                    )
                    report.samples.append(sample)
                    print(
                        f"{sample.t:7.1f}s  rss {sample.rss_mb:7.2f} MB  pgtop conns "
                        f"{sample.pgtop_connections}  churn open {sample.churn_sessions}  "
                        f"connects {churn.connects}",
                        flush=True,
                    )
                    next_sample += args.sample
                time.sleep(0.2)
        finally:
            report.exit_code = app.quit()
            report.bytes_written_by_pgtop = app.bytes
            churn.close()
    report.churn_connects, report.churn_errors = churn.connects, churn.errors
    # The server may take a moment to notice the closed socket.
    deadline = time.monotonic() + 5
    while (left := count_pgtop(dsn)) and time.monotonic() < deadline:
        time.sleep(0.2)
    report.connections_after_exit = left
    summarize(report, args)
    return report


def summarize(report: Report, args: argparse.Namespace) -> None:
    samples = report.samples
    if not samples:
        return
    warm = [s for s in samples if s.t >= args.warmup] or samples[-1:]
    report.baseline_mb = warm[0].rss_mb
    report.final_mb = samples[-1].rss_mb
    report.peak_mb = max(s.rss_mb for s in samples)
    report.growth_mb = round(report.final_mb - report.baseline_mb, 2)
    report.max_pgtop_connections = max(s.pgtop_connections for s in samples)
    report.ok = (
        report.growth_mb < args.max_growth_mb
        and report.max_pgtop_connections <= 2  # the poller, plus one for actions at most
        and report.connections_after_exit == 0
        and report.exit_code == 0
    )


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--minutes", type=float, default=30.0)
    p.add_argument("--refresh", type=float, default=0.5)
    p.add_argument("--dsn", help="PostgreSQL to use (superuser or pg_monitor); default: own")
    p.add_argument("--workers", type=int, default=6, help="churning session loops")
    p.add_argument("--sample", type=float, default=10.0, help="seconds between samples")
    p.add_argument("--warmup", type=float, default=60.0, help="growth is measured after this")
    p.add_argument("--max-growth-mb", type=float, default=10.0)
    p.add_argument("--json", type=Path, help="also write the report here")
    args = p.parse_args()
    if not PGTOP.exists():
        raise SystemExit(f"soak: {PGTOP} not found; run from the project's venv")
    with contextlib.ExitStack() as stack:
        dsn = args.dsn or stack.enter_context(own_server())
        report = soak(dsn, args)
    print(
        f"\npgtop soak: {report.minutes:g} min at {report.refresh:g} s refresh, "
        f"{report.churn_connects} churned sessions ({report.churn_errors} errors), "
        f"{report.bytes_written_by_pgtop / 1e6:.1f} MB written to the terminal\n"
        f"RSS after {args.warmup:g} s warm-up {report.baseline_mb:.2f} MB, final "
        f"{report.final_mb:.2f} MB, peak {report.peak_mb:.2f} MB, "
        f"growth {report.growth_mb:+.2f} MB (target < {args.max_growth_mb:g} MB)\n"
        f"pgtop connections: at most {report.max_pgtop_connections} while running, "
        f"{report.connections_after_exit} after exit; exit code {report.exit_code}\n"
        f"{'OK' if report.ok else 'FAILED'}"
    )
    if args.json:
        args.json.write_text(json.dumps(asdict(report), indent=2))
    return 0 if report.ok else 1


if __name__ == "__main__":
    sys.exit(main())
