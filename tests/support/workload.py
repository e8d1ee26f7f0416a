"""Sessions in known states on a real server, all closed again at teardown.

Every helper returns only once the server *shows* the state it promised (polled through
pg_stat_activity or SHOW POOLS), so tests never race the workload.
"""

from __future__ import annotations

import asyncio
import itertools
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import asyncpg

from .roles import APP_USER, LOCK_TABLE, ROLES, SHOP_DB

if TYPE_CHECKING:
    from .pgbouncer import PgBouncerServer
    from .servers import PostgresServer

_factory_ids = itertools.count(1)
_table_ids = itertools.count(1)


@dataclass(frozen=True)
class LockChain:
    table: str  # in the chain's database, locked ACCESS EXCLUSIVE by the holder
    holder: int  # idle in transaction, holding the lock
    waiters: tuple[int, ...]  # each blocked (wait_event_type = 'Lock'); later ones also
    # wait behind earlier waiters in the lock queue


@dataclass(frozen=True)
class LockTree:
    """Three levels: root blocks middle, middle blocks both leaves."""

    root: int  # idle in transaction
    middle: int  # active, waiting on root
    leaves: tuple[int, int]  # active, waiting on middle


@dataclass
class PooledLoad:
    """Clients connected through PgBouncer, each running pg_sleep: pool-size of them hold
    a server, the rest wait for one (cl_waiting)."""

    database: str
    user: str
    application_name: str
    clients: list[asyncpg.Connection] = field(default_factory=list)
    tasks: list[asyncio.Task[Any]] = field(default_factory=list)


