"""The benchmark's command line: parse_args() reads and checks it. Stateless."""

from __future__ import annotations

import argparse
from pathlib import Path

from common import KEY_PRESSES, PGTOP, RESULTS


def parse_args(description: str | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        description=description, formatter_class=argparse.RawTextHelpFormatter
    )
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
    return args
