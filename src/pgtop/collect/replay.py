"""`pgtop --replay FILE`: read a recording (collect/record.py) and serve its frames.

Loading only decompresses and splits lines, reading each frame's time from its first
bytes: an hour of 1,000 sessions loads in about a second. Frames are decoded when shown,
from the nearest full frame (or the current position, when stepping forward) by applying
deltas, and turned into a Snapshot only then. A file still being written, or cut short
by a crash, loads up to its last complete frame.
"""

from __future__ import annotations

import bisect
import json
import re
import zlib
from collections import OrderedDict
from datetime import datetime
from pathlib import Path
from typing import Any

from pgtop.collect.record import FORMAT, RecordingError
from pgtop.model.codec import Compact, apply, from_compact
from pgtop.model.records import Snapshot

# Frames are written with "t" first and "delta" second, compactly (see RecordingWriter).
_PREFIX = re.compile(rb'^\{"t":"([^"]+)"(,"delta":1)?')
_CHUNK = 1 << 20
_SNAPSHOT_CACHE = 4


def _decompress(data: bytes) -> bytes:
    """Everything readable: stops quietly at a truncated or damaged end."""
    out: list[bytes] = []
    while data:
        d = zlib.decompressobj(wbits=31)  # gzip framing
        for i in range(0, len(data), _CHUNK):
            try:
                out.append(d.decompress(data[i : i + _CHUNK]))
            except zlib.error:
                return b"".join(out)
        if not d.eof:  # still being written (or cut short): what was flushed is all there is
            break
        data = d.unused_data  # another gzip member follows
    return b"".join(out)


class Recording:
    def __init__(self, path: Path, header: dict[str, Any], lines: list[bytes]) -> None:
        self.path = path
        self.header = header
        self._lines = lines
        self.times: list[datetime] = []
        self._full: list[int] = []  # indices of full frames, ascending
        for i, line in enumerate(lines):
            m = _PREFIX.match(line)
            if m is not None:
                t, is_delta = m.group(1).decode(), m.group(2) is not None
            else:  # not written by us byte for byte: fall back to parsing the line
                frame = self._decode(i)
                t, is_delta = frame["t"], bool(frame.get("delta"))
            self.times.append(datetime.fromisoformat(t))
            if not is_delta:
                self._full.append(i)
        if not self._full or self._full[0] != 0:
            raise RecordingError(f"{path}: damaged recording (first frame is not a full frame)")
        names = header.get("fields")
        self._names = names if isinstance(names, dict) else None
        self._at: tuple[int, Compact] | None = None  # the last frame rebuilt
        self._snapshots: OrderedDict[int, Snapshot] = OrderedDict()

    def __len__(self) -> int:
        return len(self._lines)

    @property
    def server(self) -> dict[str, Any]:
        return dict(self.header.get("server") or {})

    def _decode(self, i: int) -> Compact:
        try:
            frame = json.loads(self._lines[i])
        except ValueError:
            raise RecordingError(f"{self.path}: frame {i + 1} is damaged") from None
        if not isinstance(frame, dict) or "t" not in frame:
            raise RecordingError(f"{self.path}: frame {i + 1} is not a frame")
        return frame

    def frame(self, i: int) -> Compact:
        """Frame `i` as a full compact dict."""
        if not 0 <= i < len(self):
            raise IndexError(i)
        full = self._full[bisect.bisect_right(self._full, i) - 1]
        if self._at is not None and full <= self._at[0] <= i:
            start, state = self._at  # stepping forward: continue from here
        else:
            start, state = full, self._decode(full)
        for j in range(start + 1, i + 1):
            state = apply(state, self._decode(j))
        self._at = (i, state)
        return state

    def snapshot(self, i: int) -> Snapshot:
        snap = self._snapshots.get(i)
        if snap is None:
            snap = from_compact(self.frame(i), self._names)
            self._snapshots[i] = snap
            if len(self._snapshots) > _SNAPSHOT_CACHE:
                self._snapshots.popitem(last=False)
        return snap

    def index_at(self, when: datetime) -> int:
        """The last frame taken at or before `when` (the first, if `when` is earlier)."""
        return max(0, bisect.bisect_right(self.times, when) - 1)

    def median_interval(self) -> float:
        gaps = sorted(
            (b - a).total_seconds() for a, b in zip(self.times, self.times[1:], strict=False)
        )
        return gaps[len(gaps) // 2] if gaps else 0.0


def load_recording(path: Path) -> Recording:
    """Read a recording; RecordingError (one line) if it is missing or not a recording."""
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise RecordingError(f"{path}: no such file") from None
    except OSError as exc:
        raise RecordingError(f"cannot read {path}: {exc.strerror or exc}") from None
    if not data.startswith(b"\x1f\x8b"):
        raise RecordingError(f"{path}: not a pgtop recording (not gzip-compressed)")
    lines = _decompress(data).split(b"\n")
    lines.pop()  # after the last newline: empty, or a frame still being written
    if not lines:
        raise RecordingError(f"{path}: empty recording (nothing recorded yet?)")
    try:
        header = json.loads(lines[0])
    except ValueError:
        header = None
    if not isinstance(header, dict) or header.get("format") != FORMAT:
        raise RecordingError(f"{path}: not a pgtop recording (expected {FORMAT})")
    if len(lines) < 2:
        raise RecordingError(f"{path}: the recording has no frames yet")
    return Recording(path, header, lines[1:])
