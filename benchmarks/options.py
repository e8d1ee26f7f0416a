"""The benchmark's command line: parse_args() reads and checks it. Stateless."""

from __future__ import annotations

import argparse
from pathlib import Path

from common import RESULTS

# From this many --sessions on, no real backends are opened: pgtop replays a synthetic
# recording instead (replayrun.py), which measures the client only.
SYNTHETIC_FROM = 5000
WORKLOADS = ("today", "churn")

# --quick: a development run of a few minutes, not for figures anyone quotes.
QUICK = {
    "repeat": 1,
    "seconds": 10.0,
    "keys": 5,
    "startups": 1,
    "sessions": 200,
    "pooled": 100,
    "churn_pooled": 60,
    "replay_sessions": 2000,
    "replay_seconds": 10.0,
}


def parse_args(description: str | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        description=description, formatter_class=argparse.RawTextHelpFormatter
    )
    p.add_argument("--repeat", type=int, default=None, help="runs per monitor and workload (2)")
    p.add_argument("--seconds", type=float, default=None, help="measurement window (40)")
    p.add_argument(
        "--sessions",
        type=int,
        default=None,
        help=f"direct sessions (1000); from {SYNTHETIC_FROM} on, only the synthetic replay\n"
        "of that many sessions runs (no server: it measures the client)",
    )
    p.add_argument("--pooled", type=int, default=None, help="today's clients via PgBouncer (500)")
    p.add_argument(
        "--churn-pooled", type=int, default=None, help="churn's clients via PgBouncer (300)"
    )
    p.add_argument(
        "--workloads",
        default=",".join(WORKLOADS),
        help="comma-separated, of: today, churn (both)",
    )
    p.add_argument("--keys", type=int, default=None, help="presses per key (15)")
    p.add_argument(
        "--startups",
        type=int,
        default=None,
        help="extra launches per monitor and run, timed to the first screen only (3)",
    )
    p.add_argument(
        "--replay-sessions",
        type=int,
        default=None,
        help="sessions of the synthetic replay after the comparison (10000; 0 skips it)",
    )
    p.add_argument("--replay-seconds", type=float, default=None, help="the replay's window (30)")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument(
        "--no-local",
        action="store_true",
        help="skip pg_activity's local mode (it needs root on the database host)",
    )
    p.add_argument("--pooler-row", action="store_true", help="also run pgtop --pooler (no ratio)")
    p.add_argument(
        "--quick",
        action="store_true",
        help="a few minutes for development: " + ", ".join(f"{k} {v}" for k, v in QUICK.items()),
    )
    p.add_argument(
        "--profile",
        type=int,
        default=0,
        metavar="S",
        help="instead of the comparison: profile pgtop S seconds with py-spy on each\n"
        "workload and on a quiet server, and an empty Textual app as the reference",
    )
    p.add_argument("--output", type=Path, default=RESULTS)
    args = p.parse_args()
    defaults = {
        "repeat": 2,
        "seconds": 40.0,
        "keys": 15,
        "startups": 3,
        "sessions": 1000,
        "pooled": 500,
        "churn_pooled": 300,
        "replay_sessions": 10000,
        "replay_seconds": 30.0,
    }
    for name, value in defaults.items():  # explicit options win over --quick
        if getattr(args, name) is None:
            setattr(args, name, QUICK[name] if args.quick else value)
    args.workloads = [w.strip() for w in args.workloads.split(",") if w.strip()]
    bad = [w for w in args.workloads if w not in WORKLOADS]
    if bad or not args.workloads:
        p.error(f"--workloads: unknown {', '.join(bad) or '(none)'}; known: {', '.join(WORKLOADS)}")
    if args.repeat < 1 or args.seconds < 1 or args.sessions < 1 or args.keys < 1:
        p.error("--repeat, --seconds, --sessions and --keys must be positive")
    if args.replay_sessions < 0 or args.pooled < 0 or args.churn_pooled < 0:
        p.error("--replay-sessions, --pooled and --churn-pooled must not be negative")
    args.synthetic_only = args.sessions >= SYNTHETIC_FROM
    if args.synthetic_only:
        args.replay_sessions = args.sessions
    return args
