"""What a day of headless recordings costs on disk at the benchmark's load.

    .venv/bin/python benchmarks/recording_cost.py --sessions 1000 --pooled 500 --minutes 5

Starts the benchmark environment (environment.py: 1,000 direct sessions in mixed states,
500 pooled clients through PgBouncer), runs `pgtop --headless --record-dir` against it at
the default refresh (2 s) for --minutes, stops it with SIGTERM, and prints the size of
the hour file(s), bytes per frame, and that rate extrapolated to one hour and one day.
"""

from __future__ import annotations

import argparse
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from environment import BenchEnvironment

from pgtop.collect.replay import load_directory


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--sessions", type=int, default=1000)
    p.add_argument("--pooled", type=int, default=500)
    p.add_argument("--minutes", type=float, default=5.0)
    p.add_argument("--refresh", type=float, default=2.0)
    args = p.parse_args()
    env = BenchEnvironment(args.sessions, args.pooled)
    rec = Path(tempfile.mkdtemp(prefix="pgtop-rec-cost-"))
    try:
        env.setup()
        pg_port, bouncer_port = env.ports
        cmd = [sys.executable, "-m", "pgtop", "-h", "127.0.0.1", "-p", str(pg_port),
               "-U", "bench_pgtop", "-d", "postgres", "--refresh", str(args.refresh),
               "--pooler", f"postgresql://bench_pgtop@127.0.0.1:{bouncer_port}/pgbouncer",
               "--headless", "--record-dir", str(rec)]  # fmt: skip
        proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL)
        started = time.monotonic()
        time.sleep(args.minutes * 60)
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=30)
        elapsed = time.monotonic() - started
        files = sorted(rec.rglob("*.pgtop.gz"))
        size = sum(f.stat().st_size for f in files)
        recording = load_directory(rec)
        frames = len(recording)
        sessions = len(recording.snapshot(frames - 1).sessions)
        per_frame = size / frames
        per_hour = per_frame * 3600 / args.refresh
        print(f"{frames} frames in {elapsed:.0f} s, {sessions} sessions in the last frame")
        print(
            f"{size / 1e6:.2f} MB on disk in {len(files)} file(s): {per_frame / 1e3:.1f} kB/frame"
        )
        print(f"at one poll every {args.refresh:g} s: {per_hour / 1e6:.0f} MB/hour, "
              f"{per_hour * 24 / 1e9:.2f} GB/day")  # fmt: skip
    finally:
        env.cleanup()
        for f in rec.rglob("*"):
            if f.is_file():
                f.unlink()


if __name__ == "__main__":
    main()
