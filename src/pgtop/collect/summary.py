"""The cheap summary of a server in the fleet's background: one statement per tick.

`SummaryCollector` shares a `PostgresCollector`'s connection (so a server that moves to
and from the screen keeps one backend) and reads collect/queries/summary.sql: counts and
ages the server computes, never the session list. It never writes the collector's state
beyond connecting it; the fleet member's worker is its only caller.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any

from pgtop.collect.errors import CollectError, describe_postgres_error
from pgtop.collect.postgres import load_query
from pgtop.model.server_summary import ServerSummary, summary_of_snapshot

if TYPE_CHECKING:
    from pgtop.collect.postgres import PostgresCollector

__all__ = ["ServerSummary", "SummaryCollector", "summary_from_row", "summary_of_snapshot"]


def summary_from_row(row: Any) -> ServerSummary:
    return ServerSummary(
        version=str(row["version"]).split()[0],
        at=row["now"],
        max_connections=row["max_connections"],
        superuser_reserved=row["superuser_reserved"],
        reserved=row["reserved"],
        client_connections=row["client_connections"],
        active=row["active"],
        idle_in_transaction=row["idle_in_transaction"],
        waiting_on_lock=row["waiting_on_lock"],
        oldest_xact_s=row["oldest_xact_s"],
        transactions=int(row["transactions"]),
        in_recovery=bool(row["in_recovery"]),
    )


class SummaryCollector:
    """One summary statement per poll on `postgres`'s connection (connecting if needed)."""

    def __init__(self, postgres: PostgresCollector) -> None:
        self.postgres = postgres
        self.statements = 0  # statements sent by poll(), for the fleet benchmark

    async def poll(self) -> ServerSummary:
        pg = self.postgres
        if not pg.connected:
            await pg.connect()
        conn = pg.connection
        assert conn is not None
        try:
            self.statements += 1
            row = await asyncio.wait_for(conn.fetchrow(load_query("summary")), pg.poll_timeout)
        except TimeoutError:
            pg.drop_connection()  # may be stuck mid-protocol: the next poll reconnects
            message = f"{pg.address}: no answer in {pg.poll_timeout:g} s"
            raise CollectError(message, "timeout") from None
        except Exception as exc:
            if conn.is_closed():
                pg.drop_connection()
            raise describe_postgres_error(exc, pg.address) from None
        return summary_from_row(row)
