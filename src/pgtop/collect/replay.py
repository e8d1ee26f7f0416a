"""`pgtop --replay FILE|DIR`: read a recording (collect/record.py) and serve its frames.

Loading only decompresses and splits lines, reading each frame's time from its first
bytes: an hour of 1,000 sessions loads in about a second. Frames are decoded when shown,
from the nearest full frame (or the current position, when stepping forward) by applying
deltas, and turned into a Snapshot only then. A file still being written, or cut short
by a crash, loads up to its last complete frame.
"""

from __future__ import annotations

import bisect
import contextlib
import json
import re
import threading
import zlib
from collections import OrderedDict
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from pgtop.collect.record import (
    FORMAT,
    HOUR_SUFFIX,
    HourFile,
    RecordingError,
    hour_files,
    server_dir_name,
)
from pgtop.model.codec import CodecError, Compact, SessionMemo, apply, from_compact, sane_time
from pgtop.model.records import Snapshot

# Frames are written with "t" first and "delta" second, compactly (see RecordingWriter).
_PREFIX = re.compile(rb'^\{"t":"([^"]+)"(,"delta":1)?')
_CHUNK = 1 << 20
_SNAPSHOT_CACHE = 4
# Caps on what a file may make us hold: a frame of 1,000 busy sessions is ~0.5 MB and an
# hour of them ~130 MB uncompressed, so only a damaged or hostile file (a gzip bomb)
# comes near these.
MAX_LINE = 64 << 20
MAX_TOTAL = 512 << 20
MAX_FRAMES = 1_000_000  # 5.8 days at one poll every 0.5 s


def _inflate(data: bytes) -> Iterator[bytes]:
    """Decompressed chunks of at most _CHUNK bytes, gzip members one after another; stops
    quietly at a truncated or damaged end (a file still being written, or cut short)."""
    while data:
        d = zlib.decompressobj(wbits=31)  # gzip framing
        pending = data
        while True:
            try:
                out = d.decompress(pending, _CHUNK)
            except zlib.error:
                return
            if out:
                yield out
            pending = d.unconsumed_tail
            if d.eof or (not pending and len(out) < _CHUNK):
                break
        if not d.eof:  # still being written (or cut short): what was flushed is all there is
            return
        data = d.unused_data  # another gzip member follows


def _lines(data: bytes, problems: list[str]) -> Iterator[bytes | None]:
    """The complete lines of the file (the unfinished last one left out); None for a line
    longer than MAX_LINE. Stops, with a note in `problems`, past MAX_TOTAL bytes."""
    pending: list[bytes] = []
    size = 0  # of the pending line; -1 once it is too long
    too_long = f"a line longer than {MAX_LINE >> 20} MiB"
    total = 0
    for chunk in _inflate(data):
        total += len(chunk)
        if total > MAX_TOTAL:
            problems.append(f"read only the first {MAX_TOTAL >> 20} MiB (uncompressed)")
            return
        *complete, rest = chunk.split(b"\n")
        for part in complete:
            if size < 0 or size + len(part) > MAX_LINE:
                if too_long not in problems:
                    problems.append(too_long)
                yield None
            else:
                yield b"".join(pending) + part if pending else part
            pending, size = [], 0
        if size >= 0 and size + len(rest) <= MAX_LINE:
            if rest:
                pending.append(rest)
                size += len(rest)
        else:
            pending, size = [], -1
            if too_long not in problems:
                problems.append(too_long)


def _frame_time(line: bytes) -> tuple[datetime, bool] | None:
    """(time, is it a delta) of a frame line, None if unreadable. Our own lines are read
    from their first bytes; anything else is parsed."""
    m = _PREFIX.match(line)
    try:
        if m is not None:
            t, is_delta = m.group(1).decode(), m.group(2) is not None
        else:
            frame = json.loads(line)
            if not isinstance(frame, dict) or not isinstance(frame.get("t"), str):
                return None
            t, is_delta = frame["t"], bool(frame.get("delta"))
        when = datetime.fromisoformat(t)
    except ValueError:  # bad JSON, bad UTF-8, a time that is not a time
        return None
    return (when, is_delta) if sane_time(when) else None


class _Unreadable(Exception):
    def __init__(self, index: int, why: str, *, chain: bool) -> None:
        super().__init__(why)
        self.index = index  # the frame that could not be read
        # True: the frame's delta is damaged, so every frame built on it (up to the next
        # full frame) is too. False: only this frame's contents are.
        self.chain = chain


