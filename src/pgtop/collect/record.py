"""`pgtop --record FILE`: every polled snapshot appended to a gzip'd JSON-lines file.

Line 1 is a header (format, server identity, start time); then one frame per poll: a
full compact snapshot every FULL_EVERY frames, deltas in between (model/codec.py). Each
frame is flushed with Z_SYNC_FLUSH, so a crash loses at most the frame being written and
`--replay` can read a file that is still growing.

`RecordingWriter` is the plain, synchronous file writer. `Recorder` is what the app
holds: it encodes and writes on one background thread, so a slow disk never stalls the
UI, and on the first error it stops recording and reports why, once, instead of raising.
"""

from __future__ import annotations

import contextlib
import gzip
import json
import os
import re
import zlib
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import IO, Any

from pgtop import __version__
from pgtop.model.codec import Compact, delta, layout, to_compact
from pgtop.model.records import Snapshot
from pgtop.private_file import PrivateFileError, create_private

FORMAT = "pgtop.recording/1"
FULL_EVERY = 300  # a full frame this often bounds how far back a seek must replay deltas
COMPRESS_LEVEL = 6  # zlib's default: level 9 costs ~2x the CPU for ~3% smaller files


class RecordingError(Exception):
    """The recording cannot be written or read: one line for the user."""


# -- a directory of hour files (pgtop --headless --record-dir, pgtop --replay DIR) ---------
# DIR/<server>/2026-12-02T03Z.pgtop.gz holds that server's frames polled from 03:00 UTC to
# 04:00; a second file of the same hour (the recorder restarted, or SIGHUP reopened it)
# is 2026-12-02T03Z.1.pgtop.gz, and so on. Names sort in time order by (hour, seq).
HOUR_SUFFIX = ".pgtop.gz"
_HOUR_NAME = re.compile(r"^(\d{4}-\d{2}-\d{2})T(\d{2})Z(?:\.(\d+))?\.pgtop\.gz$")
_UNSAFE = re.compile(r"[^A-Za-z0-9._@+-]+")


@dataclass(frozen=True, slots=True, order=True)
class HourFile:
    """One hour file of a server's directory, ordered by the hour it starts and its seq."""

    hour: datetime  # UTC, on the hour
    seq: int
    path: Path

    @property
    def end(self) -> datetime:
        return self.hour + timedelta(hours=1)


def hour_of(when: datetime) -> datetime:
    return when.astimezone(UTC).replace(minute=0, second=0, microsecond=0)


def hour_file_name(hour: datetime, seq: int = 0) -> str:
    stem = f"{hour_of(hour):%Y-%m-%dT%H}Z"
    return f"{stem}{f'.{seq}' if seq else ''}{HOUR_SUFFIX}"


def parse_hour_file(path: Path) -> HourFile | None:
    """The HourFile a path names, None if it is not one of ours."""
    m = _HOUR_NAME.match(path.name)
    if m is None:
        return None
    try:
        hour = datetime.fromisoformat(f"{m.group(1)}T{m.group(2)}:00:00+00:00")
    except ValueError:
        return None
    return HourFile(hour, int(m.group(3) or 0), path)


def hour_files(directory: Path) -> list[HourFile]:
    """The hour files of one server's directory, oldest first ([] if there is none)."""
    try:
        entries = list(directory.iterdir())
    except OSError:
        return []
    found = [f for f in map(parse_hour_file, entries) if f is not None and f.path.is_file()]
    return sorted(found)


def server_dir_name(name: str) -> str:
    """A server's name as a directory name: nothing that climbs out or hides."""
    safe = _UNSAFE.sub("_", name).strip("._") or "server"
    return safe[:100]


def _dumps(obj: object) -> bytes:
    return json.dumps(obj, separators=(",", ":"), ensure_ascii=False).encode() + b"\n"


def server_identity(snap: Snapshot) -> dict[str, Any]:
    s = snap.server
    return {
        "address": s.host,
        "version": s.version,
        "version_num": s.version_num,
        "start_time": s.start_time.isoformat() if s.start_time else None,
        "in_recovery": s.in_recovery,
        "current_user": s.current_user,
    }


