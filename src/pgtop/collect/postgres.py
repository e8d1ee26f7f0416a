"""The PostgreSQL collector: one asyncpg connection, two round trips per poll."""

from __future__ import annotations

import json
import time
from datetime import datetime, timedelta
from functools import cache
from itertools import compress
from operator import attrgetter, itemgetter, not_
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pgtop.collect.blockers import BlockerCache, Reusable
from pgtop.collect.connection import close_connection, open_connection
from pgtop.collect.errors import CollectError, describe_postgres_error, pooler_not_postgres
from pgtop.model.changes import note_changes
from pgtop.model.derive import ClientSummary, limit_usage, remember_summary
from pgtop.model.records import (
    DatabaseStat,
    Limits,
    Lock,
    ServerInfo,
    Session,
    Setting,
    Snapshot,
    StateCounts,
)
from pgtop.model.tally import SessionTally
from pgtop.target import ConnSettings

if TYPE_CHECKING:
    import asyncpg


STATEMENT_TIMEOUT_MS = 3000
LOCK_TIMEOUT_MS = 1000
SLOW_FACTS_EVERY = 30.0  # seconds between refreshes of version, settings, role limits
# An idle session that changed this shortly before the last poll read it is sent again:
# its state_change is taken a moment before the backend publishes it.
IDLE_MARGIN = timedelta(seconds=1)
_SESSION_OF_ENTRY = itemgetter(1)  # the session cache's entries are (row, session)
_WAITS = attrgetter("waits_on_lock")

WATCHED_SETTINGS = (
    "max_connections",
    "superuser_reserved_connections",
    "reserved_connections",
    "track_activity_query_size",
    "idle_in_transaction_session_timeout",
    "statement_timeout",
    "lock_timeout",
    "idle_session_timeout",
    "tcp_keepalives_idle",
    "tcp_keepalives_interval",
    "tcp_keepalives_count",
    "client_connection_check_interval",
)


# A plain path, not importlib.resources: that costs ~5 ms of start-up, and pgtop is never
# imported from a zip.
QUERIES = Path(__file__).parent / "queries"


@cache
def load_query(name: str) -> str:
    return (QUERIES / f"{name}.sql").read_text()


def sessions_query_for(version_num: int) -> str:
    """The pg_stat_activity query that fits this server version."""
    if version_num < 100000:
        raise CollectError(
            f"PostgreSQL {version_num // 10000}.{version_num // 100 % 100} is too old: "
            "pgtop needs 10 or newer",
            "usage",
        )
    sql = load_query("sessions")
    return sql if version_num >= 140000 else sql.replace("a.query_id", "NULL::bigint")


class _SlowFacts:
    """Server facts refreshed every SLOW_FACTS_EVERY seconds."""

    def __init__(self, row: Any, fetched_at: float, sources: dict[str, str]) -> None:
        self.version: str = row["version"].split()[0]
        self.version_num: int = row["version_num"]
        self.start_time: datetime | None = row["start_time"]
        self.current_user: str = row["current_user"]
        self.own_backend_start: datetime | None = row["own_backend_start"]
        self.data_directory: str | None = row["data_directory"]
        self.can_see_all: bool = bool(row["can_see_all"])
        self.role_limits: dict[str, int] = {n: int(v) for n, v in json.loads(row["role_limits"])}
        self.settings: tuple[Setting, ...] = tuple(
            Setting(
                name=n,
                value=v,
                unit=u,
                source=sources.get(n, src) if src == "session" else src,
                pending_restart=bool(pr),
            )
            for n, v, u, src, pr in json.loads(row["settings"])
        )
        self.fetched_at = fetched_at

    def setting_int(self, name: str, default: int | None = None) -> int | None:
        s = next((s for s in self.settings if s.name == name), None)
        return int(s.value) if s is not None and s.value.lstrip("-").isdigit() else default


