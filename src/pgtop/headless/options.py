"""The headless recorder's settings, parsed from their command-line spelling (`24h`,
`1GB`, `127.0.0.1:9187`). Pure: ValueError with a one-line reason on bad input. The
immutable `HeadlessOptions` is built by pgtop.cli and read by the runner.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

DEFAULT_METRICS_HOST = "127.0.0.1"  # loopback unless told otherwise: metrics name queries' users

_DURATION = re.compile(r"^(\d+(?:\.\d+)?)\s*(s|m|min|h|d|w)?$")
_DURATION_UNITS = {None: 3600, "s": 1, "m": 60, "min": 60, "h": 3600, "d": 86400, "w": 604800}
_SIZE = re.compile(r"^(\d+(?:\.\d+)?)\s*([kmgt]i?b?|b)?$")
_SIZE_UNITS = {"": 1, "b": 1, "k": 1000, "m": 1000**2, "g": 1000**3, "t": 1000**4}


def parse_duration(text: str) -> float:
    """Seconds in `24h`, `7d`, `90m`, `2w` (a bare number is hours)."""
    m = _DURATION.match(text.strip().lower())
    if m is None or float(m.group(1)) <= 0:
        raise ValueError(f"not a duration: {text!r} (try 24h, 7d or 90m)")
    return float(m.group(1)) * _DURATION_UNITS[m.group(2)]


def parse_size(text: str) -> int:
    """Bytes in `1GB`, `500MB`, `2GiB`, `1.5g` (GB = 1000³, GiB = 1024³)."""
    m = _SIZE.match(text.strip().lower())
    if m is None or float(m.group(1)) <= 0:
        raise ValueError(f"not a size: {text!r} (try 500MB or 2GB)")
    unit = m.group(2) or ""
    factor = 1024 ** "kmgt".index(unit[0]) * 1024 if "i" in unit else _SIZE_UNITS[unit[:1]]
    return int(float(m.group(1)) * factor)


def parse_listen(text: str) -> tuple[str, int]:
    """(host, port) of `HOST:PORT`, `[::1]:PORT` or a bare `PORT` (loopback)."""
    raw = text.strip()
    host, _, port = raw.rpartition(":")
    if not host and not port.isdigit():
        raise ValueError(f"--metrics-listen: expected HOST:PORT or PORT, got {text!r}")
    host = host.strip("[]") or DEFAULT_METRICS_HOST
    if not port.isdigit() or not 0 < int(port) < 65536:
        raise ValueError(f"--metrics-listen: invalid port in {text!r} (1 to 65535)")
    return host, int(port)


@dataclass(frozen=True, slots=True)
class HeadlessOptions:
    record_dir: Path | None = None  # None: metrics only, nothing recorded
    retain_seconds: float | None = None  # delete hour files older than this
    retain_bytes: int | None = None  # and the oldest while the directory holds more
    metrics_listen: tuple[str, int] | None = None  # serve OpenMetrics here
