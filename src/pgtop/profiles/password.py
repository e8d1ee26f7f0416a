"""``password_command``: run the user's shell command and take its output as the password."""

from __future__ import annotations

import subprocess

from pgtop.profiles.record import ProfileError
from pgtop.target import Target


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


def apply_password_command(target: Target, timeout: float = 10.0) -> Target:
    """``target`` with the password from its password_command, unless it already has one."""
    if not target.password_command or target.postgres.get("password") is not None:
        return target
    try:
        password = run_password_command(target.password_command, timeout)
    except ProfileError as exc:
        where = f"profile {target.profile_name!r}: " if target.profile_name else ""
        raise ProfileError(f"{where}{exc}") from None
    return target.replace(postgres=target.postgres.with_overrides(password=password))
