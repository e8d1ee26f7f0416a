"""Cancel and terminate, guarded so a reused pid is never signalled.

Every signal names the backend by pid *and* backend_start, checked in the same statement
that sends it, so a session that ended (and whose pid went to someone else) since the
screen was drawn is reported as gone instead of hit. pgtop never signals its own backends.
Actions run on their own connection, so a slow poll never delays them.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Literal

from pgtop.collect.connection import close_connection, open_connection
from pgtop.collect.errors import CollectError, describe_postgres_error
from pgtop.model.records import Session
from pgtop.target import ConnSettings

if TYPE_CHECKING:
    import asyncpg

Kind = Literal["cancel", "terminate"]
Outcome = Literal["done", "gone", "refused"]

_SIGNAL_SQL = {
    "cancel": "pg_cancel_backend",
    "terminate": "pg_terminate_backend",
}
_GUARDED = """
SELECT {fn}(a.pid)
  FROM pg_stat_activity AS a
 WHERE a.pid = $1
   AND a.backend_start = $2
   AND a.pid <> pg_backend_pid()
   AND NOT (a.pid = ANY($3::int[]))
"""


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
    """Runs guarded cancel/terminate on a connection of its own, opened on first use."""

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
        self._conn: asyncpg.Connection | None = None
        self._lock = asyncio.Lock()
        self.pid: int | None = None

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
        async with self._lock:
            await self._connection()
        assert self.pid is not None
        return self.pid

    async def signal(
        self, kind: Kind, sessions: Iterable[Session], protected: Iterable[int] = ()
    ) -> list[ActionResult]:
        """Signal each session if it still is the one that was shown; never raises."""
        import asyncpg

        sql = _GUARDED.format(fn=_SIGNAL_SQL[kind])
        keep_off = list(protected)
        results: list[ActionResult] = []
        async with self._lock:
            for s in sessions:
                if s.pid in keep_off:
                    results.append(
                        ActionResult(
                            s.pid, s.backend_start, kind, "refused", "pgtop's own connection"
                        )
                    )
                    continue
                try:
                    conn = await self._connection()
                    row = await conn.fetchrow(sql, s.pid, s.backend_start, keep_off)
                except CollectError as exc:
                    results.append(
                        ActionResult(s.pid, s.backend_start, kind, "refused", exc.message)
                    )
                    continue
                except asyncpg.PostgresError as exc:
                    detail = (
                        str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
                    )
                    results.append(ActionResult(s.pid, s.backend_start, kind, "refused", detail))
                    continue
                except Exception as exc:
                    err = describe_postgres_error(exc, self.settings.describe())
                    results.append(
                        ActionResult(s.pid, s.backend_start, kind, "refused", err.message)
                    )
                    continue
                if row is None:
                    results.append(
                        ActionResult(
                            s.pid,
                            s.backend_start,
                            kind,
                            "gone",
                            "session ended or pid reused; nothing signalled",
                        )
                    )
                elif row[0]:
                    results.append(ActionResult(s.pid, s.backend_start, kind, "done", ""))
                else:
                    results.append(
                        ActionResult(
                            s.pid, s.backend_start, kind, "gone", "the server found no such backend"
                        )
                    )
        return results

    async def close(self) -> None:
        conn, self._conn = self._conn, None
        await close_connection(conn)