class RecordingWriter:
    """Writes frames to one file; not thread-safe (Recorder gives it a single thread)."""

    def __init__(
        self, path: Path, *, full_every: int = FULL_EVERY, name: str | None = None
    ) -> None:
        """`name`: what the server is called (headless: the member's name), in the header."""
        self.path = path
        self.full_every = full_every
        self.name = name
        self.frames = 0
        self._prev: Compact | None = None
        self._rows: dict[Any, list[Any]] = {}  # encoded records of the last frame
        try:
            # Query texts are in here: 0600, a new file only, never through a symlink.
            self._raw: IO[bytes] = os.fdopen(create_private(path), "wb")
        except PrivateFileError as exc:
            raise RecordingError(f"cannot record: {exc}") from None
        except OSError as exc:
            raise RecordingError(f"cannot write {path}: {exc.strerror or exc}") from None
        self._gz = gzip.GzipFile(fileobj=self._raw, mode="wb", compresslevel=COMPRESS_LEVEL)

    def _emit(self, line: bytes) -> None:
        self._gz.write(line)
        # A sync flush ends the deflate block on a byte boundary without resetting the
        # dictionary: readers see the frame now, and compression keeps its context.
        self._gz.flush(zlib.Z_SYNC_FLUSH)

    def write_compact(self, frame: Compact, identity: dict[str, Any]) -> None:
        if self._prev is None:
            header = {
                "format": FORMAT,
                "server": identity,
                "started": datetime.now(UTC).isoformat(),
                "pgtop": __version__,
                "full_every": self.full_every,
                "fields": layout(),  # lets a later pgtop read records by field name
            }
            if self.name is not None:
                header["name"] = self.name
            self._emit(_dumps(header))
        full = self._prev is None or self.frames % self.full_every == 0
        self._emit(_dumps(frame if full else delta(self._prev, frame)))  # type: ignore[arg-type]
        self._prev = frame
        self.frames += 1

    def write(self, snap: Snapshot) -> None:
        self.write_compact(to_compact(snap, self._rows), server_identity(snap))

    def close(self) -> None:
        try:
            self._gz.close()  # the gzip trailer: a finished file is a valid .gz
            self._raw.flush()
            # A finished file (an hour rotated away) survives a power cut too.
            with contextlib.suppress(OSError):
                os.fsync(self._raw.fileno())
        finally:
            self._raw.close()


class Recorder:
    """Records snapshots on a background thread; never raises into the caller."""

    def __init__(
        self, path: Path, *, full_every: int = FULL_EVERY, name: str | None = None
    ) -> None:
        self.path = path
        self._writer: RecordingWriter | None = RecordingWriter(
            path, full_every=full_every, name=name
        )
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="pgtop-record")
        self.error: str | None = None  # why recording stopped
        self._reported = False
        self._closed = False
        self.frames = 0  # written so far

    @property
    def recording(self) -> bool:
        return self._writer is not None and self.error is None

    def record(self, snap: Snapshot) -> str | None:
        """Queue one frame. Returns, once, why recording stopped if an earlier write failed."""
        if self.error is not None:
            if self._reported:
                return None
            self._reported = True
            return self.error
        if self._writer is not None and not self._closed:
            self._pool.submit(self._write, self._writer, snap)
        return None

    def _write(self, writer: RecordingWriter, snap: Snapshot) -> None:
        if self.error is not None:
            return
        try:
            writer.write(snap)
            self.frames += 1
        except Exception as exc:  # disk full, permission, a bug: stop, never crash the UI
            reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
            self.error = f"recording to {self.path} stopped: {reason}"
            self._close_writer()

    def _close_writer(self) -> None:
        writer, self._writer = self._writer, None
        if writer is not None:
            with contextlib.suppress(Exception):  # already broken; the error is reported
                writer.close()

    def close(self) -> None:
        """Write what is queued and finish the file (blocking: call via a thread)."""
        if not self._closed:
            self._closed = True
            self._pool.submit(self._close_writer)
            self._pool.shutdown(wait=True)
