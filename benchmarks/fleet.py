"""The fleet's cost with its screen: `pgtop --fleet` over fifty profiles, in a pty.

    make bench BENCH_ARGS="--fleet 50"           # = python benchmarks/fleet.py --fleet 50
    .venv/bin/python benchmarks/fleet.py [--fleet 50] [--seconds 60] [--refresh 2]

Starts a throwaway PostgreSQL (pg_stat_statements preloaded) and, when PgBouncer is
installed, one PgBouncer in front of it; writes `--fleet` profiles that all name that
server (each its own connections, as fifty profiles would be) into a temp config, and
runs `pgtop --fleet` in a 120x40 pseudo-terminal (benchmarks/ptymon.py), as a user
would. Measured:

- client CPU s/min: pgtop's process over the window on the fleet screen (no keys);
- statements per tick per background server: pg_stat_statements calls of the fleet's
  role over that window divided by members x ticks (window / refresh); target at most
  1. The pooler console gets SHOW POOLS alone per tick off screen (not counted here:
  PgBouncer keeps no such statistic);
- keys: each timed from its write to the pty until the screen shows its effect (the
  cursor line moved, the sort named, the prompt drawn, the server's sessions, the fleet
  again): fleet keys, Enter into a server, keys there, `]`, Esc back; median and p95;
- peak memory: pgtop's VmHWM.

Issue 17's targets: CPU <= 3 s/min, keys median < 20 ms and p95 < 100 ms, <= 1
statement per tick per background server, peak memory < 120 MB.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import asyncpg
import pyte
from ptymon import Predicate, PtyMonitor
from screens import cursor_pid
from usage import cpu_delta, cpu_snapshot, vm_hwm_kb

from pgtop.sandbox import PgBouncerServer, PostgresServer, find_pgbouncer, find_postgres_bindir

ROLE = "fleet_bench"
PASSWORD = "fleet-bench-pw"


COLS, ROWS = 120, 40
DOWN, UP, ENTER, ESC = b"\x1b[B", b"\x1b[A", b"\r", b"\x1b"


def lines(screen: pyte.Screen) -> list[str]:
    return list(screen.display)


def cursor_row(screen: pyte.Screen, first: int) -> int | None:
    """The first row from `first` on whose first cell is drawn reversed (the cursor)."""
    for y in range(first, screen.lines):
        if screen.buffer[y][0].reverse and screen.display[y].strip():
            return y
    return None


def on_fleet(screen: pyte.Screen) -> bool:
    return screen.display[0].lstrip().startswith("fleet ")


def on_server(screen: pyte.Screen) -> bool:
    return any("1 Sessions" in line for line in screen.display)


def press(rng: random.Random, m: PtyMonitor, key: bytes, done: Predicate) -> float:
    """Send `key` at a random phase against the ticks; ms until `done` holds."""
    time.sleep(0.2 + rng.uniform(0.0, 0.8))
    w = m.watch(done)
    t = m.send(key)
    w.event.wait(3.0)
    return float("nan") if w.fired_at is None else (w.fired_at - t) * 1000.0


def drive_keys(m: PtyMonitor, rounds: int) -> dict[str, list[float]]:
    rng = random.Random(17)
    out: dict[str, list[float]] = {}

    def timed(name: str, key: bytes, done: Predicate) -> None:
        out.setdefault(name, []).append(press(rng, m, key, done))

    for _ in range(rounds):
        for step in (DOWN, DOWN, UP):
            before = m.snapshot(lambda s: cursor_row(s, 3))
            timed("fleet cursor", step, lambda s, b=before: cursor_row(s, 3) not in (None, b))
        for label in ("name", "env", "status"):
            timed("fleet sort", b"s", lambda s, w=f"sort: {label}": w in s.display[0])
        timed("fleet sort", b"0", lambda s: "sort: worst" in s.display[0])
        timed("fleet filter", b"/", lambda s: s.display[1].lstrip().startswith("/"))
        # Esc alone: the terminal's escape delay (Textual waits to tell it from a sequence).
        timed("esc closes filter", ESC, lambda s: not s.display[1].lstrip().startswith("/"))
        timed("enter server", ENTER, on_server)
        m.wait(lambda s: cursor_pid(s) is not None, 3.0)  # the sessions, with the cursor
        for step in (DOWN, DOWN, UP):
            before = m.snapshot(cursor_pid)
            timed("server cursor", step, lambda s, b=before: cursor_pid(s) not in (None, b))
        timed("server pane", b"2", lambda s: any("Connections by" in x for x in s.display))
        timed("server pane", b"1", lambda s: not any("Connections by" in x for x in s.display))
        name = m.snapshot(lambda s: s.display[0].split()[0] if s.display[0].split() else "")
        timed("next server", b"]", lambda s, n=name: on_server(s) and s.display[0].split()[:1]
              not in ([], [n]))  # fmt: skip
        timed("back to fleet", ESC, on_fleet)
    return out


def write_profiles(path: Path, count: int, params: dict[str, str], pooler: str | None,
                   refresh: float) -> None:  # fmt: skip
    envs = ("prod", "staging", "dev")
    text = []
    for i in range(count):
        text.append(f"[profiles.p{i:02d}]")
        text += [f'{k} = "{v}"' for k, v in params.items()]
        if pooler:
            text.append(f'pooler = "{pooler}"')
        text += [f'env = "{envs[i % 3]}"', f"refresh = {refresh}", ""]
    path.write_text("\n".join(text))
    path.chmod(0o600)


def run(profiles: int, seconds: float, refresh: float, rounds: int) -> dict[str, Any]:
    found = find_postgres_bindir()
    if found is None:
        raise SystemExit("no PostgreSQL binaries found")
    with PostgresServer(
        found[0], password="bench-su-pw", max_connections=2 * profiles + 30,
        preload=["pg_stat_statements"],
    ) as server, tempfile.TemporaryDirectory(prefix="pgtop-fleet-bench-") as tmp:  # fmt: skip
        psql = asyncio.run
        psql(_sql(server.dsn(), f"CREATE ROLE {ROLE} LOGIN SUPERUSER PASSWORD '{PASSWORD}'"))
        psql(_sql(server.dsn(), "CREATE EXTENSION pg_stat_statements"))
        bouncer = None
        if find_pgbouncer() is not None:
            bouncer = PgBouncerServer(server, users={ROLE: PASSWORD}, admin_users=[ROLE],
                                      settings={"max_client_conn": 4 * profiles + 50})  # fmt: skip
            bouncer.setup()
        m = None
        try:
            params = {"host": server.host, "port": str(server.port), "user": ROLE,
                      "password": PASSWORD, "dbname": "postgres", "sslmode": "disable"}  # fmt: skip
            config = Path(tmp) / "config.toml"
            pooler = bouncer.admin_uri(ROLE) if bouncer else None
            write_profiles(config, profiles, params, pooler, refresh)
            env = {"PATH": "/usr/local/bin:/usr/bin:/bin", "HOME": tmp, "TERM": "xterm-256color",
                   "LANG": "C.UTF-8", "LC_ALL": "C.UTF-8", "PGTOP_CONFIG": str(config),
                   "PGTOP_STATE_DIR": tmp}  # fmt: skip
            m = PtyMonitor([sys.executable, "-m", "pgtop", "--fleet"], env, COLS, ROWS)
            m.start()
            every_live = f"fleet {profiles} servers  sort"
            if m.wait(lambda s: every_live in s.display[0], 30) is None:
                raise SystemExit("the fleet did not come up within 30 s:\n" + "\n".join(m.lines()))
            time.sleep(2 * refresh)
            psql(_sql(server.dsn(), "SELECT pg_stat_statements_reset()"))
            cpu0, t0 = cpu_snapshot(m.pid), time.monotonic()
            time.sleep(seconds)
            cpu1, t1 = cpu_snapshot(m.pid), time.monotonic()
            calls = psql(_sql(server.dsn(), STATEMENTS, ROLE))
            keys = drive_keys(m, rounds)
            rss = vm_hwm_kb(m.pid) / 1024
        finally:
            if m is not None:
                m.stop()
            if bouncer is not None:
                bouncer.cleanup()
    window = t1 - t0
    ticks = profiles * window / refresh
    every = [v for values in keys.values() for v in values if v == v]  # nan: missed
    missed = sum(1 for values in keys.values() for v in values if v != v)
    return {
        "profiles": profiles,
        "refresh_s": refresh,
        "window_s": round(window, 1),
        "pooler": bouncer is not None,
        "client_cpu_s_per_min": round(cpu_delta(cpu0, cpu1) / (window / 60), 2),
        "statements_per_tick_per_server": round(int(calls) / max(1.0, ticks), 3),
        "keys_pressed": len(every) + missed,
        "keys_missed": missed,
        "key_median_ms": round(statistics.median(every), 1),
        "key_p95_ms": round(percentile(every, 0.95), 1),
        "key_median_ms_by_kind": {k: median_or_nan(v) for k, v in keys.items()},
        "peak_rss_mb": round(rss, 1),
    }


STATEMENTS = ("SELECT coalesce(sum(calls), 0) FROM pg_stat_statements s"
              " JOIN pg_roles r ON r.oid = s.userid WHERE r.rolname = $1")  # fmt: skip


async def _sql(dsn: str, sql: str, *args: object) -> object:
    conn = await asyncpg.connect(dsn)
    try:
        return await conn.fetchval(sql, *args)
    finally:
        await conn.close()


def median_or_nan(values: list[float]) -> float:
    answered = [v for v in values if v == v]
    return round(statistics.median(answered), 1) if answered else float("nan")


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--fleet", "--profiles", dest="profiles", type=int, default=50)
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--refresh", type=float, default=2.0)
    parser.add_argument("--rounds", type=int, default=5, help="key rounds (~20 keys each)")
    args = parser.parse_args(argv)
    result = run(args.profiles, args.seconds, args.refresh, args.rounds)
    text = json.dumps(result, indent=2)
    print(text)
    out = Path(__file__).parent / "results" / f"fleet-{args.profiles}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(text + "\n")
    targets = {
        "client_cpu_s_per_min": 3.0, "key_median_ms": 20.0, "key_p95_ms": 100.0,
        "statements_per_tick_per_server": 1.0, "peak_rss_mb": 120.0,
    }  # fmt: skip
    missed = [k for k, limit in targets.items() if not result[k] <= limit]
    print("targets met" if not missed else f"targets missed: {', '.join(missed)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
