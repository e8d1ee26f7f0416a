"""Files only their owner may read (recordings, the audit log), opened without following
a symlink someone else may have planted, and appends that leave whole lines or nothing.
No state of its own: each file belongs to the caller that opened it (collect/record.py,
audit.py).
"""

from __future__ import annotations

import contextlib
import errno
import os
import stat
from pathlib import Path

PRIVATE = 0o600
# O_NONBLOCK: a FIFO planted at the path fails at once (ENXIO) instead of hanging the open.
_NO_SURPRISES = os.O_NOFOLLOW | os.O_CLOEXEC | os.O_NONBLOCK


class PrivateFileError(OSError):
    """The path is not a file we may safely write; the message is one line for the user."""


def _refusal(path: Path, exc: OSError) -> PrivateFileError | OSError:
    if exc.errno in (errno.ELOOP, errno.EMLINK) or (
        exc.errno == errno.EEXIST and path.is_symlink()
    ):
        return PrivateFileError(f"{path} is a symbolic link; pgtop will not follow it")
    return exc


def _check_regular_and_ours(fd: int, path: Path) -> None:
    info = os.fstat(fd)
    if not stat.S_ISREG(info.st_mode):
        raise PrivateFileError(f"{path} is not a regular file")
    if info.st_uid != os.geteuid():
        raise PrivateFileError(f"{path} belongs to another user; pgtop will not write to it")


def create_private(path: Path) -> int:
    """A new file at `path`, mode 0600, opened for writing. An existing file or symlink is
    refused (O_EXCL), so nothing is truncated and no planted link is followed."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | _NO_SURPRISES, PRIVATE)
    except OSError as exc:
        if exc.errno == errno.EEXIST and not path.is_symlink():
            raise PrivateFileError(
                f"{path} already exists; pgtop will not overwrite it (choose another name)"
            ) from None
        raise _refusal(path, exc) from None
    os.set_blocking(fd, True)
    return fd


def open_private_append(path: Path) -> int:
    """`path` opened for appending (created 0600), refusing a symlink, a non-file, or a
    file owned by someone else. A file we own that others can read is made 0600."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | _NO_SURPRISES, PRIVATE)
    except OSError as exc:
        raise _refusal(path, exc) from None
    try:
        _check_regular_and_ours(fd, path)
        if stat.S_IMODE(os.fstat(fd).st_mode) & 0o077:
            os.fchmod(fd, PRIVATE)
        os.set_blocking(fd, True)
    except BaseException:
        os.close(fd)
        raise
    return fd


def append_whole(fd: int, data: bytes) -> None:
    """Append `data` to an O_APPEND fd entirely or not at all: after a short write (a full
    disk, a file size limit) the part written is cut off again, then the error is raised,
    so the next append never lands glued onto half a line."""
    start: int | None = None
    done = 0
    try:
        while done < len(data):
            n = os.write(fd, data[done:])
            if start is None:  # O_APPEND: our bytes end where the offset now is
                start = os.lseek(fd, 0, os.SEEK_CUR) - n
            if n == 0:
                raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
            done += n
    except OSError:
        if start is not None:
            with contextlib.suppress(OSError):
                os.ftruncate(fd, start)
        raise
