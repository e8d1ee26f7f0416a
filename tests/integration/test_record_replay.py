"""`--record` and `--replay`: file format, size, damaged files, and a live round trip.

The live test records the whole PgTopApp against a real server while sessions come and
go, noting what the sessions pane showed at each poll, then replays the file and checks
that stepping frame by frame shows the same rows at the same times.
"""

from __future__ import annotations

import contextlib
import errno
import gzip
import io
import json
import random
import re
import subprocess
import sys
import time
import zlib
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from pgtop import cli
from pgtop.collect.record import Recorder, RecordingError, RecordingWriter
from pgtop.collect.replay import load_recording
from pgtop.model.pooler_records import PoolerClient, PoolerServer, PoolerSnapshot
from pgtop.model.records import ConnLimit, Limits, ServerInfo, Session, Snapshot
from pgtop.monitor.replay import parse_jump
from pgtop.target import Target
from pgtop.ui.app import PgTopApp
from pgtop.ui.key_listing import bound_actions
from pgtop.ui.screens.confirm import ConfirmScreen
from pgtop.ui.widgets.header import StatusHeader
from support.records import replace

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "ui"))
from live import shown, target_for, until

from support import PostgresServer, SessionFactory

START = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
QUERIES = [
    f"SELECT o.id, o.total, c.name FROM orders o JOIN customers c ON c.id = o.customer_id "
    f"WHERE o.id = $1 AND o.shop_id = {i} ORDER BY o.created_at DESC LIMIT 50"
    for i in range(60)
] + ["COMMIT", "BEGIN", "UPDATE stock SET qty = qty - $1 WHERE sku = $2 RETURNING qty"]
STATES = ["idle"] * 6 + ["active", "active", "idle in transaction"]


# -- a synthetic hour (docs/reference/textual-table-cost.md's model) -----------------------


def _session(pid: int, now: datetime, rnd: random.Random) -> Session:
    state = rnd.choice(STATES)
    return Session(
        pid=pid,
        backend_start=now - timedelta(seconds=rnd.randint(10, 9000)),
        database=rnd.choice(["shop", "billing", "auth"]),
        user=rnd.choice(["app", "batch", "web"]),
        application=rnd.choice(["web-1", "web-2", "worker", "psql"]),
        client_addr=f"10.0.{rnd.randint(0, 9)}.{rnd.randint(1, 250)}",
        client_port=rnd.randint(30000, 60000),
        backend_type="client backend",
        state=state,
        wait_event_type="Client" if state == "idle" else None,
        wait_event="ClientRead" if state == "idle" else None,
        xact_start=now if state != "idle" else None,
        query_start=now - timedelta(milliseconds=rnd.randint(0, 5000)),
        state_change=now,
        query=rnd.choice(QUERIES),
        query_id=rnd.getrandbits(63),
    )


def _pooled(s: Session, now: datetime) -> tuple[PoolerClient, PoolerServer]:
    """SHOW CLIENTS / SHOW SERVERS rows of a backend PgBouncer opened for one client."""
    busy = s.state != "idle"
    when = s.query_start
    cptr, sptr = f"0x{s.pid:x}c0", f"0x{s.pid:x}50"
    waited = (now - when).total_seconds() if busy and when else 0.0  # grows while busy
    client = PoolerClient(s.database or "", s.user or "", "active" if busy else "idle",
                          f"10.1.{s.pid % 250}.{s.pid % 199}", 40000 + s.pid % 20000,
                          s.backend_start, when, waited, cptr, sptr if busy else None,
                          s.pid, s.application)  # fmt: skip
    server = PoolerServer(s.database or "", s.user or "", "active" if busy else "idle",
                          "10.0.0.1", 5432, s.client_addr, s.client_port, s.backend_start,
                          when, s.pid, sptr, cptr if busy else None, s.pid,
                          s.application)  # fmt: skip
    return client, server


