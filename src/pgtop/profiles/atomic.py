"""Writing the profiles file atomically, with mode 0600, in private directories."""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path

from pgtop.profiles.record import ProfileError


def atomic_write(path: Path, text: str) -> None:
    """Replace ``path`` with ``text`` via a temporary file; `ProfileError` on failure."""
    # Write through a symlink (dotfile managers link this file) rather than replacing it.
    target = Path(os.path.realpath(path))
    try:
        _make_private_dirs(target.parent)
        fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
    except OSError as exc:
        raise ProfileError(f"{path}: cannot write profiles file: {exc.strerror}") from None
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, 0o600)  # mkstemp already uses 0600; say so rather than rely on it
        os.replace(tmp, target)
    except BaseException as exc:  # including KeyboardInterrupt: never leave the temp file
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        if isinstance(exc, OSError):
            raise ProfileError(f"{path}: cannot write profiles file: {exc.strerror}") from None
        raise
    # Make the rename itself durable; not every platform lets a directory be opened.
    with contextlib.suppress(OSError):
        dir_fd = os.open(target.parent, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)


def _make_private_dirs(directory: Path) -> None:
    # Path.mkdir(parents=True) ignores `mode` for the parents; create each level ourselves,
    # and leave the mode of directories that already exist (e.g. ~/.config) alone.
    missing: list[Path] = []
    while not directory.exists():
        missing.append(directory)
        directory = directory.parent
    for level in reversed(missing):
        with contextlib.suppress(FileExistsError):
            os.mkdir(level, 0o700)
