"""Asking for a password as psql does: only on a terminal, only when the server asked.

No state: the password that worked goes back to the caller, which keeps it for reconnects.
"""

from __future__ import annotations

import sys
from collections.abc import Awaitable, Callable
from typing import TypeVar

from pgtop.collect.errors import CollectError

T = TypeVar("T")


class NoPassword(Exception):
    """The user gave no password at the prompt (end of input or ctrl+c)."""


def can_prompt() -> bool:
    """A person is there to answer: never prompt a pipe, a cron job or `--once | jq`."""
    return sys.stdin.isatty() and sys.stdout.isatty()


def ask_password(label: str) -> str:
    """Read a password without echo (getpass reads and writes /dev/tty)."""
    import getpass

    try:
        return getpass.getpass(f"Password for {label}: ")
    except (EOFError, KeyboardInterrupt):
        print(file=sys.stderr)
        raise NoPassword("no password given") from None


async def with_password_prompt(
    connect: Callable[[str | None], Awaitable[T]], password: str | None, label: str
) -> tuple[T, str | None]:
    """Run `connect(password)`; if the server asked for a password none gave, ask once.

    Returns the result and the password that worked, to keep for reconnects.
    """
    try:
        return await connect(password), password
    except CollectError as exc:
        if not exc.needs_password or not can_prompt():
            raise
    password = ask_password(label)
    return await connect(password), password