class PostgresCollector:
    """Polls one PostgreSQL server. Not thread-safe; one poll at a time."""

    def __init__(
        self,
        settings: ConnSettings,
        *,
        connect_timeout: float = 5.0,
        poll_timeout: float = 10.0,
        password: str | None = None,
    ) -> None:
        self.settings = settings
        self.connect_timeout = connect_timeout
        self.poll_timeout = poll_timeout
        self._password = password
        self._conn: asyncpg.Connection | None = None
        self._facts: _SlowFacts | None = None
        self._sessions_sql = ""
        self._own_pids: tuple[int, ...] = ()
        self.address = settings.describe()
        self.inspect_pid: int | None = None  # also poll this backend's locks
        self._session_cache: dict[int, tuple[Any, Session]] = {}
        self._tally = SessionTally()  # counts of the cached sessions, kept as they change
        # The last poll's sessions and lock waiters as handed out (_note_changes).
        self._listing: tuple[Session, ...] = ()
        self._waiters: list[Session] = []
        # What the next poll need not be sent again (sessions.sql $6-$8): idle sessions
        # unchanged since this server time, and running statements by pid with their hash.
        self._idle_before: datetime | None = None
        self._running: dict[int, int] = {}
        self._blockers = BlockerCache()
        self._first_sources: dict[str, str] = {}

    @property
    def connected(self) -> bool:
        return self._conn is not None and not self._conn.is_closed()

    @property
    def own_backend(self) -> tuple[int, datetime | None, str | None] | None:
        """pid, backend_start and data directory of pgtop's own backend, once connected."""
        if not self._own_pids or self._facts is None:
            return None
        return self._own_pids[0], self._facts.own_backend_start, self._facts.data_directory

    @property
    def own_pids(self) -> tuple[int, ...]:
        return self._own_pids

    def exclude_pid(self, pid: int) -> None:
        """Hide another of pgtop's own backends (e.g. the one that runs actions)."""
        if pid not in self._own_pids:
            self._own_pids = (*self._own_pids, pid)

    async def connect(self) -> None:
        await self.close()
        conn = await open_connection(
            self.settings, password=self._password, timeout=self.connect_timeout
        )
        try:
            await _refuse_pooler(conn, self._address_of(conn))
            # Read the settings before pgtop's own SETs, so their sources are the server's.
            row = await conn.fetchrow(load_query("server"), list(WATCHED_SETTINGS))
            self._first_sources = {
                n: src for n, _v, _u, src, _p in json.loads(row["settings"]) if src != "session"
            }
            facts = _SlowFacts(row, time.monotonic(), self._first_sources)
            # SET, not startup options: reset_val then still holds what others get. They
            # cannot leak onto a pooler's server connection: _refuse_pooler ran first.
            await conn.execute(
                f"SET statement_timeout = {STATEMENT_TIMEOUT_MS};"
                f" SET lock_timeout = {LOCK_TIMEOUT_MS};"
                " SET idle_in_transaction_session_timeout = 10000"
            )
        except Exception as exc:
            await close_connection(conn)
            raise describe_postgres_error(exc, self.address) from None
        self._conn = conn
        self.address = self._address_of(conn)
        self._own_pids = (conn.get_server_pid(),)
        self._facts = facts  # read before the SETs; the first poll need not read them again
        self._sessions_sql = sessions_query_for(facts.version_num)
        self._session_cache = {}
        self._tally = SessionTally()
        self._listing, self._waiters = (), []
        self._running = {}
        self._idle_before = None
        self._blockers = BlockerCache()

    def _address_of(self, conn: asyncpg.Connection) -> str:
        # The host/port actually reached, after PG* and service resolution (private API).
        addr = getattr(conn, "_addr", None)
        if addr is None:
            return self.address
        if isinstance(addr, tuple):
            return f"{addr[0]}:{addr[1]}"
        return str(addr)

    async def close(self) -> None:
        conn, self._conn = self._conn, None
        await close_connection(conn)

    @property
    def connection(self) -> asyncpg.Connection | None:
        """The open connection, for the fleet's summary statement (collect/summary.py)."""
        return self._conn if self.connected else None

    def drop_connection(self) -> None:
        """Forget a connection that stopped answering: the next poll reconnects."""
        conn, self._conn = self._conn, None
        if conn is not None:
            conn.terminate()

    async def poll(self) -> Snapshot:
        """One poll: at most two round trips, three when slow facts are due."""
        import asyncio

        if not self.connected:
            await self.connect()
        try:
            try:
                return await asyncio.wait_for(self._poll(), self.poll_timeout)
            except UnicodeDecodeError:
                # A query or name in a SQL_ASCII database holds bytes that are not UTF-8:
                # from now on this connection shows them as \xff rather than failing.
                assert self._conn is not None
                await _decode_leniently(self._conn)
                return await asyncio.wait_for(self._poll(), self.poll_timeout)
        except TimeoutError:
            # The connection may be stuck mid-protocol; drop it so the next poll reconnects.
            if self._conn is not None:
                self._conn.terminate()
                self._conn = None
            raise CollectError(
                f"{self.address}: no answer in {self.poll_timeout:g} s", "timeout"
            ) from None
        except CollectError:
            raise
        except Exception as exc:
            if self._conn is not None and self._conn.is_closed():
                self._conn = None
            raise describe_postgres_error(exc, self.address) from None

    async def _poll(self) -> Snapshot:
        conn = self._conn
        assert conn is not None
        now_mono = time.monotonic()
        slow_due = self._facts is None or now_mono - self._facts.fetched_at > SLOW_FACTS_EVERY
        if slow_due:
            row = await conn.fetchrow(load_query("server"), list(WATCHED_SETTINGS))
            self._facts = _SlowFacts(row, now_mono, self._first_sources)
            self._sessions_sql = sessions_query_for(self._facts.version_num)
        facts = self._facts
        db_rows = await conn.fetch(load_query("databases"))
        reuse = self._blockers.reusable(now_mono)
        # With the slow facts (every 30 s), all rows are read afresh: a cheap safety net.
        rows, kept = await self._read_sessions(conn, reuse, full=slow_due)
        # A poll that fails from here on has moved the session cache: no note to go by.
        before, self._listing = self._listing, ()
        sessions, added, removed = self._sessions_from_rows(rows, kept)
        if db_rows:  # the next poll is sent only what changed after this one read
            self._idle_before = db_rows[0]["now"] - IDLE_MARGIN
        sessions = await self._fill_blockers(conn, rows, sessions, now_mono)
        self._note_changes(before, sessions, added, removed)
        snapshot = self._build_snapshot(facts, db_rows, sessions)
        pid = self.inspect_pid
        if pid is not None:
            lock_rows = await conn.fetch(load_query("locks"), pid)
            locks = tuple(
                Lock(r["locktype"], r["mode"], r["granted"], r["relation"], r["detail"] or "")
                for r in lock_rows
            )
            snapshot = snapshot._replace(inspected_pid=pid, inspected_locks=locks)
        return snapshot

    async def _fill_blockers(
        self, conn: asyncpg.Connection, rows: list[Any], sessions: tuple[Session, ...], now: float
    ) -> tuple[Session, ...]:
        """Every lock waiter with its blockers as of this poll: reused while they provably
        still hold, else read now (a third round trip, only then)."""
        asked = {r["pid"] for r in rows if r["blocked_by"] is not None}
        cache = self._session_cache  # this poll's sessions by pid, as _sessions_from_rows left it

        def session_of(pid: int) -> Session | None:
            entry = cache.get(pid)
            return None if entry is None else entry[1]

        # Sessions list the rows sent first, and a lock waiter is always sent (its
        # statement's hash is not kept): the waiters are among the first len(rows).
        sessions, stale = self._blockers.fill(
            sessions, asked, now, waiters_within=len(rows), session_of=session_of
        )
        if not stale:
            return sessions
        answers = await conn.fetch(load_query("blockers"), stale)
        return self._blockers.answer(
            sessions, {r["pid"]: tuple(r["blocked_by"] or ()) for r in answers}, now
        )

    async def _read_sessions(
        self, conn: asyncpg.Connection, reuse: Reusable, *, full: bool
    ) -> tuple[list[Any], set[int]]:
        """The rows the server sends (what changed since the last poll, or all when `full`)
        and the pids it did not send because pgtop holds their sessions as they are."""
        idle_before = None if full else self._idle_before
        running = {} if full else self._running
        rows = await conn.fetch(
            self._sessions_sql,
            list(self._own_pids),
            reuse.pids,
            reuse.backend_starts,
            reuse.state_changes,
            reuse.wait_events,
            idle_before,
            list(running),
            list(running.values()),
        )
        rows, kept = rows[:-1], set(rows[-1]["live_pids"] or ())
        kept.difference_update(r[0] for r in rows)  # sent: they changed
        kept.difference_update(self._own_pids)  # hidden since the last poll (exclude_pid)
        if not full and not kept.issubset(self._session_cache.keys()):
            # A backend pgtop never read is idle since before the last poll (one of its
            # own connections it stopped hiding): read everything once.
            return await self._read_sessions(conn, reuse, full=True)
        return rows, kept

    def _note_changes(
        self,
        before: tuple[Session, ...],
        listing: tuple[Session, ...],
        added: list[Session],
        removed: list[Session],
    ) -> None:
        """Tell the memos downstream (model/changes.py) which session objects may have
        come and gone since the last listing, so that they need not compare every one.

        Objects that may have come: those built from rows this poll (but a lock waiter's,
        which blockers.py hands out as another object) and every waiter as handed out.
        Those that may have gone: the ones the rows replaced or that left, and the last
        poll's waiters. A waiter of this poll equal to the last poll's is the same object
        (BlockerCache), so it is in both and has neither come nor gone.
        """
        waiters = self._blockers.handed_out()
        came = list(compress(added, map(not_, map(_WAITS, added))))
        came += waiters
        note_changes(before, listing, came, removed + self._waiters)
        self._listing, self._waiters = listing, waiters

    def _sessions_from_rows(
        self, rows: list[Any], kept: set[int]
    ) -> tuple[tuple[Session, ...], list[Session], list[Session]]:
        """Sessions for this poll: the rows sent, then the idle sessions not sent again;
        and the records added and removed since the last poll (a changed row's both).

        A sent row equal to last poll's reuses its record too: most sessions do not change
        between polls (ages are derived, not fetched), and building a record per row per
        tick was a third of pgtop's CPU at 1,000 sessions.
        """
        cache = self._session_cache
        fresh: dict[int, tuple[Any, Session]] = {}
        running: dict[int, int] = {}
        out = []
        added: list[Session] = []
        removed: list[Session] = []
        for r in rows:  # asyncpg records compare by value, like tuples
            pid = r[0]
            hit = cache.get(pid)
            if hit is not None and hit[0] == r:
                s = hit[1]
            else:
                s = _session_from_row(r)
                if hit is not None:
                    removed.append(hit[1])
                added.append(s)
            fresh[pid] = (r, s)
            out.append(s)
            if r[-1] is not None:  # running a statement: its hash, to not be sent again
                running[pid] = r[-1]
        # The kept ones (most of them at rest) in C: no Python step per session.
        kept_entries = list(map(cache.__getitem__, kept))
        fresh.update(zip(kept, kept_entries, strict=True))
        out.extend(map(_SESSION_OF_ENTRY, kept_entries))
        held = self._running
        running.update((pid, held[pid]) for pid in held.keys() & kept)
        # Gone, or hidden since (exclude_pid).
        removed.extend(cache[pid][1] for pid in cache.keys() - fresh.keys())
        self._tally.update(added, removed)
        self._session_cache, self._running = fresh, running
        return tuple(out), added, removed

    def _build_snapshot(
        self, facts: _SlowFacts, db_rows: list[Any], sessions: tuple[Session, ...]
    ) -> Snapshot:
        snapshot_time = db_rows[0]["now"] if db_rows else datetime.now().astimezone()
        in_recovery = bool(db_rows[0]["in_recovery"]) if db_rows else False
        tally = self._tally
        by_db = tally.by_database()
        # The header's figures, not worked out again from every session.
        remember_summary(sessions, ClientSummary(tally.total(), tally.oldest_xact_start()))
        databases = tuple(
            DatabaseStat(
                name=r["datname"],
                connlimit=r["datconnlimit"],
                allow_connections=r["datallowconn"],
                counts=by_db.get(r["datname"]) or StateCounts(),
                xact_commit=r["xact_commit"],
                xact_rollback=r["xact_rollback"],
            )
            for r in db_rows
        )
        own = len(self._own_pids)
        limits = Limits(
            max_connections=facts.setting_int("max_connections", 0) or 0,
            superuser_reserved_connections=facts.setting_int("superuser_reserved_connections", 0)
            or 0,
            reserved_connections=facts.setting_int("reserved_connections"),
            client_connections=tally.clients + own,
            roles=limit_usage(facts.role_limits, tally.per_role),
            databases=limit_usage(
                {r["datname"]: r["datconnlimit"] for r in db_rows if r["datconnlimit"] >= 0},
                tally.per_database,
            ),
            settings=facts.settings,
        )
        server = ServerInfo(
            version=facts.version,
            version_num=facts.version_num,
            host=self.address,
            start_time=facts.start_time,
            in_recovery=in_recovery,
            snapshot_time=snapshot_time,
            max_connections=limits.max_connections,
            track_activity_query_size=facts.setting_int("track_activity_query_size", 1024) or 1024,
            can_see_all=facts.can_see_all,
            current_user=facts.current_user,
            next_xid=db_rows[0]["next_xid"] if db_rows else None,
        )
        return Snapshot(
            server=server,
            sessions=sessions,
            databases=databases,
            limits=limits,
            own_pids=self._own_pids,
        )


