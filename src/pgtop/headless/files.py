"""One server's hour files, and the directory's retention.

`HourRecorder` owns the file a server is being recorded to: it opens
DIR/<server>/<hour>Z.pgtop.gz at the first frame of each hour (by its clock, UTC), closes
the last one, and on SIGHUP (`reopen`) starts a new file of the same hour (`.1`, `.2`…).
The writing itself is collect/record.py's Recorder: 0600 files, one gzip sync flush per
frame, so a crash or kill -9 loses at most the frame being written.

`Pruner` owns nothing but decisions: it deletes hour files older than the retention, then
the oldest while the directory holds more than the size cap, never a file being written.
Every action is one line to the log.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Collection
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Protocol

from pgtop.collect.record import (
    HourFile,
    Recorder,
    RecordingError,
    hour_file_name,
    hour_files,
    hour_of,
    server_dir_name,
)
from pgtop.model.records import Snapshot

Log = Callable[[str], None]
RETRY_AFTER = timedelta(seconds=60)  # after a write error, before trying a new file
PRUNE_EVERY = timedelta(seconds=60)


class Clock(Protocol):
    def now(self) -> datetime:
        """The current time, aware."""
        ...


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(UTC)


def human_bytes(n: float) -> str:
    for unit in ("B", "kB", "MB", "GB"):
        if n < 1000:
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1000
    return f"{n:.1f} TB"


class HourRecorder:
    """Records one server into its own directory, a file per hour."""

    def __init__(self, root: Path, server: str, clock: Clock, log: Log) -> None:
        self.directory = root / server_dir_name(server)
        self.server = server
        self._clock = clock
        self._log = log
        self._recorder: Recorder | None = None
        self._hour: datetime | None = None
        self._retry_at: datetime | None = None

    @property
    def path(self) -> Path | None:
        """The file being written now."""
        return self._recorder.path if self._recorder is not None else None

    def record(self, snap: Snapshot) -> None:
        now = self._clock.now()
        hour = hour_of(now)
        if self._recorder is not None and hour != self._hour:
            self._close("rotated")
        if self._recorder is None:
            if self._retry_at is not None and now < self._retry_at:
                return
            self._open(hour)
            if self._recorder is None:
                return
        error = self._recorder.record(snap)
        if error is not None:  # an earlier frame failed: that file is finished
            self._log(error)
            self._recorder = None
            self._retry_at = now + RETRY_AFTER

    def _open(self, hour: datetime) -> None:
        try:
            self.directory.mkdir(mode=0o700, parents=True, exist_ok=True)
            seq = 0
            while (self.directory / hour_file_name(hour, seq)).exists():
                seq += 1
            path = self.directory / hour_file_name(hour, seq)
            self._recorder = Recorder(path, name=self.server)
        except (RecordingError, OSError) as exc:
            reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
            self._log(f"{self.server}: cannot open a recording in {self.directory}: {reason}")
            self._retry_at = self._clock.now() + RETRY_AFTER
            return
        self._hour, self._retry_at = hour, None
        self._log(f"{self.server}: recording to {path}")

    def _close(self, why: str) -> None:
        recorder, self._recorder = self._recorder, None
        if recorder is None:
            return
        recorder.close()  # waits for the frames queued (milliseconds)
        if recorder.error:
            self._log(recorder.error)
        else:
            self._log(f"{self.server}: {why} {recorder.path} ({recorder.frames} frames)")

    def reopen(self) -> None:
        """SIGHUP: finish the file; the next frame starts a new one."""
        self._close("closed (reopening)")
        self._retry_at = None

    def close(self) -> None:
        self._close("closed")


class Pruner:
    """Deletes hour files past the retention and the size cap, across all servers."""

    def __init__(
        self,
        root: Path,
        clock: Clock,
        log: Log,
        *,
        retain_seconds: float | None,
        retain_bytes: int | None,
    ) -> None:
        self.root = root
        self._clock = clock
        self._log = log
        self.retain = timedelta(seconds=retain_seconds) if retain_seconds else None
        self.retain_bytes = retain_bytes
        self._next: datetime | None = None
        self._warned_cap = False

    def _files(self) -> list[HourFile]:
        try:
            subdirs = [p for p in self.root.iterdir() if p.is_dir() and not p.is_symlink()]
        except OSError:
            return []
        return sorted(f for sub in subdirs for f in hour_files(sub))

    def maybe_prune(self, open_files: Collection[Path]) -> None:
        """Prune if a minute has passed (by the clock) since the last time."""
        now = self._clock.now()
        if self._next is None or now >= self._next:
            self._next = now + PRUNE_EVERY
            self.prune(open_files)

    def prune(self, open_files: Collection[Path]) -> None:
        if self.retain is None and self.retain_bytes is None:
            return
        now = self._clock.now()
        kept: list[tuple[HourFile, int]] = []
        for f in self._files():
            if f.path in open_files:
                kept.append((f, self._size(f.path)))
            elif self.retain is not None and f.end <= now - self.retain:
                self._delete(f.path, f"older than {human_span(self.retain)}")
            else:
                kept.append((f, self._size(f.path)))
        if self.retain_bytes is None:
            return
        total = sum(size for _, size in kept)
        for f, size in kept:  # oldest first
            if total <= self.retain_bytes:
                break
            if f.path in open_files:
                continue
            if self._delete(f.path, f"recordings over {human_bytes(self.retain_bytes)}"):
                total -= size
        if total > self.retain_bytes and not self._warned_cap:
            self._warned_cap = True
            self._log(
                f"the files being written ({human_bytes(total)}) exceed the size cap "
                f"{human_bytes(self.retain_bytes)}: nothing older is left to delete"
            )
        elif total <= self.retain_bytes:
            self._warned_cap = False

    @staticmethod
    def _size(path: Path) -> int:
        try:
            return path.stat().st_size
        except OSError:
            return 0

    def _delete(self, path: Path, why: str) -> bool:
        try:
            path.unlink()
        except FileNotFoundError:
            return True
        except OSError as exc:
            self._log(f"cannot delete {path}: {exc.strerror or exc}")
            return False
        self._log(f"deleted {path} ({why})")
        with contextlib.suppress(OSError):  # a server no longer recorded: its empty dir
            if not any(path.parent.iterdir()):
                os.rmdir(path.parent)
        return True


def human_span(delta: timedelta) -> str:
    seconds = delta.total_seconds()
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size and seconds % size == 0:
            return f"{seconds / size:g}{unit}"
    return f"{seconds:g}s"
