"""The files pgtop writes (recordings, the audit log) against a hostile or full disk:
private from the first byte, never through a planted symlink, whole lines or nothing."""

from __future__ import annotations

import contextlib
import json
import os
import resource
import stat
import subprocess
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from rel_helpers import running, target_for, until

from pgtop import cli
from pgtop.audit import record_actions
from pgtop.collect.actions import ActionResult
from pgtop.collect.record import Recorder, RecordingError
from pgtop.model.records import Session
from pgtop.ui.app import PgTopApp
from pgtop.ui.widgets.sessions_table import SessionsTable
from support import PostgresServer, SessionFactory

HOSTILE = "SELECT '\x1b]0;owned\x07 \x9b31m \u202egnp.exe' /* \u2066x\u2069 */"


def _session_and_result(pid: int = 4242, query: str = "SELECT 1") -> tuple[Session, ActionResult]:
    now = datetime.now(UTC)
    s = Session(pid, now, "shop", "app", "web", "10.0.0.5", 40000, "client backend", "active",
                None, None, now, now, now, query)  # fmt: skip
    return s, ActionResult(pid, s.backend_start, "cancel", "done", "")


def _lines(path: Path) -> list[dict[str, object]]:
    """Every line of the audit log as JSON: a partial or glued line fails to parse."""
    data = path.read_bytes()
    assert data == b"" or data.endswith(b"\n"), "the log ends in half a line"
    return [json.loads(line) for line in data.splitlines()]


# -- recordings ---------------------------------------------------------------------------


def test_a_recording_is_created_private(tmp_path: Path) -> None:
    path = tmp_path / "r.pgtop"
    recorder = Recorder(path)
    recorder.close()
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_a_recording_never_follows_a_planted_symlink(tmp_path: Path) -> None:
    victim = tmp_path / "victim"
    victim.write_text("precious\n")
    link = tmp_path / "r.pgtop"
    link.symlink_to(victim)
    with pytest.raises(RecordingError, match="symbolic link"):
        Recorder(link)
    assert victim.read_text() == "precious\n"
    (tmp_path / "dangling").symlink_to(tmp_path / "nowhere")
    with pytest.raises(RecordingError, match="symbolic link"):
        Recorder(tmp_path / "dangling")
    assert not (tmp_path / "nowhere").exists()


def test_record_onto_an_existing_file_or_symlink_is_one_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("PGTOP_FORCE_TTY", "1")
    old = tmp_path / "yesterday.pgtop"
    old.write_bytes(b"yesterday's incident")
    link = tmp_path / "link.pgtop"
    link.symlink_to(old)
    for path, why in ((old, "already exists"), (link, "symbolic link")):
        assert cli.run(["-h", "127.0.0.1", "--record", str(path)]) == cli.EXIT_USAGE
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and why in err, err
    assert old.read_bytes() == b"yesterday's incident"


# -- the audit log: symlinks, other people's files, escapes -------------------------------


def test_the_audit_log_never_follows_a_symlink(tmp_path: Path) -> None:
    victim = tmp_path / "victim"
    victim.write_text("precious\n")
    state = tmp_path / "state"
    state.mkdir()
    (state / "audit.log").symlink_to(victim)
    s, r = _session_and_result()
    error = record_actions("db1:5432", [s], [r])
    assert error is not None and "symbolic link" in error and "\n" not in error
    assert victim.read_text() == "precious\n"


def test_the_audit_log_is_private_and_escapes_controls(tmp_path: Path) -> None:
    s, r = _session_and_result(query=HOSTILE)
    assert record_actions("db1:5432", [s], [r]) is None
    path = tmp_path / "state" / "audit.log"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    raw = path.read_bytes()
    assert raw.isascii(), "C1/bidi/escape characters stored raw"
    assert not any(b < 0x20 and b != 0x0A for b in raw)
    (entry,) = _lines(path)
    assert entry["query"] == HOSTILE  # escaped in the file, exact when read back