class Recording:
    """The readable frames of a recording. Frames that cannot be read when the file is
    loaded (no time, bad JSON, too long, or a delta after such a frame) are left out and
    counted in `skipped`; a frame found damaged only when rebuilt is stepped over by
    `readable`, so the app is never handed one."""

    def __init__(
        self,
        path: Path,
        header: dict[str, Any],
        frames: list[tuple[bytes, datetime, bool]],
        skipped: int = 0,
        problems: list[str] | None = None,
    ) -> None:
        self.path = path
        self.header = header
        self._lines = [line for line, _, _ in frames]
        self.times: list[datetime] = [when for _, when, _ in frames]
        self._full = [i for i, (_, _, is_delta) in enumerate(frames) if not is_delta]
        self.skipped = skipped
        self.problems = list(problems or [])
        if not self._full or self._full[0] != 0:
            raise RecordingError(f"{path}: damaged recording (first frame is not a full frame)")
        self._names = _field_names(header.get("fields"))
        self._at: tuple[int, Compact] | None = None  # the last frame rebuilt
        self.start = 0  # where playback begins (--at), set by load_directory
        self._snapshots: OrderedDict[int, Snapshot] = OrderedDict()
        # The last snapshot's sessions by their compact rows: stepping forward decodes
        # only the rows a delta names (unchanged rows are the same list objects).
        self._session_memo = SessionMemo()
        # The playback may decode the next frame in a worker thread (off the UI's event
        # loop) while a key asks for another: one rebuild at a time keeps _at, the memo
        # and the cache consistent.
        self._building = threading.Lock()

    def __len__(self) -> int:
        return len(self._lines)

    @property
    def server(self) -> dict[str, Any]:
        server = self.header.get("server")
        return dict(server) if isinstance(server, dict) else {}

    def summary(self) -> str | None:
        """One line on what could not be read, or None when everything could."""
        parts = list(self.problems)
        if self.skipped:
            plural = "s" if self.skipped != 1 else ""
            parts.insert(0, f"skipped {self.skipped} unreadable frame{plural}")
        return f"{self.path.name}: {'; '.join(parts)}" if parts else None

    def _decode(self, i: int) -> Compact:
        try:
            frame = json.loads(self._lines[i])
        except ValueError:
            raise _Unreadable(i, "bad JSON", chain=True) from None
        if not isinstance(frame, dict) or "t" not in frame:
            raise _Unreadable(i, "not a frame", chain=True)
        return frame

    def _full_before(self, i: int) -> int:
        return self._full[bisect.bisect_right(self._full, i) - 1]

    def frame(self, i: int) -> Compact:
        """Frame `i` as a full compact dict (_Unreadable if its chain is damaged)."""
        if not 0 <= i < len(self):
            raise IndexError(i)
        full = self._full_before(i)
        if self._at is not None and full <= self._at[0] <= i:
            start, state = self._at  # stepping forward: continue from here
        else:
            start, state = full, self._decode(full)
        for j in range(start + 1, i + 1):
            try:
                state = apply(state, self._decode(j))
            except CodecError as exc:
                raise _Unreadable(j, str(exc), chain=True) from None
        self._at = (i, state)
        return state

    def _build(self, i: int) -> Snapshot:
        with self._building:
            return self._build_locked(i)

    def _build_locked(self, i: int) -> Snapshot:
        snap = self._snapshots.get(i)
        if snap is None:
            try:
                snap = from_compact(self.frame(i), self._names, self._session_memo)
            except CodecError as exc:
                raise _Unreadable(i, str(exc), chain=False) from None
            self._snapshots[i] = snap
            if len(self._snapshots) > _SNAPSHOT_CACHE:
                self._snapshots.popitem(last=False)
        return snap

    def prepare(self, i: int) -> Snapshot | None:
        """Decode frame `i` into the cache ahead of showing it; safe from another thread.
        An unreadable frame is left for `readable` to step over (None)."""
        with contextlib.suppress(_Unreadable, IndexError):
            return self._build(i)
        return None

    def snapshot(self, i: int) -> Snapshot:
        """Frame `i`; RecordingError (one line) if it cannot be rebuilt."""
        try:
            return self._build(i)
        except _Unreadable as exc:
            raise RecordingError(f"{self.path.name}: frame {i + 1} is unreadable ({exc})") from None

    def readable(self, i: int, step: int = 1) -> tuple[int, Snapshot, int]:
        """The first frame that can be rebuilt from `i` on, in the direction of `step`
        (then the other way): (its index, its snapshot, how many were stepped over).
        RecordingError if none can."""
        for direction in (1 if step >= 0 else -1, -1 if step >= 0 else 1):
            j, passed = min(len(self) - 1, max(0, i)), 0
            while 0 <= j < len(self):
                try:
                    return j, self._build(j), passed
                except _Unreadable as exc:
                    if not exc.chain:
                        nxt = j + direction
                    elif direction > 0:  # every frame up to the next full one needs it
                        nxt = (
                            self._full[bisect.bisect_right(self._full, j)]
                            if j < self._full[-1]
                            else len(self)
                        )
                    else:
                        nxt = exc.index - 1
                    passed += abs(nxt - j)
                    j = nxt
        raise RecordingError(f"{self.path.name}: no frame can be read")

    def index_at(self, when: datetime) -> int:
        """The last frame taken at or before `when` (the first, if `when` is earlier)."""
        return max(0, bisect.bisect_right(self.times, when) - 1)

    def median_interval(self) -> float:
        gaps = sorted(
            (b - a).total_seconds() for a, b in zip(self.times, self.times[1:], strict=False)
        )
        return gaps[len(gaps) // 2] if gaps else 0.0


def _field_names(names: object) -> dict[str, list[str]] | None:
    """The writer's layout from the header, if it is one (a hostile header may hold anything)."""
    if not isinstance(names, dict):
        return None
    ok = all(isinstance(v, list) and all(isinstance(n, str) for n in v) for v in names.values())
    return names if ok else None


def _read_frames(
    path: Path,
) -> tuple[dict[str, Any], list[tuple[bytes, datetime, bool]], int, list[str]]:
    """(header, frames, skipped, problems) of one file; RecordingError as load_recording."""
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise RecordingError(f"{path}: no such file") from None
    except IsADirectoryError:
        raise RecordingError(f"{path}: is a directory") from None
    except OSError as exc:
        raise RecordingError(f"cannot read {path}: {exc.strerror or exc}") from None
    if not data.startswith(b"\x1f\x8b"):
        raise RecordingError(f"{path}: not a pgtop recording (not gzip-compressed)")
    problems: list[str] = []
    lines = _lines(data, problems)
    first = next(lines, b"")
    if not first and not problems:
        raise RecordingError(f"{path}: empty recording (nothing recorded yet?)")
    try:
        header = json.loads(first) if first else None
    except ValueError:
        header = None
    if not isinstance(header, dict) or header.get("format") != FORMAT:
        why = "; ".join(problems) or f"expected {FORMAT}"
        raise RecordingError(f"{path}: not a pgtop recording ({why})")
    frames: list[tuple[bytes, datetime, bool]] = []
    skipped = 0
    chain_ok = False  # a delta is readable only after a readable full frame or delta
    for line in lines:
        read = _frame_time(line) if line else None
        if read is not None and (chain_ok or not read[1]):
            frames.append((line, *read))  # type: ignore[arg-type]
            chain_ok = True
        else:
            skipped += 1
            chain_ok = False
        if len(frames) + skipped >= MAX_FRAMES:
            problems.append(f"read only the first {MAX_FRAMES:,} frames")
            break
    if not frames:
        if skipped or problems:
            why = "; ".join([f"{skipped} unreadable"] * bool(skipped) + problems)
            raise RecordingError(f"{path}: no readable frame ({why})")
        raise RecordingError(f"{path}: the recording has no frames yet")
    return header, frames, skipped, problems


def load_recording(path: Path) -> Recording:
    """Read a recording; RecordingError (one line) if it is missing, not a recording, or
    holds no readable frame. Unreadable frames are skipped (Recording.summary says so)."""
    return Recording(path, *_read_frames(path))


# -- a directory of hour files (collect/record.py names them) -----------------------------


def recorded_servers(directory: Path) -> dict[str, list[HourFile]]:
    """The servers recorded under `directory`, by name, each with its hour files. A
    directory that holds hour files itself is one server (named after the directory)."""
    own = hour_files(directory)
    if own:
        return {directory.name: own}
    found: dict[str, list[HourFile]] = {}
    try:
        subdirs = sorted(p for p in directory.iterdir() if p.is_dir() and not p.is_symlink())
    except OSError:
        subdirs = []
    for sub in subdirs:
        files = hour_files(sub)
        if files:
            found[sub.name] = files
    return found


def pick_server(directory: Path, name: str | None) -> tuple[str, list[HourFile]]:
    """The hour files of the server `name` (or of the only one); RecordingError naming
    the servers there otherwise."""
    if not directory.exists():
        raise RecordingError(f"{directory}: no such directory")
    servers = recorded_servers(directory)
    if not servers:
        raise RecordingError(f"{directory}: no recordings (no *{HOUR_SUFFIX} hour files)")
    names = ", ".join(servers)
    if name is None:
        if len(servers) > 1:
            raise RecordingError(f"{directory} holds several servers ({names}): pick one with -P")
        name = next(iter(servers))
    if name not in servers:
        safe = server_dir_name(name)
        if safe not in servers:
            raise RecordingError(f"{directory}: no recordings of {name!r} (there are: {names})")
        name = safe
    return name, servers[name]


def load_directory(
    directory: Path, server: str | None = None, at: datetime | None = None
) -> Recording:
    """One server's hour files as one recording, in time order, so that playback and
    jumps run across hours as within one file. Files are read from the one before `at`
    (or the oldest) on, until MAX_TOTAL bytes of frames are held: a note says where it
    stopped. Unreadable files are left out with a note; RecordingError if none is left.
    The recording starts at `at` (its `start`), when given."""
    name, files = pick_server(directory, server)
    if at is not None:
        later = [i for i, f in enumerate(files) if f.end > at]
        first = max(0, (later[0] if later else len(files) - 1) - 1)
        files = files[first:]
    header: dict[str, Any] | None = None
    frames: list[tuple[bytes, datetime, bool]] = []
    skipped, problems, held = 0, [], 0
    for f in files:
        if held > MAX_TOTAL:
            problems.append(f"read only up to {f.hour.astimezone():%Y-%m-%d %H:%M} (memory cap)")
            break
        try:
            head, more, bad, notes = _read_frames(f.path)
        except RecordingError as exc:
            if "no frames yet" not in str(exc) and "empty recording" not in str(exc):
                problems.append(str(exc).replace(str(f.path.parent) + "/", ""))
            continue
        if header is None:
            header = head
        elif head.get("fields") != header.get("fields"):
            problems.append(f"{f.path.name}: written by another pgtop layout, left out")
            continue
        if frames and more[0][1] < frames[-1][1]:  # clocks went back: keep time order
            problems.append(f"{f.path.name}: frames older than the file before, left out")
            continue
        frames += more
        skipped += bad
        problems += [f"{f.path.name}: {note}" for note in notes]
        held += sum(len(line) for line, _, _ in more)
    if header is None or not frames:
        why = f" ({'; '.join(problems)})" if problems else ""
        raise RecordingError(f"{directory}: no readable frame of {name}{why}")
    recording = Recording(directory / name if directory.name != name else directory,
                          header, frames, skipped, problems)  # fmt: skip
    if at is not None:
        if at < recording.times[0] - timedelta(minutes=1) or at > recording.times[-1] + timedelta(
            minutes=1
        ):
            span = f"{recording.times[0].astimezone():%Y-%m-%d %H:%M}–"
            span += f"{recording.times[-1].astimezone():%Y-%m-%d %H:%M}"
            raise RecordingError(
                f"{at.astimezone():%Y-%m-%d %H:%M} is outside the recordings of {name} ({span})"
            )
        recording.start = recording.index_at(at)
    return recording


_AT_RELATIVE = re.compile(r"^-\s*(\d+(?:\.\d+)?)\s*(s|m|min|h|d)$")
_AT_UNITS = {"s": 1, "m": 60, "min": 60, "h": 3600, "d": 86400}
_AT_CLOCK = re.compile(r"^(\d{1,2}):(\d{2})(?::(\d{2}))?$")


def parse_at(text: str, now: datetime) -> datetime:
    """Where `--at` starts, as an aware time: "2026-12-02 03:12[:SS]" (local time unless
    it names a zone), "03:12" (its latest occurrence, not after `now`), or "-2h" / "-30m"
    / "-1d" before `now`. ValueError with a one-line reason otherwise."""
    raw = text.strip()
    if m := _AT_RELATIVE.match(raw.lower()):
        return now - timedelta(seconds=float(m.group(1)) * _AT_UNITS[m.group(2)])
    if m := _AT_CLOCK.match(raw):
        h, mi, s = int(m.group(1)), int(m.group(2)), int(m.group(3) or 0)
        if h > 23 or mi > 59 or s > 59:
            raise ValueError(f"--at: no such time of day: {raw}")
        local_now = now.astimezone()
        when = local_now.replace(hour=h, minute=mi, second=s, microsecond=0)
        if when > local_now:
            when -= timedelta(days=1)
        return when
    try:
        when = datetime.fromisoformat(raw)
    except ValueError:
        raise ValueError(
            f"--at: not a time: {raw!r} (try '2026-12-02 03:12', 03:12 or -2h)"
        ) from None
    return when if when.tzinfo is not None else when.astimezone()
