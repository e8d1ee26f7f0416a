"""`pgtop --headless`: the recorder as a service runs it (a real process, no terminal, real
servers), its hour files on a fake clock, `--replay DIR --at`, and the OpenMetrics output
read back by prometheus_client's own parser.

The clock tests drive the runner in-process (HeadlessRunner, the API a fleet uses) with a
clock the test moves; the signal tests run `python -m pgtop` with stdin from /dev/null.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from prometheus_client.openmetrics.parser import text_string_to_metric_families

from pgtop.collect.record import hour_file_name, hour_files
from pgtop.collect.replay import load_directory, load_recording
from pgtop.headless.options import HeadlessOptions
from pgtop.headless.runner import HeadlessRunner
from pgtop.metrics.exposition import ServerMetrics, render_openmetrics
from pgtop.target import ConnSettings, Target
from support import MONITOR, PgBouncerServer, PostgresServer, SessionFactory

REFRESH = 0.5
OPENMETRICS = "application/openmetrics-text; version=1.0.0; charset=utf-8"


class FakeClock:
    def __init__(self, start: datetime) -> None:
        self.at = start

    def now(self) -> datetime:
        return self.at

    def advance(self, **kw: float) -> None:
        self.at += timedelta(**kw)


def target_of(server: PostgresServer, pooler: PgBouncerServer | None = None) -> Target:
    settings = ConnSettings(
        {
            "host": server.host,
            "port": str(server.port),
            "user": MONITOR.name,
            "password": MONITOR.password,
            "dbname": "postgres",
        }
    )
    return Target(postgres=settings, pooler=pooler.admin_dsn() if pooler else None, refresh=REFRESH)


async def until(check: Callable[[], Any], timeout: float = 15.0, what: str = "") -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what or check}")
        await asyncio.sleep(0.05)


def frames_in(path: Path) -> int:
    try:
        return len(load_recording(path))
    except Exception:
        return 0


@dataclass
class Running:
    runner: HeadlessRunner
    task: asyncio.Task[None]
    lines: list[str]


async def start_runner(
    members: list[tuple[str, Target]], options: HeadlessOptions, **kw: Any
) -> Running:
    lines: list[str] = []
    runner = HeadlessRunner(members, options, log=lines.append, **kw)
    task = asyncio.create_task(runner.run())
    return Running(runner, task, lines)


async def stop(running: Running) -> None:
    running.runner.stop()
    await asyncio.wait_for(running.task, 15)


# -- hour files on a fake clock ----------------------------------------------------------------


def plant(directory: Path, hour: datetime, size: int) -> Path:
    """An old hour file (its contents do not matter to retention)."""
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / hour_file_name(hour)
    path.write_bytes(b"\x1f\x8b" + b"\0" * (size - 2))
    return path


async def test_files_rotate_on_the_clock_and_old_ones_are_deleted(
    primary_pg: PostgresServer, primary_workload: SessionFactory, tmp_path: Path
) -> None:
    clock = FakeClock(datetime(2026, 12, 2, 10, 59, 0, tzinfo=UTC))
    server_dir = tmp_path / "db1"
    stale = plant(server_dir, datetime(2026, 12, 1, 20, tzinfo=UTC), 1000)  # 14 h old
    other = plant(tmp_path / "db2", datetime(2026, 12, 2, 1, tzinfo=UTC), 1000)  # 9 h old
    kept = plant(server_dir, datetime(2026, 12, 2, 8, tzinfo=UTC), 1000)  # within 12h
    options = HeadlessOptions(record_dir=tmp_path, retain_seconds=12 * 3600)
    running = await start_runner([("db1", target_of(primary_pg))], options, clock=clock)
    try:
        first = server_dir / "2026-12-02T10Z.pgtop.gz"
        await until(lambda: frames_in(first) >= 3, what="frames in the 10:00 file")
        assert not stale.exists(), "a file past the retention survived the start"
        assert other.exists() and kept.exists()
        marker = await primary_workload.idle(application_name="second-hour-marker")
        clock.advance(minutes=2)  # 11:01: the next frame opens the 11:00 file
        second = server_dir / "2026-12-02T11Z.pgtop.gz"
        await until(lambda: frames_in(second) >= 3, what="frames in the 11:00 file")
        clock.advance(hours=10)  # 21:01: the 01:00 and 08:00 files ended over 12 h ago
        third = server_dir / "2026-12-02T21Z.pgtop.gz"
        await until(lambda: frames_in(third) >= 1, what="the 21:00 file")
        await until(lambda: not other.exists() and not kept.exists(), what="age retention")
    finally:
        await stop(running)
    assert first.exists() and second.exists() and third.exists()  # 10:00 ended 10 h ago
    assert not (tmp_path / "db2").exists(), "a server's emptied directory is left behind"
    assert oct(second.stat().st_mode & 0o777) == "0o600"
    log = "\n".join(running.lines)
    assert f"recording to {first}" in log and f"rotated {first}" in log
    assert f"deleted {stale} (older than 12h)" in log
    assert "stopped" in running.lines[-1]
    # The second hour saw the marker session; the first never did.
    rec = load_directory(tmp_path, "db1")
    apps = [{s.application for s in rec.snapshot(i).sessions} for i in range(len(rec))]
    assert "second-hour-marker" in apps[-1]
    assert marker and "second-hour-marker" not in apps[0]


async def test_the_size_cap_deletes_the_oldest_but_never_the_open_file(
    primary_pg: PostgresServer, tmp_path: Path
) -> None:
    clock = FakeClock(datetime(2026, 12, 2, 10, 30, tzinfo=UTC))
    old = [plant(tmp_path / "db1", datetime(2026, 12, 2, h, tzinfo=UTC), 10_000) for h in (5, 6, 7)]
    options = HeadlessOptions(record_dir=tmp_path, retain_bytes=25_000)
    running = await start_runner([("db1", target_of(primary_pg))], options, clock=clock)
    current = tmp_path / "db1" / "2026-12-02T10Z.pgtop.gz"
    try:
        await until(lambda: frames_in(current) >= 2, what="frames")
        await until(lambda: not old[0].exists(), what="the oldest deleted")
    finally:
        await stop(running)
    assert not old[0].exists() and old[1].exists() and old[2].exists()
    assert current.exists()
    assert any(f"deleted {old[0]} (recordings over 25.0 kB)" in line for line in running.lines)


async def test_a_restarted_server_is_logged_once_down_and_once_back_and_recording_goes_on(
    make_postgres: Callable[..., PostgresServer], tmp_path: Path
) -> None:
    server = make_postgres()
    options = HeadlessOptions(record_dir=tmp_path, metrics_listen=None)
    running = await start_runner([("db1", target_of(server))], options)
    path = tmp_path / "db1"

    def frames() -> int:
        files = hour_files(path)
        return frames_in(files[-1].path) if files else 0

    try:
        await until(lambda: frames() >= 2, what="frames before the restart")
        await asyncio.to_thread(server.stop)
        await until(lambda: running.runner.published[0].up is False, what="the poll failing")
        before = frames()
        await asyncio.sleep(3 * REFRESH)  # several failed polls: still one line
        await asyncio.to_thread(server.start)
        await until(lambda: frames() >= before + 2, timeout=30, what="frames after the restart")
    finally:
        await stop(running)
    failed = [line for line in running.lines if "PostgreSQL poll failed" in line]
    assert len(failed) == 1, running.lines
    assert any("PostgreSQL polls recovered after" in line for line in running.lines)
    errors = running.runner.published[0].poll_errors
    assert errors >= 2 and running.runner.published[0].up
    # The restart is in the recording: the server's start time changes across it.
    rec = load_directory(tmp_path, "db1")
    starts = {rec.snapshot(i).server.start_time for i in range(len(rec))}
    assert len(starts) == 2


async def test_a_restart_between_two_polls_is_logged_though_no_poll_failed(
    make_postgres: Callable[..., PostgresServer], tmp_path: Path
) -> None:
    """A fast restart fails no poll (the collector reconnects at once); the log still
    says the server restarted, the line a DBA looks for in the morning."""
    server = make_postgres()
    options = HeadlessOptions(record_dir=tmp_path, metrics_listen=None)
    target = target_of(server).replace(refresh=5.0)  # the restart fits between two polls
    running = await start_runner([("db1", target)], options)
    try:
        await until(lambda: running.runner.published[0].up, what="the first poll")
        await asyncio.to_thread(server.restart)
        await until(
            lambda: any("restarted" in line for line in running.lines),
            timeout=20,
            what="the restart logged",
        )
    finally:
        await stop(running)
    assert not any("poll failed" in line for line in running.lines), running.lines
    [line] = [line for line in running.lines if "restarted" in line]
    assert (
        line.startswith("db1: PostgreSQL restarted: up since ")
        or "db1: PostgreSQL restarted" in line
    )


# -- the service: signals, kill -9, no terminal ----------------------------------------------


def pgtop_env(tmp_path: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PG")}
    home = tmp_path / "home"
    home.mkdir(exist_ok=True)
    env.update(
        HOME=str(home),
        PGTOP_CONFIG=str(home / "no-profiles.toml"),
        PGPASSWORD=MONITOR.password,
        PYTHONDONTWRITEBYTECODE="1",
    )
    return env


def server_args(server: PostgresServer) -> list[str]:
    return ["-h", server.host, "-p", str(server.port), "-U", MONITOR.name, "-d", "postgres"]


@pytest.fixture
def service(
    primary_pg: PostgresServer, tmp_path: Path
) -> Iterator[Callable[..., subprocess.Popen[str]]]:
    procs: list[subprocess.Popen[str]] = []

    def start(*extra: str) -> subprocess.Popen[str]:
        proc = subprocess.Popen(
            [
                *(sys.executable, "-m", "pgtop", *server_args(primary_pg)),
                *("--headless", "--refresh", str(REFRESH), *extra),
            ],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=pgtop_env(tmp_path),
            start_new_session=True,  # no controlling terminal, as under systemd
        )
        procs.append(proc)
        return proc

    yield start
    for proc in procs:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def wait_files(directory: Path, count: int, frames: int, timeout: float = 20) -> list[Path]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        subdirs = [p for p in directory.iterdir() if p.is_dir()] if directory.exists() else []
        files = [f.path for sub in subdirs for f in hour_files(sub)]
        if len(files) >= count and frames_in(files[-1]) >= frames:
            return files
        time.sleep(0.1)
    raise AssertionError(f"no {count} files with {frames} frames in {directory}")


def test_sigterm_stops_cleanly_and_sighup_reopens(
    service: Callable[..., subprocess.Popen[str]], tmp_path: Path
) -> None:
    rec = tmp_path / "rec"
    proc = service("--record-dir", str(rec), "--retain", "7d")
    [first] = wait_files(rec, 1, 3)
    proc.send_signal(signal.SIGHUP)
    files = wait_files(rec, 2, 3)
    assert files[0] == first and files[1].name.endswith("Z.1.pgtop.gz")
    proc.send_signal(signal.SIGTERM)
    out, err = proc.communicate(timeout=15)
    assert proc.returncode == 0, err
    assert out == "" and "Traceback" not in err
    lines = err.splitlines()
    assert lines[0].endswith(f"pgtop: recording to {rec}, keeping 7d")
    assert "started, polling" in lines[1] and lines[-1].endswith("pgtop: stopped")
    assert any("SIGHUP: reopening" in line for line in lines)
    assert any("SIGTERM: stopping" in line for line in lines)
    for path in files:
        assert (path.stat().st_mode & 0o777) == 0o600
        assert len(load_recording(path)) >= 3
    # Closed cleanly: each file is a whole gzip stream, trailer and all.
    import gzip

    assert all(gzip.decompress(p.read_bytes()).count(b"\n") >= 4 for p in files)


def test_metrics_only_service_answers_a_scrape_and_records_nothing(
    service: Callable[..., subprocess.Popen[str]], tmp_path: Path, primary_pg: PostgresServer
) -> None:
    from pgtop.sandbox import free_port

    port = free_port()
    proc = service("--metrics-listen", str(port))  # a bare port: loopback
    url = f"http://127.0.0.1:{port}/metrics"
    request = urllib.request.Request(url, headers={"Accept": OPENMETRICS})
    deadline, text = time.monotonic() + 20, ""
    while "pg_settings_max_connections" not in text and time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(request, timeout=2) as response:
                text = response.read().decode()
        except OSError:
            time.sleep(0.1)
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=15)
    assert proc.returncode == 0, err
    fams = parse_metrics(text)
    assert [s.labels["server"] for s in samples(fams, "pg_up")] == [
        f"{primary_pg.host}:{primary_pg.port}"
    ]
    assert f"serving OpenMetrics on http://127.0.0.1:{port}/metrics" in err
    assert "recording" not in err


def test_settings_no_retry_can_mend_stop_the_service_with_exit_2(
    primary_pg: PostgresServer, tmp_path: Path
) -> None:
    conninfo = f"host={primary_pg.host} port={primary_pg.port} user={MONITOR.name} "
    conninfo += "dbname=postgres channel_binding=require"  # pgtop refuses it, at connect
    proc = run_pgtop([conninfo, "--headless", "--record-dir", str(tmp_path / "r")], tmp_path)
    assert proc.returncode == 2, proc.stderr
    assert "channel_binding=require is not supported" in proc.stderr
    assert proc.stderr.splitlines()[-1].endswith("pgtop: stopped")
    assert "Traceback" not in proc.stderr


def test_kill_9_leaves_every_frame_written_readable(
    service: Callable[..., subprocess.Popen[str]], tmp_path: Path
) -> None:
    rec = tmp_path / "rec"
    proc = service("--record-dir", str(rec))
    [path] = wait_files(rec, 1, 6)
    proc.kill()  # SIGKILL: no close, no gzip trailer
    proc.wait()
    data = path.read_bytes()
    written = len(load_recording(path))
    assert written >= 6
    # Cut anywhere (a frame half written): every frame before the cut still reads.
    counts = []
    # Forty cuts from the middle on, and one byte short of the end: that last cut tears
    # the last frame alone (a step of 1/40 of the file can span two small frames).
    cuts = [*range(len(data) // 2, len(data), max(1, len(data) // 40)), len(data) - 1]
    for cut in cuts:
        torn = tmp_path / f"torn-{cut}.pgtop.gz"
        torn.write_bytes(data[:cut])
        try:
            recording = load_recording(torn)
        except Exception:
            counts.append(0)
            continue
        counts.append(len(recording))
        recording.snapshot(len(recording) - 1)  # the last complete frame rebuilds
    assert counts == sorted(counts) and counts[-1] >= written - 1


# -- replay of a directory, --at ------------------------------------------------------------


def run_pgtop(args: list[str], tmp_path: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "pgtop", *args],
        capture_output=True,
        text=True,
        timeout=30,
        env=pgtop_env(tmp_path),
        stdin=subprocess.DEVNULL,
    )


async def test_replay_dir_at_lands_on_the_right_frame_across_hour_files(
    primary_pg: PostgresServer, tmp_path: Path
) -> None:
    clock = FakeClock(datetime(2026, 12, 2, 2, 59, tzinfo=UTC))
    rec = tmp_path / "rec"
    options = HeadlessOptions(record_dir=rec)
    running = await start_runner([("db1", target_of(primary_pg))], options, clock=clock)
    a, b = rec / "db1" / "2026-12-02T02Z.pgtop.gz", rec / "db1" / "2026-12-02T03Z.pgtop.gz"
    try:
        await until(lambda: frames_in(a) >= 4, what="the 02:00 file")
        clock.advance(minutes=1)
        await until(lambda: frames_in(b) >= 6, what="the 03:00 file")
    finally:
        await stop(running)
    times_a, times_b = load_recording(a).times, load_recording(b).times
    # A second between two frames of the second file: the last frame at or before it.
    for times in (times_a, times_b):
        target = times[3]
        at = (target + timedelta(microseconds=1)).astimezone().replace(tzinfo=None)
        proc = run_pgtop(
            ["--replay", str(rec), "--at", at.isoformat(sep=" "), "--once", "--format", "json"],
            tmp_path,
        )
        assert proc.returncode == 0, proc.stderr
        shown = datetime.fromisoformat(json.loads(proc.stdout)["server"]["snapshot_time"])
        assert shown == target
    # Seamless: one recording holds both files' frames in order.
    whole = load_directory(rec)
    assert whole.times == times_a + times_b
    step = whole.readable(len(times_a) - 1)[0], whole.readable(len(times_a))[0]
    assert step == (len(times_a) - 1, len(times_a))
    # Its metrics carry the name it was recorded under.
    proc = run_pgtop(["--replay", str(rec), "--once", "--format", "openmetrics"], tmp_path)
    assert [s.labels["server"] for s in samples(parse_metrics(proc.stdout), "pg_up")] == ["db1"]
    # A bad --at, or one outside the recordings, is one line.
    for bad in ("yesterday-ish", "25:00", "-3d"):
        proc = run_pgtop(["--replay", str(rec), "--at", bad, "--once"], tmp_path)
        assert proc.returncode == 2 and len(proc.stderr.splitlines()) == 1, proc.stderr
        assert proc.stderr.startswith("pgtop: ") and "Traceback" not in proc.stderr


def test_replay_dir_of_several_servers_asks_which(tmp_path: Path) -> None:
    for name in ("alpha", "beta"):
        plant(tmp_path / name, datetime(2026, 12, 2, 3, tzinfo=UTC), 100)
    proc = run_pgtop(["--replay", str(tmp_path), "--once"], tmp_path)
    assert proc.returncode == 2
    assert proc.stderr.strip().endswith("holds several servers (alpha, beta): pick one with -P")


# -- OpenMetrics ------------------------------------------------------------------------------


def parse_metrics(text: str) -> dict[str, Any]:
    assert text.endswith("# EOF\n")
    return {f.name: f for f in text_string_to_metric_families(text)}


def samples(families: dict[str, Any], name: str) -> list[Any]:
    return list(families[name].samples)


async def test_once_openmetrics_parses_with_exporter_names(
    primary_pg: PostgresServer,
    primary_workload: SessionFactory,
    pgbouncer: PgBouncerServer,
    tmp_path: Path,
) -> None:
    await primary_workload.idle_in_transaction(application_name="om-idle-tx")
    await primary_workload.pooled_sleepers(pgbouncer, clients=3, seconds=30)
    args = [*server_args(primary_pg), "--pooler", pgbouncer.admin_dsn(), "--once",
            "--format", "openmetrics", "--refresh", str(REFRESH)]  # fmt: skip
    proc = await asyncio.to_thread(run_pgtop, args, tmp_path)
    assert proc.returncode == 0, proc.stderr
    fams = parse_metrics(proc.stdout)
    server = f"{primary_pg.host}:{primary_pg.port}"
    assert {s.labels["server"] for f in fams.values() for s in f.samples} == {server}
    count = samples(fams, "pg_stat_activity_count")
    [tx] = [s for s in count if s.labels["application_name"] == "om-idle-tx"]
    assert tx.labels["state"] == "idle in transaction" and tx.labels["datname"] == "shop"
    assert tx.labels["usename"] == "app_user" and tx.value == 1
    assert not any("pid" in s.labels for f in fams.values() for s in f.samples)
    [max_tx] = [
        s for s in samples(fams, "pg_stat_activity_max_tx_duration")
        if s.labels["application_name"] == "om-idle-tx"
    ]  # fmt: skip
    assert max_tx.value > 0
    assert samples(fams, "pgtop_oldest_transaction_seconds")[0].value >= max_tx.value
    assert fams["pgtop_oldest_transaction_seconds"].unit == "seconds"
    assert samples(fams, "pg_settings_max_connections")[0].value > 0
    assert samples(fams, "pg_settings_superuser_reserved_connections")[0].value >= 0
    waiting = {
        (s.labels["database"], s.labels["user"]): s.value
        for s in samples(fams, "pgbouncer_pools_client_waiting_connections")
    }
    assert waiting[("shop", "app_user")] >= 1
    assert fams["pgbouncer_pools_client_maxwait_seconds"].type == "gauge"
    assert samples(fams, "pgtop_pooler_headroom_connections")[0].value > 0
    assert samples(fams, "pg_up")[0].value == 1 and samples(fams, "pgbouncer_up")[0].value == 1


@dataclass(frozen=True)
class Finding:
    kind: str
    severity: str


async def test_two_members_through_the_runner_and_an_http_scrape(
    primary_pg: PostgresServer, pgbouncer: PgBouncerServer
) -> None:
    members = [("direct", target_of(primary_pg)), ("pooled", target_of(primary_pg, pgbouncer))]
    options = HeadlessOptions(metrics_listen=("127.0.0.1", 0))

    def findings(snap: object) -> list[Finding]:
        return [Finding("long_transaction", "warning"), Finding("long_transaction", "warning")]

    running = await start_runner(members, options, findings=findings)
    try:
        await until(lambda: all(m.snapshot for m in running.runner.published), what="polls")
        assert running.runner.listening is not None
        host, port = running.runner.listening
        request = urllib.request.Request(
            f"http://{host}:{port}/metrics", headers={"Accept": OPENMETRICS}
        )

        def scrape() -> tuple[str, str]:
            with urllib.request.urlopen(request, timeout=5) as response:
                return response.headers["Content-Type"], response.read().decode()

        content_type, text = await asyncio.to_thread(scrape)
    finally:
        await stop(running)
    assert content_type.startswith("application/openmetrics-text")
    fams = parse_metrics(text)
    assert {s.labels["server"] for s in samples(fams, "pg_up")} == {"direct", "pooled"}
    assert {s.labels["server"] for s in samples(fams, "pgbouncer_up")} == {"pooled"}
    poll = {s.labels["server"]: s.value for s in samples(fams, "pgtop_poll_duration_seconds")}
    assert set(poll) == {"direct", "pooled"} and all(0 < v < 5 for v in poll.values())
    [found] = [s for s in samples(fams, "pgtop_findings") if s.labels["server"] == "direct"]
    assert (found.labels["kind"], found.labels["severity"], found.value) == (
        "long_transaction", "warning", 2
    )  # fmt: skip
    errors = {(s.labels["server"], s.labels["source"]) for s in samples(fams, "pgtop_poll_errors")}
    assert ("pooled", "pgbouncer") in errors and ("direct", "pgbouncer") not in errors


def test_metrics_of_a_server_not_polled_yet_say_it_is_down() -> None:
    text = render_openmetrics([ServerMetrics("db9", None, up=False, poll_errors=3)])
    fams = parse_metrics(text)
    assert samples(fams, "pg_up")[0].value == 0
    assert samples(fams, "pgtop_poll_errors")[0].value == 3
    assert "pg_stat_activity_count" not in fams