# -- a full disk --------------------------------------------------------------------------


@contextlib.contextmanager
def _file_size_limit(limit: int) -> Iterator[None]:
    soft, hard = resource.getrlimit(resource.RLIMIT_FSIZE)
    resource.setrlimit(resource.RLIMIT_FSIZE, (limit, hard))
    try:
        yield
    finally:
        resource.setrlimit(resource.RLIMIT_FSIZE, (soft, hard))


def test_audit_past_a_file_size_limit_leaves_whole_lines(tmp_path: Path) -> None:
    s, r = _session_and_result()
    path = tmp_path / "state" / "audit.log"
    assert record_actions("db1:5432", [s], [r]) is None
    size = path.stat().st_size
    with _file_size_limit(size + 40):  # room for 40 bytes of the next ~300-byte line
        error = record_actions("db1:5432", [s], [r])
    assert error is not None and "not recorded in the audit log" in error and "\n" not in error
    assert path.stat().st_size == size  # the 40 bytes written were cut off again
    assert record_actions("db1:5432", [s], [r]) is None
    assert len(_lines(path)) == 2


@pytest.fixture
def tiny_disk(tmp_path: Path) -> Iterator[Path]:
    """A 16 KiB tmpfs (needs root): the real ENOSPC of a full disk."""
    mount = tmp_path / "tiny"
    mount.mkdir()
    if os.geteuid() != 0:
        pytest.skip("mounting a tmpfs needs root (the RLIMIT_FSIZE test covers the logic)")
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=16k", "tmpfs", str(mount)], check=True)
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


def _fill(disk: Path, log: Path, free_in_log_page: int) -> Path:
    """An audit log whose last page has `free_in_log_page` bytes left, and the rest of the
    disk taken by a filler file."""
    pad = 4096 - free_in_log_page - len('{"pad":""}\n')
    log.write_text(json.dumps({"pad": "x" * pad}) + "\n")
    filler = disk / "filler"
    with contextlib.suppress(OSError), open(filler, "wb", buffering=0) as f:
        while True:
            f.write(b"\0" * 512)
    return filler


@pytest.fixture
async def factory(rel_pg: PostgresServer) -> AsyncIterator[SessionFactory]:
    f = SessionFactory(rel_pg)
    yield f
    await f.close()


async def test_terminate_on_a_full_disk_reports_both_and_keeps_lines_whole(
    rel_pg: PostgresServer,
    factory: SessionFactory,
    tiny_disk: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("PGTOP_STATE_DIR", str(tiny_disk))
    log = tiny_disk / "audit.log"
    filler = _fill(tiny_disk, log, free_in_log_page=60)
    before = log.read_bytes()
    victims = [await factory.idle(application_name=f"full-disk-{i}") for i in range(2)]
    app = PgTopApp(target_for(rel_pg))

    def notes() -> list[str]:
        return [n.message for n in app._notifications]

    async def terminate(pid: int) -> None:
        table = app.query_one(SessionsTable)
        await until(pilot, lambda: table.move_cursor_to_pid(pid), f"session {pid}")
        await pilot.press("k", "y")
        await until(pilot, lambda: any(f"terminate {pid}: done" in n for n in notes()), "result")

    async with running(app) as pilot:
        await terminate(victims[0])
        await until(pilot, lambda: any("audit log" in n for n in notes()), "the audit error")
        (error,) = [n for n in notes() if "audit log" in n]
        assert "No space left on device" in error and "\n" not in error
        assert log.read_bytes() == before  # the part that fitted was cut off again
        filler.unlink()  # space again: the next line lands whole, not glued to a fragment
        await terminate(victims[1])
        await until(pilot, lambda: len(_lines(log)) == 2, "the second entry")
    first, second = _lines(log)
    assert "pad" in first and second["pid"] == victims[1] and second["result"] == "done"