def _lenient_text(data: bytes) -> str:
    return data.decode("utf-8", "backslashreplace")


async def _decode_leniently(conn: asyncpg.Connection) -> None:
    """Decode text and names with visible stand-ins for bytes that are not UTF-8.

    Installed only after the first bad byte: asyncpg's own C decoder is faster.
    """
    for type_name in ("text", "name", "varchar", "bpchar"):
        await conn.set_type_codec(
            type_name,
            schema="pg_catalog",
            encoder=str.encode,
            decoder=_lenient_text,
            format="binary",
        )


async def _refuse_pooler(conn: asyncpg.Connection, where: str) -> None:
    """Refuse PgBouncer's pooled port: the pid it announced is not the backend's.

    Simple query protocol, before any prepared statement: a pooled server connection may
    hold another client's `__asyncpg_stmt_` names, and must never get pgtop's SETs.
    """
    import asyncpg

    announced = conn.get_server_pid()
    try:  # a division by zero, not a row: conn.execute reads no rows in simple protocol
        await conn.execute(f"SELECT 1 / (pg_backend_pid() = {int(announced)})::int")
    except asyncpg.DivisionByZeroError:
        raise pooler_not_postgres(where) from None
    except asyncpg.ProtocolViolationError:  # its admin console: "invalid command", SHOW only
        raise pooler_not_postgres(where) from None


def _session_from_row(r: Any) -> Session:
    # By position, not by name: sessions.sql selects the columns in Session's field order
    # (then live_pids), and under churn this runs for every changed row of every poll.
    (pid, backend_start, datname, usename, application, client_addr, client_port,
     backend_type, state, wait_event_type, wait_event, xact_start, query_start,
     state_change, query, query_id, backend_xid, backend_xmin, blocked, _, _) = r  # fmt: skip
    return Session(
        pid,
        backend_start,
        datname,
        usename,
        application or "",
        client_addr,
        client_port,
        backend_type or "",
        state,
        wait_event_type,
        wait_event,
        xact_start,
        query_start,
        state_change,
        query or "",
        query_id,
        backend_xid,
        backend_xmin,
        tuple(blocked) if blocked else (),
    )