class SessionFactory:
    """Opens sessions on `server` (asyncpg, TCP, password auth) and tracks them for close()."""

    def __init__(self, server: PostgresServer) -> None:
        self.server = server
        # Unique per factory so cleanup-by-application_name never hits another test's sessions.
        self.tag = f"pgtop-test-{next(_factory_ids)}"
        self._conns: list[asyncpg.Connection] = []
        self._tasks: list[asyncio.Task[Any]] = []
        self._pids: set[int] = set()
        self._admin: asyncpg.Connection | None = None
        self._setup: dict[tuple[str, str], asyncpg.Connection] = {}  # creates tables

    # -- plumbing ------------------------------------------------------------------------
    async def admin(self) -> asyncpg.Connection:
        """The factory's own superuser connection (not tracked as workload)."""
        if self._admin is None or self._admin.is_closed():
            self._admin = await self.server.admin_connect()
        return self._admin

    async def connect(
        self,
        user: str = APP_USER.name,
        dbname: str = SHOP_DB,
        application_name: str | None = None,
        password: str | None = None,
    ) -> asyncpg.Connection:
        """A tracked connection straight to PostgreSQL."""
        conn = await asyncpg.connect(
            host=self.server.host,
            port=self.server.port,
            user=user,
            password=password if password is not None else _password(self.server, user),
            database=dbname,
            server_settings={"application_name": application_name or self.tag},
        )
        self._conns.append(conn)
        return conn

    async def _pid(self, conn: asyncpg.Connection) -> int:
        pid = int(await conn.fetchval("SELECT pg_backend_pid()"))
        self._pids.add(pid)
        return pid

    def _background(self, coro: Awaitable[Any]) -> asyncio.Task[Any]:
        task = asyncio.ensure_future(coro)
        self._tasks.append(task)
        return task

    async def wait_for(self, query: str, *args: Any, timeout: float = 10.0) -> Any:
        """Poll `query` on the admin connection until it returns a truthy value."""
        admin = await self.admin()
        deadline = time.monotonic() + timeout
        while True:
            value = await admin.fetchval(query, *args)
            if value:
                return value
            if time.monotonic() > deadline:
                raise TimeoutError(f"timed out after {timeout}s waiting for: {query} {args}")
            await asyncio.sleep(0.02)

    async def _wait_state(self, pid: int, condition: str, timeout: float = 10.0) -> None:
        await self.wait_for(
            f"SELECT EXISTS (SELECT FROM pg_stat_activity WHERE pid = $1 AND {condition})",
            pid,
            timeout=timeout,
        )

    # -- sessions in known states ----------------------------------------------------------
    async def idle(
        self, user: str = APP_USER.name, dbname: str = SHOP_DB, application_name: str | None = None
    ) -> int:
        conn = await self.connect(user, dbname, application_name or f"{self.tag}-idle")
        pid = await self._pid(conn)
        # A backend reports 'idle' a moment before it starts waiting on the client.
        await self._wait_state(pid, "state = 'idle' AND wait_event = 'ClientRead'")
        return pid

    async def active_sleep(
        self,
        seconds: float = 60.0,
        user: str = APP_USER.name,
        dbname: str = SHOP_DB,
        application_name: str | None = None,
    ) -> int:
        """A session running `SELECT pg_sleep(seconds)` (state active) in a background task."""
        conn = await self.connect(user, dbname, application_name or f"{self.tag}-active")
        pid = await self._pid(conn)
        self._background(conn.execute(f"SELECT pg_sleep({float(seconds)})"))
        await self._wait_state(pid, "state = 'active' AND query LIKE '%pg_sleep%'")
        return pid

    async def idle_in_transaction(
        self, user: str = APP_USER.name, dbname: str = SHOP_DB, application_name: str | None = None
    ) -> int:
        """BEGIN plus one statement, then nothing: state 'idle in transaction' (with an xid,
        so backend_xid and transaction age are set)."""
        conn = await self.connect(user, dbname, application_name or f"{self.tag}-idle-in-tx")
        pid = await self._pid(conn)
        await conn.execute("BEGIN")
        await conn.execute("SELECT txid_current()")
        await self._wait_state(pid, "state = 'idle in transaction'")
        return pid

    async def lock_chain(
        self, waiters: int = 2, user: str = APP_USER.name, dbname: str = SHOP_DB
    ) -> LockChain:
        """A holder idle in transaction with ACCESS EXCLUSIVE on a fresh table, and `waiters`
        sessions blocked reading it."""
        table = f"{LOCK_TABLE}_{self.tag.rsplit('-', 1)[-1]}_{len(self._pids)}"
        owner_conn = await self.connect(user, dbname, f"{self.tag}-setup")
        await owner_conn.execute(f'CREATE TABLE IF NOT EXISTS "{table}" (id int)')
        holder_conn = await self.connect(user, dbname, f"{self.tag}-lock-holder")
        holder = await self._pid(holder_conn)
        await holder_conn.execute("BEGIN")
        await holder_conn.execute(f'LOCK TABLE "{table}" IN ACCESS EXCLUSIVE MODE')
        waiter_pids: list[int] = []
        for i in range(waiters):
            conn = await self.connect(user, dbname, f"{self.tag}-lock-waiter-{i + 1}")
            pid = await self._pid(conn)
            self._background(conn.fetchval(f'SELECT count(*) FROM "{table}"'))
            # One at a time, so waiter order in the lock queue is deterministic.
            await self._wait_state(pid, "wait_event_type = 'Lock'")
            waiter_pids.append(pid)
        return LockChain(table, holder, tuple(waiter_pids))

    async def new_table(self, user: str = APP_USER.name, dbname: str = SHOP_DB) -> str:
        """A fresh, empty table for this factory's locks; its name needs no quoting."""
        table = f"{LOCK_TABLE}_{self.tag.rsplit('-', 1)[-1]}_t{next(_table_ids)}"
        if (user, dbname) not in self._setup:
            self._setup[user, dbname] = await self.connect(user, dbname, f"{self.tag}-setup")
        await self._setup[user, dbname].execute(f"CREATE TABLE {table} (id int)")
        return table

    async def lock_holder(
        self, *tables: str, user: str = APP_USER.name, dbname: str = SHOP_DB, name: str = "holder"
    ) -> tuple[int, asyncpg.Connection]:
        """A session idle in transaction holding ACCESS EXCLUSIVE on each of `tables`; its
        connection, to COMMIT (and free the waiters) or to make it wait in turn."""
        conn = await self.connect(user, dbname, f"{self.tag}-{name}")
        pid = await self._pid(conn)
        await conn.execute("BEGIN")
        for table in tables:
            await conn.execute(f"LOCK TABLE {table} IN ACCESS EXCLUSIVE MODE")
        await self._wait_state(pid, "state = 'idle in transaction'")
        return pid, conn

    async def lock_waiter(
        self,
        *statements: str,
        conn: asyncpg.Connection | None = None,
        blocked_by: int | None = None,
        name: str = "waiter",
    ) -> int:
        """Runs `statements` one after another in the background on `conn` (else a new
        session); returns once the server shows it waiting on a lock (on `blocked_by`,
        when given). A statement may hold several, `;`-separated: one simple query."""
        if conn is None:
            conn = await self.connect(application_name=f"{self.tag}-{name}")
        pid = await self._pid(conn)

        async def run() -> None:
            for sql in statements:
                await conn.execute(sql)

        self._background(run())
        await self.blocked(pid, blocked_by)
        return pid

    async def blocked(self, pid: int, by: int | None = None) -> None:
        """Return once the server shows `pid` waiting on a lock (held up by `by`, if given)."""
        await self._wait_state(pid, "wait_event_type = 'Lock'")
        if by is not None:
            await self.wait_for("SELECT $2::int = ANY(pg_blocking_pids($1))", pid, by)

    async def lock_tree(self) -> LockTree:
        """A blocks B, B blocks C and D: root idle in transaction, B waiting on it while
        holding what C and D wait for."""
        t1, t2 = await self.new_table(), await self.new_table()
        root, _ = await self.lock_holder(t1, name="tree-root")
        middle, middle_conn = await self.lock_holder(t2, name="tree-middle")
        await self.lock_waiter(f"SELECT count(*) FROM {t1}", conn=middle_conn, blocked_by=root)
        leaves = tuple(
            [
                await self.lock_waiter(
                    f"SELECT count(*) FROM {t2}", blocked_by=middle, name=f"tree-leaf-{i}"
                )
                for i in (1, 2)
            ]
        )
        return LockTree(root, middle, leaves)

    async def pooled_sleepers(
        self,
        bouncer: PgBouncerServer,
        clients: int = 4,
        seconds: float = 60.0,
        user: str = APP_USER.name,
        dbname: str = SHOP_DB,
    ) -> PooledLoad:
        """`clients` connections through PgBouncer, each running pg_sleep. With session
        pooling and default_pool_size=2, clients-2 of them wait (cl_waiting) for a server."""
        if bouncer.postgres is not self.server:
            raise ValueError("this PgBouncer fronts a different server than the factory's")
        load = PooledLoad(dbname, user, f"{self.tag}-pooled")
        for _ in range(clients):
            # No SELECT pg_backend_pid() here: a client without a server would block on it.
            conn = await asyncpg.connect(
                bouncer.client_dsn(user, dbname=dbname),
                server_settings={"application_name": load.application_name},
                statement_cache_size=0,
            )
            self._conns.append(conn)
            load.clients.append(conn)
            load.tasks.append(self._background(conn.execute(f"SELECT pg_sleep({float(seconds)})")))
        expect_waiting = max(0, clients - bouncer.default_pool_size)

        async def settled() -> bool:
            rows = await bouncer.show("POOLS")
            row = next((r for r in rows if r["database"] == dbname and r["user"] == user), None)
            return (
                row is not None
                and row["cl_waiting"] >= expect_waiting
                and (row["sv_active"] >= min(clients, bouncer.default_pool_size))
            )

        await _poll(settled, timeout=10.0, what=f"{expect_waiting} waiting PgBouncer clients")
        return load

    # -- teardown --------------------------------------------------------------------------
    async def close(self) -> None:
        """Terminate every backend we started (also pooled ones, by application_name), wait
        until the server no longer lists them, then drop the client sockets."""
        try:
            if (self._pids or self._conns) and self.server.running:
                try:
                    await self._terminate_ours()
                except (OSError, asyncpg.InterfaceError, asyncpg.PostgresError):
                    # Our admin connection may have died with a restart during the test.
                    if self._admin is not None:
                        self._admin.terminate()
                    self._admin = None
                    await self._terminate_ours()
        finally:
            for task in self._tasks:
                task.cancel()
            await asyncio.gather(*self._tasks, return_exceptions=True)
            for conn in [*self._conns, *([self._admin] if self._admin else [])]:
                conn.terminate()  # no goodbye round trip: the backend may already be gone
            self._tasks.clear()
            self._conns.clear()
            self._pids.clear()
            self._setup.clear()
            self._admin = None

    async def _terminate_ours(self) -> None:
        """pg_terminate_backend() our sessions; return once pg_stat_activity lost them."""
        admin = await self.admin()
        query = """
            SELECT pid FROM pg_stat_activity
            WHERE pid <> pg_backend_pid()
              AND (pid = ANY($1::int[])
                   OR application_name = $2 OR application_name LIKE $2 || '-%')
        """
        pids = [r["pid"] for r in await admin.fetch(query, list(self._pids), self.tag)]
        await admin.execute("SELECT pg_terminate_backend(p) FROM unnest($1::int[]) p", pids)
        await self.wait_for(
            "SELECT NOT EXISTS (SELECT FROM pg_stat_activity WHERE pid = ANY($1::int[]))",
            pids,
        )


def _password(server: PostgresServer, user: str) -> str:
    return server.password if user == server.superuser else ROLES[user].password


async def _poll(check: Callable[[], Awaitable[bool]], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not await check():
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out after {timeout}s waiting for {what}")
        await asyncio.sleep(0.05)
