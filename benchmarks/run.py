"""pgtop vs pg_activity under the same load, in a real pseudo-terminal.

    make bench                                     # = python benchmarks/run.py
    python benchmarks/run.py --repeat 1 --seconds 15 --sessions 300    # quick check
    python benchmarks/run.py --sessions 2000
    make bench BENCH_ARGS="--fleet 50"             # the fleet's cost: benchmarks/fleet.py

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

import json
import random
import signal
import sys
import time
from pathlib import Path

from common import log
from environment import BenchEnvironment
from launcher import Launcher
from machine import machine_info
from monitors import MONITORS, ensure_pg_activity
from options import parse_args
from pyspy import profile_pgtop, summarize_profile
from report import document, print_table, run_line, summarize, table
from runs import RunResult, run_one
from startup import startup_round

# The modules, one job each: options (command line), environment (servers + load),
# monitors (what runs and how), launcher (a monitor in a pty), usage (CPU, memory),
# statements (server cost), keys (key latency), startup (first screens), runs (one
# measured run), report (table, JSON), machine (versions), pyspy (--profile).


def _raise_interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


def main() -> int:
    args = parse_args(__doc__)
    ensure_pg_activity()
    signal.signal(signal.SIGTERM, _raise_interrupt)
    signal.signal(signal.SIGHUP, _raise_interrupt)

    names = ["pgtop", "pg_activity"] + ([] if args.no_pooler_row else ["pgtop+pooler"])
    specs = [MONITORS[n] for n in names]
    results: dict[str, list[RunResult]] = {n: [] for n in names}
    env = BenchEnvironment(args.sessions, args.pooled)
    launcher = Launcher(env, args.pga_local)
    rng = random.Random(args.seed)
    started = time.time()
    try:
        env.setup()
        for r in range(args.repeat):
            for spec in specs:  # round-robin, one monitor at a time
                log(f"run {r + 1}/{args.repeat}: {spec.name}")
                res = run_one(launcher, spec, r, seconds=args.seconds, keys=args.keys, rng=rng)
                results[spec.name].append(res)
                log(run_line(res))
                time.sleep(2)
            for name, times in startup_round(launcher, specs, args.startups).items():
                results[name][-1].startup_s.extend(times)
            if args.startups:
                log(
                    "  first screens: "
                    + "; ".join(
                        f"{n} " + " ".join(f"{v:.2f}" for v in results[n][-1].startup_s)
                        for n in names
                    )
                )
        info = machine_info(env)
        if args.profile:
            profile_pgtop(launcher, args.profile)
    except KeyboardInterrupt:
        log("interrupted: cleaning up")
        return 130
    finally:
        launcher.stop()
        env.cleanup()

    summary = summarize(results, args.sessions)
    text, verdicts = table(summary)
    print_table(args, summary, text)
    doc = document(args, started, names, info, summary, verdicts, results)
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(doc, indent=1) + "\n")
    log(f"wrote {args.output}")
    return 0


if __name__ == "__main__":
    if sys.argv[1:2] == ["--summarize-profile"]:  # re-read a saved py-spy raw profile
        summarize_profile(Path(sys.argv[2]), int(sys.argv[3]) if len(sys.argv) > 3 else 25)
        sys.exit(0)
    sys.exit(main())
