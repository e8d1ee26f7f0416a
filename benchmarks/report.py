"""Reporting: medians over runs, one table per workload (pgtop against pg_activity in its
remote mode, the like-for-like comparison the targets hold on, and in its local mode),
the synthetic replay's lines, and the JSON results document. Stateless."""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from common import COLS, ROWS

if TYPE_CHECKING:  # annotations only: the tables are computed without the pty harness
    from replayrun import ReplayResult
    from runs import RunResult

REMOTE, LOCAL, PLAIN = "pg_activity", "pg_activity local", "plain read"
NAN = float("nan")


def pct(values: list[float], q: float) -> float:
    if not values:
        return NAN
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


def summarize(results: dict[str, list[RunResult]]) -> dict[str, Any]:
    """Per monitor: medians over runs; keys over every press of every run."""
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
                "loadavg_1m",
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
            d[attr + "_max"] = max(vals) if vals else NAN
        d["key_misses"] = sum(r.key_misses for r in runs)
        d["runs"] = len(runs)
        s[name] = d
    return s


# label, key, fmt, ratio target against remote (<=), against local (<=), pgtop's own limit
ROWS_SPEC: list[tuple[str, str, str, float | None, float | None, float | None]] = [
    ("CPU s/min", "cpu_s_per_min", "{:.2f}", 0.75, 0.25, None),
    ("server exec ms/s", "exec_ms_per_s", "{:.2f}", 0.5, None, None),
    ("server calls/s", "calls_per_s", "{:.1f}", None, None, None),
    ("backend CPU s/min (info)", "backend_cpu_s_per_min", "{:.2f}", None, None, None),
    ("terminal KB/s", "bytes_per_s", "{:.2f}", 0.5, None, None),
    ("peak RSS MB (VmHWM)", "peak_rss_mb", "{:.1f}", 1.2, None, None),
    ("first screen s", "first_screen_s", "{:.2f}", 1.0, None, None),
    ("key down median ms", "key_down_ms_median", "{:.1f}", None, None, 20.0),
    ("key down p95 ms", "key_down_ms_p95", "{:.1f}", None, None, 60.0),
    ("key open median ms", "key_open_ms_median", "{:.1f}", None, None, 20.0),
    ("key open p95 ms", "key_open_ms_p95", "{:.1f}", None, None, 60.0),
]
PLAIN_TARGET = 1.3  # pgtop's server time within 1.3x of the plain read's


def _verdict(ok: bool | None) -> str:
    return "" if ok is None else ("met" if ok else "NOT")


def table(workload: str, summary: dict[str, Any]) -> tuple[str, list[dict[str, Any]]]:
    """The workload's table and its verdicts (one per target)."""
    a, r, lo = summary.get("pgtop", {}), summary.get(REMOTE, {}), summary.get(LOCAL)
    head = f"{'metric':<26}{'pgtop':>9}{'pg_act.':>9}{'ratio':>7} {'target':<9}{'':<4}" + (
        f"{'pg_act.':>9}{'ratio':>7} {'target':<9}" if lo else ""
    )
    sub = f"{'':<26}{'':>9}{'remote':>9}{'':>7} {'':<9}{'':<4}" + (f"{'local':>9}" if lo else "")
    lines = [head.rstrip(), sub.rstrip()]
    verdicts: list[dict[str, Any]] = []

    def judge(metric: str, against: str, value: float, target: str, ok: bool) -> str:
        verdicts.append(
            {"workload": workload, "metric": metric, "against": against}
            | {"value": value, "target": target, "ok": ok}
        )
        return _verdict(ok)

    for label, key, fmt, t_remote, t_local, limit in ROWS_SPEC:
        scale = 1 / 1024 if key == "bytes_per_s" else 1.0
        va, vr = a.get(key, NAN), r.get(key, NAN)
        row = f"{label:<26}{fmt.format(va * scale):>9}{fmt.format(vr * scale):>9}"
        if limit is not None:  # an absolute limit on pgtop's own figure
            target = f"< {limit:g} ms"
            row += f"{'':>7} {target:<9}{judge(label, 'pgtop', va, target, va < limit):<4}"
        else:
            ratio = va / vr if vr else NAN
            target = f"<= {t_remote:.2f}" if t_remote is not None else ""
            ok = judge(label, REMOTE, ratio, target, ratio <= t_remote) if t_remote else ""
            row += f"{ratio:>7.2f} {target:<9}{ok:<4}"
        if lo:
            vl = lo.get(key, NAN)
            row += f"{fmt.format(vl * scale):>9}"
            if limit is None:
                ratio = va / vl if vl else NAN
                row += f"{ratio:>7.2f}"
                if t_local is not None:
                    target = f"<= {t_local:.2f}"
                    row += f" {target:<9}{judge(label, LOCAL, ratio, target, ratio <= t_local)}"
        lines.append(row.rstrip())
        if key == "exec_ms_per_s" and PLAIN in summary:
            vp = summary[PLAIN]["exec_ms_per_s"]
            ratio = va / vp if vp else NAN
            target = f"<= {PLAIN_TARGET:.2f}"
            ok = judge("server exec vs plain read", PLAIN, ratio, target, ratio <= PLAIN_TARGET)
            label = "  plain read ms/s (floor)"
            lines.append(f"{label:<26}{'':>9}{vp:>9.2f}{ratio:>7.2f} {target:<9}{ok}")
    return "\n".join(lines), verdicts


