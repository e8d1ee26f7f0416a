"""PgBouncer admin commands (PAUSE, RESUME, DISABLE, ENABLE, RECONNECT, KILL, KILL_CLIENT).

Each command runs on a connection of its own, opened for it and closed after it, never on
the collector's: PAUSE answers only once every server connection of the database is
released, which can take as long as the longest transaction (a session, in session
pooling), and the polls must go on meanwhile. Each has a deadline; a console that does
not answer in time is left without a cancel request, because PgBouncer treats a cancel on
the admin console as "resume everything" (admin_handle_cancel → full_resume), which would
undo every pause, not just this one. A PAUSE past its deadline stays in effect (the
database is marked paused at once; PgBouncer only waits to say so).

The console is not SQL. Its parser (src/admin.c) takes `WORD [WORD] [;]`, where a word is
`[0-9a-z_]+` or a double-quoted string with `""` for a quote, copied into a 64-byte
buffer. `console_word` quotes a name that way and refuses what the parser cannot take
(too long, NUL or control characters) instead of sending something else.

Nothing here holds state; results are values (`CommandResult`).
"""

from __future__ import annotations

import asyncio
import contextlib
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

from pgtop.collect.pgbouncer import describe_conninfo, describe_pooler_error

Command = Literal["PAUSE", "RESUME", "DISABLE", "ENABLE", "RECONNECT", "KILL", "KILL_CLIENT"]
# "done": the console said so. "refused": it answered with an error (its message in
# `detail`). "not sent": no connection, nothing went out. "unknown": sent, no answer before
# the deadline (a PAUSE then stays in effect; PgBouncer waits for servers to be released).
Outcome = Literal["done", "refused", "not sent", "unknown"]

ARG_BYTES = 64  # admin.c: char arg[64], the quoted word included, NUL last
KILL_CLIENT_SINCE = (1, 24)
DEADLINE = 5.0  # seconds for the console's answer; keys never wait on it (a worker does)


class BadConsoleName(ValueError):
    """A name the admin console's parser cannot take as one word."""


def console_word(name: str) -> str:
    """`name` as one word of the admin console: double-quoted, `"` doubled."""
    if not name:
        raise BadConsoleName("an empty name")
    if any(ord(ch) < 32 or ord(ch) == 127 for ch in name):
        raise BadConsoleName(f"{name!r} has control characters the console cannot take")
    word = '"' + name.replace('"', '""') + '"'
    if len(word.encode()) >= ARG_BYTES:
        raise BadConsoleName(
            f"{name!r} is too long for the admin console ({ARG_BYTES - 3} bytes at most)"
        )
    return word


def version_tuple(version: str) -> tuple[int, ...]:
    """ "1.24.1" → (1, 24, 1); () when the version cannot be read."""
    match = re.match(r"\s*(?:PgBouncer\s+)?(\d+(?:\.\d+)*)", version)
    return tuple(int(p) for p in match.group(1).split(".")) if match else ()


def kills_one_client(version: str) -> bool:
    """KILL_CLIENT exists on this PgBouncer (1.24+)."""
    return version_tuple(version) >= KILL_CLIENT_SINCE


def command_text(command: Command, target: str | int) -> str:
    """The console statement; a database name is quoted, a client id is digits."""
    if command == "KILL_CLIENT":
        if not isinstance(target, int) or target < 0:
            raise BadConsoleName(f"{target!r} is not a client id")
        return f"KILL_CLIENT {target}"
    return f"{command} {console_word(str(target))}"


@dataclass(frozen=True, slots=True)
class CommandResult:
    """What one PgBouncer process answered to one command."""

    process: str  # host:port of the console
    kind: str  # the command, e.g. "PAUSE"
    target: str  # the database, or "client <id>"
    outcome: Outcome
    detail: str  # PgBouncer's message, or why nothing was sent

    @property
    def line(self) -> str:
        return f"{self.kind} {self.target} on {self.process}: {self.outcome}" + (
            f" ({self.detail})" if self.detail else ""
        )


def _connection_class() -> type[Any]:
    import psycopg

    class ConsoleConnection(psycopg.AsyncConnection[Any]):
        """psycopg cancels a query whose task is cancelled; on the admin console a cancel
        resumes every paused database, so this connection never sends one."""

        async def _try_cancel(self, *, timeout: float = 5.0) -> None:
            del timeout

    return ConsoleConnection


async def run_command(
    conninfo: str,
    command: Command,
    target: str | int,
    *,
    connect_timeout: float = 5.0,
    deadline: float = DEADLINE,
) -> CommandResult:
    """Send `command` to one console on a fresh connection; never raises."""
    import psycopg

    process = describe_conninfo(conninfo)
    shown = f"client {target}" if command == "KILL_CLIENT" else str(target)

    def result(outcome: Outcome, detail: str = "") -> CommandResult:
        return CommandResult(process, command, shown, outcome, detail)

    try:
        text = command_text(command, target)
    except BadConsoleName as exc:
        return result("not sent", str(exc))
    try:
        conn = await asyncio.wait_for(
            _connection_class().connect(
                conninfo,
                autocommit=True,  # the console has no transactions
                cursor_factory=psycopg.AsyncClientCursor,  # simple query protocol only
                connect_timeout=max(1, round(connect_timeout)),
            ),
            connect_timeout + 1,
        )
    except Exception as exc:
        return result("not sent", describe_pooler_error(exc, process, conninfo).message)
    try:
        async with conn.cursor() as cur:
            await asyncio.wait_for(cur.execute(text), deadline)
    except TimeoutError:
        if command == "PAUSE":
            return result(
                "unknown",
                f"no answer in {deadline:g} s: PgBouncer waits for the database's server "
                "connections to be released; the pause stays in effect",
            )
        return result("unknown", f"no answer in {deadline:g} s")
    except psycopg.Error as exc:
        message = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        return result("refused", message)
    except Exception as exc:
        return result("refused", describe_pooler_error(exc, process, conninfo).message)
    finally:
        with contextlib.suppress(Exception):
            await asyncio.wait_for(conn.close(), 2)
    return result("done")


async def run_everywhere(
    conninfos: Sequence[str],
    command: Command,
    target: str | int,
    *,
    connect_timeout: float = 5.0,
    deadline: float = DEADLINE,
) -> list[CommandResult]:
    """The same command on every PgBouncer process of the server, at once."""
    return list(
        await asyncio.gather(
            *(
                run_command(c, command, target, connect_timeout=connect_timeout, deadline=deadline)
                for c in conninfos
            )
        )
    )


def summary(results: Sequence[CommandResult]) -> tuple[str, bool]:
    """One line for the user ("PAUSE shop: done", "PAUSE shop: 2 of 2 processes took it")
    and whether every process took it."""
    if not results:
        return "nothing sent", False
    first = results[0]
    took = sum(r.outcome == "done" for r in results)
    head = f"{first.kind} {first.target}"
    trouble = next((r for r in results if r.outcome != "done"), None)
    if len(results) == 1:
        text = f"{head}: {first.outcome}" + (f" — {first.detail}" if first.detail else "")
        return text, took == 1
    text = f"{head}: {took} of {len(results)} PgBouncer processes took it"
    if trouble is not None:
        text += f" — {trouble.process} {trouble.outcome}: {trouble.detail}"
    return text, took == len(results)
