"""pgtop vs pg_activity under the same load, in a real pseudo-terminal.

    make bench                                     # = python benchmarks/run.py (~25 min)
    python benchmarks/run.py --quick               # development check (~5 min)
    python benchmarks/run.py --sessions 10000      # synthetic replay only (client only)
    python benchmarks/run.py --profile 30          # py-spy profiles, no comparison
    make bench BENCH_ARGS="--fleet 50"             # the fleet's cost: benchmarks/fleet.py

Starts a throwaway PostgreSQL 15 (pg_stat_statements preloaded) and PgBouncer on
127.0.0.1. For each workload (today: --sessions direct + --pooled pooled; churn: the
issue 21 churn load, --churn-pooled pooled; benchmarks/load.py, its own process) it runs
each monitor in turn in a 120x40 pty at a 1 s refresh, --repeat times, round-robin:
pgtop, pg_activity in its remote mode (as OS user nobody: the like-for-like comparison)
and pg_activity in its local mode (as root: it reads /proc for every backend), and once
per round the plain read of pg_stat_activity (plainread.py, the server-cost floor). It
prints one table per workload with the ratios pgtop / pg_activity and each target met or
NOT, then replays a synthetic recording of --replay-sessions sessions in pgtop
(replayrun.py: client only). Everything it started is stopped and removed on exit, also
on failure, Ctrl-C or SIGTERM. Results go to benchmarks/results/latest.json.

Per run: launch -> first full screen; 5 s warm-up; a --seconds window for CPU, bytes,
pg_stat_statements; then --keys cursor-down presses and --keys presses of a
screen-changing key (pgtop: `/` opens the filter prompt; pg_activity has no filter, so
`h`, its help screen), each at a random phase against the refresh tick. After each round,
--startups more launches of each monitor, interleaved, timed to the first screen only.
"""

from __future__ import annotations

import json
import os
import random
import signal
import sys
import time
from pathlib import Path
from typing import Any

import report
from common import log
from environment import BenchEnvironment
from launcher import Launcher
from machine import machine_info
from monitors import MONITORS, ensure_pg_activity, ensure_pgtop
from options import parse_args
from plainread import plain_read_ms_per_s
from pyspy import profile_all, summarize_profile
from replayrun import replay_line, replay_run
from runs import RunResult, run_one
from startup import startup_round
from workloads import Workload, churn, today

# The modules, one job each: options (command line), workloads (what load), environment
# (servers + load), monitors (what runs and how), launcher (a monitor in a pty), usage
# (CPU, memory), statements (server cost), plainread (the server-cost floor), keys (key
# latency), startup (first screens), runs (one measured run), synthetic + replayrun (the
# many-sessions replay), report (tables, JSON), machine (versions), pyspy (--profile).


def _raise_interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


def compare(
    args: Any, env: BenchEnvironment, workload: Workload, rng: random.Random
) -> dict[str, list[RunResult]]:
    """Every monitor on one workload, --repeat rounds, plus the plain read each round."""
    names = ["pgtop", report.REMOTE]
    if not args.no_local and os.geteuid() == 0:
        names.append(report.LOCAL)
    if args.pooler_row:
        names.append("pgtop+pooler")
    specs = [MONITORS[n] for n in names]
    results: dict[str, list[RunResult]] = {n: [] for n in [*names, report.PLAIN]}
    launcher = Launcher(env)
    env.start_load(workload)
    try:
        for r in range(args.repeat):
            for spec in specs:  # round-robin, one monitor at a time
                log(f"{workload.name} run {r + 1}/{args.repeat}: {spec.name}")
                res = run_one(launcher, spec, r, seconds=args.seconds, keys=args.keys, rng=rng)
                results[spec.name].append(res)
                log(report.run_line(res))
                time.sleep(2)
            plain = RunResult(report.PLAIN, r, loadavg_1m=os.getloadavg()[0])
            plain.exec_ms_per_s, plain.calls_per_s = plain_read_ms_per_s(env, args.seconds)
            results[report.PLAIN].append(plain)
            log(f"  plain read: {plain.exec_ms_per_s:.2f} ms/s ({plain.calls_per_s:.2f} calls/s)")
            for name, times in startup_round(launcher, specs, args.startups).items():
                results[name][-1].startup_s.extend(times)
    finally:
        launcher.stop()
    return results


def main() -> int:
    args = parse_args(__doc__)
    signal.signal(signal.SIGTERM, _raise_interrupt)
    signal.signal(signal.SIGHUP, _raise_interrupt)
    ensure_pgtop()
    if args.profile:
        try:
            profile_all(args)
        except KeyboardInterrupt:
            log("interrupted: cleaning up")
            return 130
        return 0
    rng = random.Random(args.seed)
    started = time.time()
    workloads = {
        "today": today(args.sessions, args.pooled),
        "churn": churn(args.sessions, args.churn_pooled),
    }
    chosen = [] if args.synthetic_only else [workloads[w] for w in args.workloads]
    results: dict[str, dict[str, list[RunResult]]] = {}
    info: dict[str, Any] = {}
    replays: list[dict[str, Any]] = []
    try:
        if chosen:
            ensure_pg_activity()
            env = BenchEnvironment(max(w.sessions for w in chosen), max(w.pooled for w in chosen))
            try:
                env.setup()
                for w in chosen:
                    results[w.name] = compare(args, env, w, rng)
                info = machine_info(env)
            finally:
                env.cleanup()
        if args.replay_sessions:
            log(f"synthetic replay of {args.replay_sessions:,} sessions (client only)")
            res = replay_run(args.replay_sessions, args.replay_seconds, args.keys, rng)
            log(replay_line(res))
            replays.append(report.replay_summary(res))
        if not info:
            info = machine_info(None)
    except KeyboardInterrupt:
        log("interrupted: cleaning up")
        return 130

    verdicts: list[dict[str, Any]] = []
    summaries: dict[str, Any] = {}
    for w in chosen:
        summaries[w.name] = summary = report.summarize(results[w.name])
        text, v = report.table(w.name, summary)
        report.print_table(args, w.title(), summary, text)
        verdicts += v
    for s in replays:
        text, v = report.replay_lines(s)
        report.print_replay(args, s, text)
        verdicts += v
    report.print_verdicts(verdicts)
    print(f"machine: {info.get('cpu')}, {info.get('cores')} cores; load {info.get('loadavg_end')}")
    doc = report.document(args, started, info, summaries, verdicts, results, replays)
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(doc, indent=1) + "\n")
    log(f"wrote {args.output}")
    return 0


if __name__ == "__main__":
    if sys.argv[1:2] == ["--summarize-profile"]:  # re-read a saved py-spy raw profile
        summarize_profile(Path(sys.argv[2]), int(sys.argv[3]) if len(sys.argv) > 3 else 25)
        sys.exit(0)
    sys.exit(main())