def print_table(args: argparse.Namespace, title: str, summary: dict[str, Any], text: str) -> None:
    launches = summary.get("pgtop", {}).get("first_screen_launches", 0)
    loads = [summary[n]["loadavg_1m"] for n in ("pgtop", REMOTE) if n in summary]
    print()
    print(f"== {title}")
    print(
        f"   {COLS}x{ROWS} pty, refresh 1 s, {args.repeat} x {args.seconds:g} s window; medians; "
        f"keys: all presses pooled; first screen over {launches} launches; "
        f"load avg {max(loads, default=NAN):.2f}"
    )
    print(text)


REPLAY_TARGETS = {  # sessions -> {metric: limit}; None: printed, no target
    10000: {"cadence": True, "keys_p95": 150.0, "cpu": 8.0, "rss": 120.0},
    50000: {"cadence": None, "keys_p95": 500.0, "cpu": None, "rss": None},
}


def replay_targets(sessions: int) -> dict[str, Any]:
    if sessions >= 50000:
        return REPLAY_TARGETS[50000]
    return REPLAY_TARGETS[10000]


def replay_summary(res: ReplayResult) -> dict[str, Any]:
    keys = [v for v in res.key_down_ms + res.key_sort_ms if v == v]
    iv = res.frame_interval_s
    return {
        "sessions": res.sessions,
        "frame_interval_median_s": pct(iv, 0.5),
        "frame_interval_p95_s": pct(iv, 0.95),
        "frame_interval_max_s": max(iv) if iv else NAN,
        "frames_in_window": len(iv) + 1 if iv else 0,
        "window_s": res.window_s,
        "keys_median_ms": pct(keys, 0.5),
        "keys_p95_ms": pct(keys, 0.95),
        "keys_max_ms": max(keys) if keys else NAN,
        "key_down_p95_ms": pct([v for v in res.key_down_ms if v == v], 0.95),
        "key_sort_p95_ms": pct([v for v in res.key_sort_ms if v == v], 0.95),
        "key_misses": sum(1 for v in res.key_down_ms + res.key_sort_ms if v != v),
        "key_missed": res.missed,  # each with the screen after the wait
        "cpu_s_per_min": res.cpu_s_per_min,
        "peak_rss_mb": res.peak_rss_mb,
        "first_screen_s": res.first_screen_s,
    }


