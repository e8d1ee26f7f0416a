"""Cancel and terminate, guarded so a reused pid is never signalled.

Every signal names the backend by pid *and* backend_start, checked in the same statement
that sends it, so a session that ended (and whose pid went to someone else) since the
screen was drawn is reported as gone instead of hit. pgtop never signals its own backends.
Actions run on their own connection, so a slow poll never delays them, and each has a
deadline: a server that does not answer in time gets nothing it could act on later.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Literal

from pgtop.collect.connection import close_connection, open_connection
from pgtop.collect.errors import CollectError, describe_postgres_error
from pgtop.model.records import Session
from pgtop.target import ConnSettings

if TYPE_CHECKING:
    import asyncpg

Kind = Literal["cancel", "terminate"]
# "not sent": certainly not signalled. "unknown": no answer in time, so it may have been
# signalled; it cannot be later (the statement carries a deadline in the server's clock).
Outcome = Literal["done", "gone", "refused", "not sent", "unknown"]

_SIGNAL_SQL = {
    "cancel": "pg_cancel_backend",
    "terminate": "pg_terminate_backend",
}
# $4 is a deadline in the server's clock: a statement that sat in a stopped backend's
# socket until after the user stopped waiting finds it passed and signals nobody.
_GUARDED = """
WITH now AS (SELECT clock_timestamp() < $4 AS in_time)
SELECT now.in_time,
       (SELECT {fn}(a.pid)
          FROM pg_stat_activity AS a
         WHERE a.pid = $1
           AND a.backend_start = $2
           AND a.pid <> pg_backend_pid()
           AND NOT (a.pid = ANY($3::int[]))
           AND now.in_time) AS signalled
  FROM now
"""
_SERVER_CLOCK = "SELECT clock_timestamp()"


def guarded_sql(kind: Kind) -> str:
    """The signal statement: $1 pid, $2 backend_start, $3 pids never to signal, $4 the
    deadline. One row: `in_time`, and `signalled` (NULL: no such session, nothing sent)."""
    return _GUARDED.format(fn=_SIGNAL_SQL[kind])


@dataclass(frozen=True, slots=True)
class ActionResult:
    pid: int
    backend_start: datetime | None
    kind: Kind
    outcome: Outcome
    detail: str  # what to tell the user, one line

    @property
    def line(self) -> str:
        return f"{self.kind} {self.pid}: {self.outcome}" + (
            f" ({self.detail})" if self.detail else ""
        )


class ActionRunner:
    """Runs guarded cancel/terminate on a connection of its own, opened on first use.

    Each signal waits at most `answer_timeout` for the server. A connection that did not
    answer is dropped, and nothing waits in line behind a pending signal: a second call
    meanwhile is refused at once rather than sent when the user no longer expects it.
    """

    def __init__(
        self,
        settings: ConnSettings,
        *,
        password: str | None = None,
        connect_timeout: float = 5.0,
    ) -> None:
        self.settings = settings
        self._password = password
        self.connect_timeout = connect_timeout
        self.answer_timeout = max(5.0, connect_timeout)
        self._conn: asyncpg.Connection | None = None
        self._lock = asyncio.Lock()
        self.pid: int | None = None

    @property
    def busy(self) -> bool:
        """A signal (or the connection for one) still waits for the server."""
        return self._lock.locked()

    async def _connection(self) -> asyncpg.Connection:
        if self._conn is not None and not self._conn.is_closed():
            return self._conn
        self._conn = await open_connection(
            self.settings,
            password=self._password,
            timeout=self.connect_timeout,
            server_settings={"statement_timeout": "5000"},
        )
        self.pid = self._conn.get_server_pid()
        return self._conn

    async def connect(self) -> int:
        """Open the connection now (its pid must be hidden from the sessions list)."""
        if self.busy:
            raise CollectError("another signal is still waiting for an answer", "busy")
        async with self._lock:
            await self._connection()
        assert self.pid is not None
        return self.pid

    def _drop_connection(self) -> None:
        """Close the socket without a goodbye: whatever the stuck backend still holds is
        guarded by its deadline, and the next signal gets a fresh connection."""
        conn, self._conn = self._conn, None
        self.pid = None
        if conn is not None:
            conn.terminate()

    async def signal(
        self, kind: Kind, sessions: Iterable[Session], protected: Iterable[int] = ()
    ) -> list[ActionResult]:
        """Signal each session if it still is the one that was shown; never raises."""
        sessions = list(sessions)
        if self.busy:
            return [
                ActionResult(
                    s.pid, s.backend_start, kind, "not sent", "another signal is still pending"
                )
                for s in sessions
            ]
        keep_off = list(protected)
        results: list[ActionResult] = []
        stalled: str | None = None
        async with self._lock:
            for s in sessions:
                if stalled is not None:  # no answer or no connection: the rest waits no more
                    results.append(ActionResult(s.pid, s.backend_start, kind, "not sent", stalled))
                    continue
                if s.pid in keep_off:
                    results.append(
                        ActionResult(
                            s.pid, s.backend_start, kind, "refused", "pgtop's own connection"
                        )
                    )
                    continue
                results.append(await self._signal_one(kind, s, keep_off))
                if results[-1].outcome in ("not sent", "unknown"):
                    stalled = results[-1].detail
        return results

    async def _signal_one(self, kind: Kind, s: Session, keep_off: list[int]) -> ActionResult:
        import asyncpg

        def result(outcome: Outcome, detail: str = "") -> ActionResult:
            return ActionResult(s.pid, s.backend_start, kind, outcome, detail)

        timeout = self.answer_timeout
        no_answer = f"no answer in {timeout:g} s"
        sent = False
        try:
            conn = await self._connection()
            # The server's clock now: the deadline the signal must still be in time for.
            server_now = await conn.fetchval(_SERVER_CLOCK, timeout=timeout)
            sent = True
            row = await conn.fetchrow(
                guarded_sql(kind),
                s.pid,
                s.backend_start,
                keep_off,
                server_now + timedelta(seconds=timeout),
                timeout=timeout,
            )
        except TimeoutError:
            self._drop_connection()
            if sent:  # it may have run before the answer got lost; it cannot run later
                return result("unknown", f"{no_answer}; it cannot take effect later")
            return result("not sent", no_answer)
        except CollectError as exc:  # no connection: nothing went out
            return result("not sent", exc.message)
        except asyncpg.PostgresError as exc:
            text = str(exc).strip()
            return result("refused", text.splitlines()[0] if text else type(exc).__name__)
        except Exception as exc:
            self._drop_connection()
            return result("refused", describe_postgres_error(exc, self.settings.describe()).message)
        if row is None or not row["in_time"]:
            return result("not sent", f"the server answered after {timeout:g} s")
        if row["signalled"] is None:
            return result("gone", "session ended or pid reused; nothing signalled")
        if row["signalled"]:
            return result("done")
        return result("gone", "the server found no such backend")

    async def close(self) -> None:
        conn, self._conn = self._conn, None
        await close_connection(conn)