def synthetic_hour(
    frames: int, rows: int = 1000, seed: int = 1, *, pooler: bool = True
) -> Iterator[Snapshot]:
    """Each second ~5% of sessions change state and query; 1% leave and 1% arrive. Half
    the sessions (even pids) come through PgBouncer: SHOW CLIENTS/SERVERS rows for them."""
    rnd = random.Random(seed)
    rows_of_pool: dict[Session, tuple[PoolerClient, PoolerServer]] = {}
    sessions = {p: _session(p, START, rnd) for p in range(1000, 1000 + rows)}
    next_pid = 1000 + rows
    for f in range(frames):
        now = START + timedelta(seconds=f)
        if f:
            pids = list(sessions)
            for p in rnd.sample(pids, rows // 20):
                state = rnd.choice(STATES)
                sessions[p] = replace(
                    sessions[p],
                    state=state,
                    query=rnd.choice(QUERIES),
                    query_start=now,
                    state_change=now,
                    xact_start=now if state != "idle" else None,
                )
            for p in rnd.sample(pids, rows // 100):
                del sessions[p]
            for _ in range(rows // 100):
                sessions[next_pid] = _session(next_pid, now, rnd)
                next_pid += 1
        server = ServerInfo("16.4", 160004, "db1:5432", START, False, now, 2000)
        limits = Limits(2000, 3, None, len(sessions), (ConnLimit("app", -1, rows),), (), ())
        bouncer = None
        if pooler:
            pairs = {}
            for s in sessions.values():
                if s.pid % 2 == 0:
                    pair = rows_of_pool.get(s)
                    if pair is None or pair[0].state == "active":
                        pair = _pooled(s, now)
                    pairs[s] = pair
            rows_of_pool = pairs
            bouncer = PoolerSnapshot(
                "1.24.1", "db1:6432", (), (), (), {}, len(pairs), len(pairs), now,
                tuple(c for c, _ in pairs.values()), tuple(v for _, v in pairs.values()),
            )  # fmt: skip
        yield Snapshot(server, tuple(sessions.values()), (), limits, own_pids=(1,), pooler=bouncer)


def test_an_hour_of_1000_sessions_stays_far_under_50_mb(tmp_path: Path) -> None:
    path = tmp_path / "hour.rec.gz"
    writer = RecordingWriter(path)
    started = time.monotonic()
    last = None
    for snap in synthetic_hour(3600):
        writer.write(snap)
        last = snap
    writer.close()
    size = path.stat().st_size
    took = time.monotonic() - started
    print(f"\n3600 frames x 1000 sessions (~500 via PgBouncer): {size / 1e6:.1f} MB, "
          f"{size / 3600 / 1e3:.2f} KB/frame, written in {took:.1f} s")  # fmt: skip
    assert size < 50e6
    started = time.monotonic()
    rec = load_recording(path)
    assert len(rec) == 3600
    assert rec.snapshot(3599) == last  # from the last full frame plus 299 deltas
    assert time.monotonic() - started < 5


# -- the file: growing, damaged, not a recording, unwritable -------------------------------


def test_a_file_still_being_written_is_readable(tmp_path: Path) -> None:
    path = tmp_path / "growing.rec.gz"
    recorder = Recorder(path, full_every=4)
    snaps = list(synthetic_hour(10, rows=50))
    for snap in snaps:
        assert recorder.record(snap) is None
    recorder._pool.submit(lambda: None).result()  # the queue drained; not closed
    rec = load_recording(path)
    assert len(rec) == 10
    assert [rec.snapshot(i) for i in (9, 3, 4, 0)] == [snaps[i] for i in (9, 3, 4, 0)]
    # A crash mid-frame: the cut frame is lost, the ones before it are not.
    data = path.read_bytes()
    (tmp_path / "cut.rec.gz").write_bytes(data[: len(data) - 40])
    assert 8 <= len(load_recording(tmp_path / "cut.rec.gz")) <= 9
    recorder.close()
    assert len(load_recording(path)) == 10


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (None, "no such file"),
        (b"hello\n", "not a pgtop recording"),
        (b"\x1f\x8b\x08\x00garbage", "empty recording"),
    ],
)
def test_bad_files_are_one_line_errors(tmp_path: Path, content: bytes | None, message: str) -> None:
    path = tmp_path / "bad.rec.gz"
    if content is not None:
        path.write_bytes(content)
    with pytest.raises(RecordingError, match=message):
        load_recording(path)
    err = io.StringIO()
    with contextlib.redirect_stderr(err):
        assert cli.run(["--replay", str(path)]) == cli.EXIT_USAGE
    assert err.getvalue().count("\n") == 1 and message in err.getvalue()


# -- hostile files: a gzip bomb, frames that cannot be read --------------------------------


def _gzip_lines(path: Path, lines: list[bytes]) -> None:
    path.write_bytes(gzip.compress(b"".join(line + b"\n" for line in lines)))


def _recorded_lines(tmp_path: Path, frames: int = 12) -> tuple[list[bytes], list[Snapshot]]:
    """A recording's lines (header first), a full frame every 4 frames."""
    path = tmp_path / "good.rec.gz"
    snaps = list(synthetic_hour(frames, rows=20))
    writer = RecordingWriter(path, full_every=4)
    for snap in snaps:
        writer.write(snap)
    writer.close()
    return gzip.decompress(path.read_bytes()).splitlines(), snaps


def test_a_gzip_bomb_is_refused_without_taking_the_memory(tmp_path: Path) -> None:
    """A ~1 MB file that inflates to 700 MiB: one frame line of zeros. Read in a child
    process so its peak memory can be measured alone."""
    path = tmp_path / "bomb.rec.gz"
    packer = zlib.compressobj(9, zlib.DEFLATED, 31)
    header = b'{"format":"pgtop.recording/1","server":{}}\n{"t":"'
    parts = [packer.compress(header)]
    zeros = b"0" * (1 << 20)
    parts += [packer.compress(zeros) for _ in range(700)]
    parts.append(packer.flush())
    path.write_bytes(b"".join(parts))
    assert path.stat().st_size < 2 << 20
    probe = (
        "import resource, sys; from pathlib import Path\n"
        "from pgtop.collect.replay import load_recording, RecordingError\n"
        "try:\n    load_recording(Path(sys.argv[1]))\n"
        "except RecordingError as exc:\n    print(exc)\n"
        "print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024)\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", probe, str(path)], capture_output=True, text=True, timeout=120
    )
    message, peak_mb = proc.stdout.splitlines()
    assert "no readable frame" in message and "longer than 64 MiB" in message, message
    assert "read only the first 512 MiB" in message
    # Read whole, the bomb takes 700+ MB. Capped reading peaks near 85 MB alone, but up
    # to ~256 MB was seen inside long suite runs (not yet explained): the bound proves the
    # cap, well under the bomb, without failing on that spread.
    assert int(peak_mb) < 400, f"peak RSS {peak_mb} MB"
    err = io.StringIO()
    with contextlib.redirect_stderr(err):
        assert cli.run(["--replay", str(path)]) == cli.EXIT_USAGE
    assert err.getvalue().count("\n") == 1 and "no readable frame" in err.getvalue()