def replay_lines(s: dict[str, Any]) -> tuple[str, list[dict[str, Any]]]:
    """The replay's lines and verdicts. Cadence kept: median frame interval <= 1.05 s
    and 95th percentile <= 1.25 s."""
    t = replay_targets(s["sessions"])
    verdicts: list[dict[str, Any]] = []

    def mark(metric: str, value: float, target: str, ok: bool | None) -> str:
        if ok is None:
            return ""
        verdicts.append(
            {"workload": f"replay {s['sessions']}", "metric": metric, "against": "pgtop"}
            | {"value": value, "target": target, "ok": ok}
        )
        return f"  {target}  {_verdict(ok)}"

    kept = s["frame_interval_median_s"] <= 1.05 and s["frame_interval_p95_s"] <= 1.25
    rows = [
        (
            f"frame interval s         median {s['frame_interval_median_s']:.2f}, "
            f"p95 {s['frame_interval_p95_s']:.2f}, max {s['frame_interval_max_s']:.2f} "
            f"({s['frames_in_window']} frames)",
            mark(
                "cadence", s["frame_interval_median_s"], "1 s kept", kept if t["cadence"] else None
            ),
        ),
        (
            f"keys ms (down, sort)     median {s['keys_median_ms']:.1f}, "
            f"p95 {s['keys_p95_ms']:.1f}, max {s['keys_max_ms']:.1f}"
            + (f", {s['key_misses']} missed" if s["key_misses"] else ""),
            mark(
                "keys p95",
                s["keys_p95_ms"],
                f"p95 < {t['keys_p95']:g}",
                s["keys_p95_ms"] < t["keys_p95"],
            ),
        ),
        (
            f"CPU s/min                {s['cpu_s_per_min']:.2f}",
            mark(
                "CPU s/min", s["cpu_s_per_min"], f"<= {t['cpu']:g}", s["cpu_s_per_min"] <= t["cpu"]
            )
            if t["cpu"]
            else "",
        ),
        (
            f"peak RSS MB              {s['peak_rss_mb']:.1f}",
            mark("peak RSS MB", s["peak_rss_mb"], f"< {t['rss']:g}", s["peak_rss_mb"] < t["rss"])
            if t["rss"]
            else "",
        ),
        (f"first screen s           {s['first_screen_s']:.2f}", ""),
    ]
    return "\n".join(f"{a:<68}{b}".rstrip() for a, b in rows), verdicts


def print_replay(args: argparse.Namespace, s: dict[str, Any], text: str) -> None:
    print()
    print(
        f"== {s['sessions']:,} sessions: a synthetic recording replayed (pgtop --replay, "
        f"5 % of sessions changing each second, 1 s cadence, filter -app:batch, sort by age)"
    )
    print(
        f"   measures the client only: no server, no statements. {COLS}x{ROWS} pty, "
        f"{args.replay_seconds:g} s window, {args.keys} presses each of down and r (reverse sort)"
    )
    print(text)


def print_verdicts(verdicts: list[dict[str, Any]]) -> None:
    missed = [v for v in verdicts if not v["ok"]]
    print()
    if not verdicts:
        return
    if not missed:
        print(f"all {len(verdicts)} targets met")
        return
    print(f"{len(missed)} of {len(verdicts)} targets NOT met:")
    for v in missed:
        print(
            f"  {v['workload']}: {v['metric']} vs {v['against']}: "
            f"{v['value']:.2f}, target {v['target']}"
        )


def document(
    args: argparse.Namespace,
    started: float,
    info: dict[str, Any],
    summaries: dict[str, Any],
    verdicts: list[dict[str, Any]],
    results: dict[str, dict[str, list[RunResult]]],
    replays: list[dict[str, Any]],
) -> dict[str, Any]:
    """The results file's content."""
    return {
        "date": time.strftime("%Y-%m-%dT%H:%M:%S%z", time.localtime(started)),
        "command": " ".join([Path(sys.argv[0]).name, *sys.argv[1:]]),
        "params": {
            k: getattr(args, k)
            for k in (
                "sessions",
                "pooled",
                "churn_pooled",
                "workloads",
                "repeat",
                "seconds",
                "keys",
                "startups",
                "replay_sessions",
                "replay_seconds",
                "quick",
            )
        }
        | {
            "terminal": f"{COLS}x{ROWS} TERM=xterm-256color",
            "refresh_s": 1,
            "pg_activity_modes": {
                REMOTE: "remote (OS user nobody: no /proc)",
                LOCAL: "local (root on the database host: /proc per backend)",
            },
        },
        "machine": info,
        "summary": _rounded(summaries),
        "replays": _rounded(replays),
        "verdicts": _rounded(verdicts),
        "runs": {
            w: [_rounded(r.__dict__) for runs in by_mon.values() for r in runs]
            for w, by_mon in results.items()
        },
    }


def _rounded(obj: Any) -> Any:
    if isinstance(obj, float):
        return None if obj != obj else round(obj, 3)
    if isinstance(obj, dict):
        return {k: _rounded(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [_rounded(v) for v in obj]
    return obj
