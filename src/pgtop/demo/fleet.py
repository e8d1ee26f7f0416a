"""The fleet demo's servers: three throwaway PostgreSQL, each with a different problem.

    healthy   env dev      a few sessions and short queries
    crowded   env prod     every ordinary connection slot taken but one
    queued    env staging  clients queued at its PgBouncer (a pool of one, slow queries)

`DemoFleet` owns its temp dir, the servers in it and the load (a daemon thread with its
own event loop); start() and close() are their only writers. Like DemoEnvironment it
points pgtop's audit log and profiles into its temp dir while it runs, registers close()
with atexit, and claims its dir so that a later demo sweeps what a SIGKILL left. The
fleet screen opens on it (`pgtop --demo --fleet`, demo/__init__.py); `members()` is what it watches.
"""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import os
import secrets
import shutil
import tempfile
import threading
from pathlib import Path
from types import TracebackType
from typing import Self

import asyncpg

from pgtop.audit import STATE_ENV
from pgtop.demo import leftovers
from pgtop.demo.environment import NO_POSTGRES, say
from pgtop.profiles.paths import CONFIG_ENV
from pgtop.sandbox import (
    PgBouncerServer,
    PostgresServer,
    SandboxError,
    find_pgbouncer,
    find_postgres_bindir,
    server_user,
)
from pgtop.target import ConnSettings, Target

SUPERUSER = "postgres"
CROWDED_MAX_CONNECTIONS = 20  # 17 ordinary slots (3 reserved for superusers)
CROWDED_HELD = 15  # with pgtop's own connection: 16 of 17, 94 %
QUEUED_CLIENTS = 8  # through a pool of one: seven wait at any moment
QUEUED_QUERY_S = 0.5
HEALTHY_SESSIONS = 4
# name: (env, colour) as a profile would say them
MEMBERS = {"healthy": ("dev", "green"), "crowded": ("prod", "red"), "queued": ("staging", "yellow")}


class DemoFleet:
    """`with DemoFleet() as fleet:` gives the three servers under their load."""

    def __init__(self, *, quiet: bool = False) -> None:
        self.quiet = quiet
        self.password = secrets.token_urlsafe(24)  # URL-safe: it goes into URIs as is
        self.root: Path | None = None
        self.servers: dict[str, PostgresServer] = {}
        self.bouncer: PgBouncerServer | None = None
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self.ready = threading.Event()  # every held connection and client is connected
        self._saved_env: dict[str, str | None] = {}

    def _say(self, message: str) -> None:
        if not self.quiet:
            say(message)

    # -- start -------------------------------------------------------------------------
    def start(self) -> Self:
        """Everything or nothing: a failure tears down what was started, then raises."""
        try:
            self._start()
        except BaseException:
            self.close()
            raise
        return self

    def _start(self) -> None:
        run_as = server_user()
        found = find_postgres_bindir()
        if found is None:
            raise SandboxError(NO_POSTGRES)
        bindir = found[0]
        self.root = Path(tempfile.mkdtemp(prefix=leftovers.PREFIX))
        atexit.register(self.close)
        leftovers.claim(self.root)
        for name, value in {STATE_ENV: "state", CONFIG_ENV: "config.toml"}.items():
            self._saved_env[name] = os.environ.get(name)
            os.environ[name] = str(self.root / value)
        run_as.hand_over(self.root)
        for name in MEMBERS:
            sub = self.root / name
            sub.mkdir()
            run_as.hand_over(sub)
            max_conn = CROWDED_MAX_CONNECTIONS if name == "crowded" else 50
            server = PostgresServer(
                bindir,
                superuser=SUPERUSER,
                password=self.password,
                settings={"log_min_messages": "fatal", "max_connections": max_conn},
                run_as=run_as,
                root=sub,
                die_with_parent=True,
                start_timeout=30,
            )
            self.servers[name] = server
            server.setup()
            self._say(f"{name}: PostgreSQL {server.version} on {server.host}:{server.port}")
        binary = find_pgbouncer()
        if binary is not None:
            bdir = self.root / "pgbouncer"
            bdir.mkdir()
            run_as.hand_over(bdir)
            self.bouncer = PgBouncerServer(
                self.servers["queued"],
                users={SUPERUSER: self.password},
                admin_users=[SUPERUSER],
                pool_mode="transaction",
                default_pool_size=1,
                settings={"log_connections": 0, "log_disconnections": 0},
                binary=binary,
                root=bdir,
                die_with_parent=True,
            )
            self.bouncer.setup()
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
        self._loop, self._stop = asyncio.get_running_loop(), asyncio.Event()
        self._loop.set_exception_handler(lambda loop, context: None)
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
            while True:
                with contextlib.suppress(Exception):
                    await conn.execute(sql)
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
            await self._stop.wait()
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
            params = {
                "host": server.host,
                "port": str(server.port),
                "user": SUPERUSER,
                "password": self.password,
                "dbname": "postgres",
                "sslmode": "disable",  # loopback only; saves the TLS probe
            }
            pooler = self.bouncer.admin_uri() if name == "queued" and self.bouncer else None
            target = Target(postgres=ConnSettings(params), pooler=pooler, refresh=refresh,
                            env=env, colour=colour, profile_name=name)  # fmt: skip
            out.append((name, target))
        return out

    # -- stop --------------------------------------------------------------------------
    def close(self) -> None:
        """Stop the load, PgBouncer and the servers, remove the temp dir. Idempotent."""
        loop, stop = self._loop, self._stop
        if loop is not None and stop is not None and not loop.is_closed():
            with contextlib.suppress(RuntimeError):
                loop.call_soon_threadsafe(stop.set)
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
        if self.root is not None:
            shutil.rmtree(self.root, ignore_errors=True)
            self.root = None
        saved, self._saved_env = self._saved_env, {}
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
        atexit.unregister(self.close)

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self, et: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()