def _hostile_recording(tmp_path: Path) -> tuple[Path, list[Snapshot]]:
    """12 frames (full ones at 0, 4, 8) with: frame 2's time not a time (3 leans on it),
    a session row of frame 6 cut short (frame 7 repeats it whole), and the server record
    missing from full frame 8 (so nothing from there on reads)."""
    lines, snaps = _recorded_lines(tmp_path)
    header, frames = lines[0], lines[1:]
    frames[2] = re.sub(rb'^\{"t":"[^"]+"', b'{"t":"yesterday"', frames[2])
    delta = json.loads(frames[6])
    pid, row = next(iter(delta["sessions"].items()))
    delta["sessions"][pid] = row[:5]
    frames[6] = json.dumps(delta, separators=(",", ":")).encode()
    after = json.loads(frames[7])  # frame 7 repeats the row whole: it reads again
    after["sessions"].setdefault(pid, row)
    frames[7] = json.dumps(after, separators=(",", ":")).encode()
    full = json.loads(frames[8])
    del full["server"]
    frames[8] = json.dumps(full, separators=(",", ":")).encode()
    path = tmp_path / "hostile.rec.gz"
    _gzip_lines(path, [header, *frames])
    return path, snaps


def test_unreadable_frames_are_skipped_with_a_count(tmp_path: Path) -> None:
    path, snaps = _hostile_recording(tmp_path)
    rec = load_recording(path)
    assert len(rec) == 10 and rec.skipped == 2  # frames 2 and 3 left out at load
    assert rec.summary() == "hostile.rec.gz: skipped 2 unreadable frames"
    assert rec.snapshot(0) == snaps[0] and rec.snapshot(3) == snaps[5]
    with pytest.raises(RecordingError, match="frame 5 is unreadable"):
        rec.snapshot(4)  # frame 6 of the file: its short row
    # Stepping forward from there lands on the next frame that reads, and says how far.
    index, snap, passed = rec.readable(4, 1)
    assert (index, passed) == (5, 1) and snap == snaps[7]
    # From the damaged full frame on nothing reads: the last readable one is behind.
    index, snap, passed = rec.readable(len(rec) - 1, 1)
    assert (index, passed) == (5, 4) and snap == snaps[7]


