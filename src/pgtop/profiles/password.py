"""``password_command``: run the user's shell command and take its output as the password."""

from __future__ import annotations

import os
import stat
import subprocess
from pathlib import Path

from pgtop.profiles.errors import ProfileError
from pgtop.profiles.paths import profiles_path
from pgtop.target import Target

_OTHERS_WRITE = stat.S_IWGRP | stat.S_IWOTH


def run_password_command(command: str, timeout: float = 10.0) -> str:
    """Run ``command`` in the shell and return its stdout minus the trailing newline.

    stdin and stderr stay the terminal's so unlock prompts (gpg, pass, op) work; run it
    before the UI takes the screen. Raises `ProfileError` with a one-line message that never
    quotes the output, for a failure, a timeout, empty output or more than one line.
    """
    try:
        result = subprocess.run(
            command, shell=True, stdout=subprocess.PIPE, timeout=timeout, check=False
        )
    except subprocess.TimeoutExpired:
        # `from None`: the TimeoutExpired carries the partial output.
        raise ProfileError(f"password_command did not finish within {timeout:g} s") from None
    except OSError as exc:
        raise ProfileError(f"password_command could not be started: {exc.strerror}") from None
    if result.returncode < 0:
        raise ProfileError(f"password_command was killed by signal {-result.returncode}")
    if result.returncode != 0:
        hint = " (command not found)" if result.returncode == 127 else ""
        raise ProfileError(f"password_command exited with status {result.returncode}{hint}")
    try:
        text = result.stdout.decode("utf-8")
    except UnicodeDecodeError:
        raise ProfileError("password_command printed something that is not UTF-8") from None
    text = text.removesuffix("\n").removesuffix("\r")
    if not text:
        raise ProfileError("password_command printed nothing")
    if "\n" in text or "\r" in text:
        # e.g. `pass show` prints metadata after the password; never guess which line.
        raise ProfileError(
            "password_command printed more than one line; make it print only the password"
            " (e.g. append | head -n1)"
        )
    return text


def check_profiles_file_is_ours(path: Path) -> None:
    """Refuse (`ProfileError`, one line with the fix) a profiles file that someone else could
    have written: not owned by us (or root), writable by group/others, or in a directory
    others may write to. As ssh does for its config: whoever can edit it runs commands as us,
    or sends the password a command prints to a server of their choosing."""
    if os.name != "posix":
        return
    real = Path(os.path.realpath(path))
    try:
        file_info, dir_info = real.stat(), real.parent.stat()
    except OSError:
        return  # no file: the command did not come from one
    refuse = f"refusing to run password_command from {path}:"
    owners = {os.geteuid(), 0}
    if file_info.st_uid not in owners:
        raise ProfileError(f"{refuse} it belongs to another user — fix: chown $USER {real}")
    if file_info.st_mode & _OTHERS_WRITE:
        raise ProfileError(f"{refuse} others may write to it — fix: chmod go-w {real}")
    if dir_info.st_uid not in owners:
        raise ProfileError(
            f"{refuse} its directory belongs to another user — fix: move it to a directory of yours"
        )
    if dir_info.st_mode & _OTHERS_WRITE and not dir_info.st_mode & stat.S_ISVTX:
        raise ProfileError(
            f"{refuse} others may write to its directory — fix: chmod go-w {real.parent}"
        )


def apply_password_command(target: Target, timeout: float = 10.0) -> Target:
    """``target`` with the password from its password_command, unless it already has one.
    With a profile, the profiles file must be safe (check_profiles_file_is_ours) first."""
    if not target.password_command or target.postgres.get("password") is not None:
        return target
    try:
        if target.profile_name is not None:
            check_profiles_file_is_ours(profiles_path())
        password = run_password_command(target.password_command, timeout)
    except ProfileError as exc:
        where = f"profile {target.profile_name!r}: " if target.profile_name else ""
        raise ProfileError(f"{where}{exc}") from None
    return target.replace(postgres=target.postgres.with_overrides(password=password))
