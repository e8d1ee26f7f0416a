"""Reporting: medians over runs, the pgtop / pg_activity table with its targets, and the
JSON results document. Stateless."""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path
from typing import Any

from common import COLS, ROWS
from monitors import MONITORS
from runs import RunResult


def pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    s = sorted(values)
    k = (len(s) - 1) * q
    lo, hi = int(k), min(int(k) + 1, len(s) - 1)
    return s[lo] + (s[hi] - s[lo]) * (k - lo)


def med(runs: list[RunResult], attr: str) -> float:
    return statistics.median(getattr(r, attr) for r in runs)


def keys_of(runs: list[RunResult], attr: str) -> list[float]:
    return [v for r in runs for v in getattr(r, attr) if v == v]


def run_line(res: RunResult) -> str:
    """One run's figures, for the progress log."""
    return (
        f"  cpu {res.cpu_s_per_min:.2f} s/min, {res.bytes_per_s / 1024:.2f} KB/s, "
        f"exec {res.exec_ms_per_s:.2f} ms/s ({res.calls_per_s:.1f} calls/s), "
        f"rss {res.peak_rss_mb:.0f} MB, first {res.first_screen_s:.2f}s, "
        f"down p50 {pct(keys_of([res], 'key_down_ms'), 0.5):.1f} ms, "
        f"open p50 {pct(keys_of([res], 'key_open_ms'), 0.5):.1f} ms; "
        f"load {res.loadavg_1m:.2f}, machine busy {res.machine_busy_cores:.2f} cores"
    )


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


def print_table(args: argparse.Namespace, summary: dict[str, Any], text: str) -> None:
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


def document(
    args: argparse.Namespace,
    started: float,
    names: list[str],
    info: dict[str, Any],
    summary: dict[str, Any],
    verdicts: list[dict[str, Any]],
    results: dict[str, list[RunResult]],
) -> dict[str, Any]:
    """The results file's content."""
    return {
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


def _rounded(obj: Any) -> Any:
    if isinstance(obj, float):
        return None if obj != obj else round(obj, 3)
    if isinstance(obj, dict):
        return {k: _rounded(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_rounded(v) for v in obj]
    return obj