def test_replay_once_of_a_hostile_file_prints_the_last_readable_frame(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path, snaps = _hostile_recording(tmp_path)
    assert cli.run(["--replay", str(path), "--once", "--format", "json"]) == cli.EXIT_OK
    out, err = capsys.readouterr()
    assert f'"snapshot_time": "{snaps[7].server.snapshot_time.isoformat()}"' in out
    assert err == "pgtop: warning: hostile.rec.gz: skipped 2 unreadable frames\n"


def test_a_file_with_no_readable_frame_is_refused_in_one_line(tmp_path: Path) -> None:
    lines, _ = _recorded_lines(tmp_path, frames=3)
    bad = [re.sub(rb'^\{"t":"[^"]+"', b'{"t":"1999-99-99"', f) for f in lines[1:]]
    path = tmp_path / "none.rec.gz"
    _gzip_lines(path, [lines[0], *bad])
    err = io.StringIO()
    with contextlib.redirect_stderr(err):
        assert cli.run(["--replay", str(path)]) == cli.EXIT_USAGE
    assert err.getvalue() == f"pgtop: {path}: no readable frame (3 unreadable)\n"


async def test_stepping_through_a_hostile_file_in_the_app_never_shows_a_bad_frame(
    tmp_path: Path,
) -> None:
    path, snaps = _hostile_recording(tmp_path)
    rec = load_recording(path)
    readable = {snaps[i].server.snapshot_time for i in (0, 1, 4, 5, 7)}
    app = PgTopApp(Target(refresh=0.5, read_only=True), replay=rec)
    async with app.run_test(size=(120, 40)) as pilot:
        # Playing at ×8 runs into the damaged end and stops there instead of looping.
        await pilot.press("right_square_bracket", "right_square_bracket", "right_square_bracket")
        await until(pilot, lambda: not app.server.feed.playing, "playback to stop", timeout=15)
        assert app.server.header_state.frame.last_good == snaps[7].server.snapshot_time
        await pilot.press("circumflex_accent")
        shown_times = []
        for _ in range(12):
            await pilot.press("full_stop")
            shown_times.append(app.server.header_state.frame.last_good)
        await pilot.press("dollar_sign")
        shown_times.append(app.server.header_state.frame.last_good)
        for _ in range(12):
            await pilot.press("comma")
            shown_times.append(app.server.header_state.frame.last_good)
        notes = [n.message for n in app._notifications]
    assert set(shown_times) <= readable
    assert shown_times[-1] == snaps[0].server.snapshot_time
    assert snaps[7].server.snapshot_time in shown_times
    assert "hostile.rec.gz: skipped 2 unreadable frames" in notes
    assert any(n.startswith("skipped") and "unreadable frame" in n for n in notes)
    assert "no readable frame after this one" in notes


def test_a_write_error_stops_recording_once(tmp_path: Path) -> None:
    recorder = Recorder(tmp_path / "full.rec.gz")
    snaps = synthetic_hour(3, rows=5)
    recorder.record(next(snaps))

    def disk_full(_: bytes) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    recorder._pool.submit(lambda: setattr(recorder._writer, "_emit", disk_full)).result()
    recorder.record(next(snaps))
    recorder._pool.submit(lambda: None).result()
    error = recorder.record(next(snaps))
    assert error is not None and "No space left on device" in error
    assert recorder.record(next(synthetic_hour(1, rows=5))) is None  # said once
    assert not recorder.recording
    recorder.close()


def test_unwritable_path_is_a_usage_error(tmp_path: Path) -> None:
    with pytest.raises(RecordingError, match="cannot write"):
        Recorder(tmp_path / "no-such-dir" / "x.rec.gz")


def test_replay_once_prints_the_last_frame(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "r.rec.gz"
    writer = RecordingWriter(path)
    for snap in synthetic_hour(3, rows=20):
        writer.write(snap)
    writer.close()
    assert cli.run(["--replay", str(path), "--once", "--format", "json"]) == cli.EXIT_OK
    assert '"snapshot_time": "2026-11-25T12:00:02+00:00"' in capsys.readouterr().out


def test_parse_jump() -> None:
    times = [START + timedelta(seconds=s) for s in range(0, 600, 2)]  # every 2 s, 10 min
    clock = f"{(START + timedelta(seconds=61)).astimezone():%H:%M:%S}"
    assert parse_jump(clock, times, 0) == 30  # 12:01:00, the last frame in that second
    assert parse_jump("+1m", times, 10) == 40
    assert parse_jump("-30s", times, 10) == 0
    assert parse_jump("#12", times, 0) == parse_jump("12", times, 0) == 11
    assert parse_jump("99999", times, 0) == len(times) - 1
    assert (parse_jump("start", times, 5), parse_jump("end", times, 5)) == (0, len(times) - 1)
    for bad in ("soon", "25:00", f"{(START - timedelta(hours=2)).astimezone():%H:%M}"):
        with pytest.raises(ValueError):
            parse_jump(bad, times, 0)


# -- live: record a real server, replay it --------------------------------------------------


def rows_of(app: PgTopApp) -> list[tuple[int, str | None]]:
    return [(s.pid, s.state) for s in shown(app).values()]


async def test_record_then_replay_shows_the_same_rows(
    tmp_path: Path, primary_pg: PostgresServer, primary_workload: SessionFactory
) -> None:
    path = tmp_path / "live.rec.gz"
    seen: dict[datetime, list[tuple[int, str | None]]] = {}
    app = PgTopApp(target_for(primary_pg), recorder=Recorder(path))
    async with app.run_test(size=(120, 40)) as pilot:
        await until(pilot, lambda: app.server.state.pg_snapshot is not None, "the first poll")
        conns = []
        deadline = time.monotonic() + 3.0
        while time.monotonic() < deadline:
            if len(conns) < 3:
                conns.append(await primary_workload.connect(application_name="rec-churn"))
            else:
                await conns.pop(0).close()
            await primary_workload.active_sleep(1.0)
            when = app.server.header_state.frame.last_good
            if when is not None:  # what the pane shows as of this poll
                seen[when] = rows_of(app)
            await pilot.pause(0.1)
    assert len(seen) >= 4

    rec = load_recording(path)
    assert rec.header["server"]["address"] == f"{primary_pg.host}:{primary_pg.port}"
    # The refresh a replay shows is the recording's median interval (modes.py), as odd as
    # 1.00216 s: the header rounds it, and gives the frame's time once, in the status.
    replay = PgTopApp(Target(refresh=1.00216, read_only=True), replay=rec)
    async with replay.run_test(size=(120, 40)) as pilot:
        await pilot.press("p")  # pause playback, then walk it by hand
        await pilot.press("circumflex_accent")
        line = replay.query_one(StatusHeader).lines()[0].plain
        assert "every 1s" in line and "read-only" in line
        assert len(re.findall(r"\d\d:\d\d:\d\d", line)) == 1, line
        compared = 0
        for i in range(len(rec)):
            if i:
                await pilot.press("full_stop")
            assert replay.server.header_state.frame.last_good == rec.times[i]
            assert f"{i + 1}/{len(rec)}" in replay.server.header_state.frame.status
            if rec.times[i] in seen:
                assert rows_of(replay) == seen[rec.times[i]], f"frame {i + 1}"
                compared += 1
        assert compared >= 4
        await pilot.press("comma")
        assert replay.server.header_state.frame.last_good == rec.times[-2]
        # Nothing to act on: no confirmation, no Terminate key anywhere.
        await pilot.press("k", "c", "K")
        assert not isinstance(replay.screen, ConfirmScreen)
        described = [b.description for b in bound_actions(replay, replay.screen)]
        assert "Terminate" not in described and "Cancel" not in described
        assert "read-only" not in described and "Jump to time" in described
