"""The benchmark's own pure helpers (benchmarks/): the synthetic recording pgtop replays
for the 10,000-session figure, and the verdicts the tables print. If these are wrong, the
benchmark reports a target met that is not."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))

import report
import synthetic
from screens import replay_frame, sort_arrow

from pgtop.collect.replay import load_recording


def test_synthetic_recording_replays_in_pgtop_with_five_percent_changing(tmp_path: Path) -> None:
    path = tmp_path / "syn.pgtop.gz"
    synthetic.write_recording(path, sessions=2000, frames=4)
    rec = load_recording(path)
    assert len(rec) == 4
    assert (rec.times[1] - rec.times[0]).total_seconds() == 1.0
    a, b = rec.snapshot(1), rec.snapshot(2)
    assert len(a.sessions) == len(b.sessions) == 2000
    before = {s.pid: s for s in a.sessions}
    changed = sum(1 for s in b.sessions if before[s.pid] != s)
    assert 60 <= changed <= 100  # 5 % drawn; a redraw may repeat the old state


def test_the_replay_frame_and_sort_arrow_are_read_from_pgtops_header() -> None:
    header = [
        " PostgreSQL 15.18 synthetic:5432 up 2h00m  ● replay 13:05:35 7/30 ×1  read-only",
        " 10000 of 10000 shown · sort: age in state ▼  replay of syn.gz",
        "    PID   XACT   AGE▼ STATE    WAIT",
    ]
    assert replay_frame(header) == 7
    assert sort_arrow(header) == "▼"
    assert replay_frame([" PostgreSQL 15.18 h:5432 up 1d  ● replay end 13:05:59 30/30 ×1"]) == 30
    assert replay_frame([" PostgreSQL 15.18 host:5432  ● live  every 1s"]) is None


def _summary(cpu: float, remote: float, local: float, key_p95: float) -> dict[str, object]:
    base = {k: 1.0 for _, k, *_ in report.ROWS_SPEC} | {"first_screen_launches": 1}
    return {
        "pgtop": base
        | {"cpu_s_per_min": cpu, "key_down_ms_p95": key_p95}
        | {"exec_ms_per_s": 0.4, "bytes_per_s": 0.4},
        report.REMOTE: base | {"cpu_s_per_min": remote},
        report.LOCAL: base | {"cpu_s_per_min": local},
        report.PLAIN: {"exec_ms_per_s": 0.5},
    }


@pytest.mark.parametrize(
    ("cpu", "remote", "local", "key_p95", "missed"),
    [
        (0.7, 1.0, 2.8, 10.0, set()),
        (0.8, 1.0, 4.0, 10.0, {("CPU s/min", report.REMOTE)}),
        (0.5, 1.0, 1.0, 61.0, {("CPU s/min", report.LOCAL), ("key down p95 ms", "pgtop")}),
    ],
)
def test_each_target_is_marked_met_or_not(
    cpu: float, remote: float, local: float, key_p95: float, missed: set[tuple[str, str]]
) -> None:
    text, verdicts = report.table("today", _summary(cpu, remote, local, key_p95))
    assert {(v["metric"], v["against"]) for v in verdicts if not v["ok"]} == missed
    assert ("NOT" in text) == bool(missed)
    assert len(verdicts) == 11  # 6 ratios to remote, 1 to local, 1 to the plain read, 4 keys
