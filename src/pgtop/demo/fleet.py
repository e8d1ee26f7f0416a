"""The fleet demo's servers: three throwaway PostgreSQL, each with a different problem.

    healthy   env dev      a few sessions and short queries
    crowded   env prod     every ordinary connection slot taken but one
    queued    env staging  clients queued at its PgBouncer (a pool of one, slow queries)

`DemoFleet` owns the servers and the load (a daemon thread with its own event loop);
start() and close() are their only writers. The temp dir, the sweep of dead demos, the
private audit log and profiles and the teardown are DemoSite's (site.py), as for
DemoEnvironment. The fleet screen opens on it (`pgtop --demo --fleet`,
demo/__init__.py); `members()` is what it watches.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading

import asyncpg

from pgtop.demo.site import SUPERUSER, DemoSite, postgres_bindir
from pgtop.sandbox import PgBouncerServer, PostgresServer, server_user
from pgtop.target import Target

CROWDED_MAX_CONNECTIONS = 20  # 17 ordinary slots (3 reserved for superusers)
CROWDED_HELD = 15  # with pgtop's own connection: 16 of 17, 94 %
QUEUED_CLIENTS = 8  # through a pool of one: seven wait at any moment
QUEUED_QUERY_S = 0.5
HEALTHY_SESSIONS = 4
# name: (env, colour) as a profile would say them
MEMBERS = {"healthy": ("dev", "green"), "crowded": ("prod", "red"), "queued": ("staging", "yellow")}


class DemoFleet(DemoSite):
    """`with DemoFleet() as fleet:` gives the three servers under their load."""

    def __init__(self, *, quiet: bool = False) -> None:
        super().__init__(quiet=quiet)
        self.servers: dict[str, PostgresServer] = {}
        self.bouncer: PgBouncerServer | None = None
        self._thread: threading.Thread | None = None
        # Set by close(), read by the load's thread: a threading.Event, because close()
        # may come before that thread has a loop of its own to be told through.
        self._closing = threading.Event()
        self.ready = threading.Event()  # every held connection and client is connected

    # -- start -------------------------------------------------------------------------
    def _start_servers(self) -> None:
        run_as = server_user()
        bindir = postgres_bindir()[0]
        self._open_root(run_as)
        for name in MEMBERS:
            max_conn = CROWDED_MAX_CONNECTIONS if name == "crowded" else 50
            server = self._postgres(bindir, run_as, self._subdir(name, run_as), max_conn)
            self.servers[name] = server
            server.setup()
            self._say(f"{name}: PostgreSQL {server.version} on {server.host}:{server.port}")
        self.bouncer = self._pgbouncer(
            self.servers["queued"], users={SUPERUSER: self.password}, pool_size=1
        )
        if self.bouncer is not None:
            self._say(f"queued: PgBouncer on {self.bouncer.host}:{self.bouncer.port}")
        else:
            self._say("no PgBouncer binary: the queued server has no pooler to queue at")
        self._thread = threading.Thread(target=self._run, name="pgtop-demo-fleet", daemon=True)
        self._thread.start()

    # -- the load (its own thread and loop) --------------------------------------------
    def _run(self) -> None:
        with contextlib.suppress(Exception):
            asyncio.run(self._load())

    async def _load(self) -> None:
        asyncio.get_running_loop().set_exception_handler(lambda loop, context: None)
        closing = self._closing
        conns: list[asyncpg.Connection] = []

        async def connect(server: PostgresServer, port: int | None = None) -> asyncpg.Connection:
            conn = await asyncpg.connect(
                host=server.host, port=port or server.port, user=SUPERUSER,
                password=self.password, database="postgres", timeout=10,
                statement_cache_size=0 if port else 100,
                server_settings={"application_name": "pgtop-demo-fleet"},
            )  # fmt: skip
            conns.append(conn)
            return conn

        async def loop_query(conn: asyncpg.Connection, sql: str, pause: float) -> None:
            while not closing.is_set():
                try:
                    await conn.execute(sql)
                except Exception:
                    # The server or its pooler is gone (closing, or stopped under us): a
                    # query that fails at once must not become a loop that burns a core.
                    await asyncio.sleep(max(pause, 0.5))
                    continue
                await asyncio.sleep(pause)

        tasks = []
        try:
            healthy = [await connect(self.servers["healthy"]) for _ in range(HEALTHY_SESSIONS)]
            tasks.append(asyncio.create_task(loop_query(healthy[0], "SELECT pg_sleep(0.05)", 0.2)))
            for _ in range(CROWDED_HELD):
                await connect(self.servers["crowded"])
            if self.bouncer is not None:
                queued = self.servers["queued"]
                for _ in range(QUEUED_CLIENTS):
                    client = await connect(queued, self.bouncer.port)
                    sql = f"SELECT pg_sleep({QUEUED_QUERY_S})"
                    tasks.append(asyncio.create_task(loop_query(client, sql, 0.0)))
            self.ready.set()
            while not closing.is_set():
                await asyncio.sleep(0.2)
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            for conn in conns:
                conn.terminate()

    # -- what pgtop watches ------------------------------------------------------------
    def members(self, refresh: float = 1.0) -> list[tuple[str, Target]]:
        """(name, Target) of each server, as profiles would give them."""
        out = []
        for name, (env, colour) in MEMBERS.items():
            server = self.servers[name]
            pooler = self.bouncer.admin_uri() if name == "queued" and self.bouncer else None
            target = Target(postgres=self._conn_settings(server), pooler=pooler, refresh=refresh,
                            env=env, colour=colour, profile_name=name)  # fmt: skip
            out.append((name, target))
        return out

    # -- stop --------------------------------------------------------------------------
    def _stop_servers(self) -> None:
        """Stop the load, PgBouncer and the servers."""
        self._closing.set()
        if self._thread is not None:
            self._thread.join(5)
            self._thread = None
        bouncer, self.bouncer = self.bouncer, None
        with contextlib.suppress(Exception):
            if bouncer is not None:
                bouncer.stop()
        servers, self.servers = self.servers, {}
        for server in servers.values():
            with contextlib.suppress(Exception):
                server.stop()
