"""A throwaway PgBouncer in front of a test PostgreSQL server."""

from __future__ import annotations

import os
import signal
import subprocess
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, Self
from urllib.parse import quote

from pgtop.demo.procs import find_pgbouncer as _find_pgbouncer

from .procs import (
    ServerError,
    TempDirServer,
    on_free_port,
    port_accepts,
    server_user,
    start_child,
    stop_process,
    tail,
    wait_until,
)
from .roles import PG_LOGIN_ROLES, PGBOUNCER_ADMIN, PGBOUNCER_STATS, ROLES, SHOP_DB

if TYPE_CHECKING:
    from .servers import PostgresServer

PGBOUNCER_ENV = "PGTOP_TEST_PGBOUNCER"


def find_pgbouncer() -> Path | None:
    """$PGTOP_TEST_PGBOUNCER, then PATH, then Debian's /usr/sbin (not on a user's PATH)."""
    return _find_pgbouncer(os.environ.get(PGBOUNCER_ENV))


def _quoted(s: str) -> str:
    return '"' + s.replace('"', '""') + '"'


class PgBouncerServer(TempDirServer):
    """PgBouncer with `* = host=127.0.0.1 port=<pg>`: any test database, any test role.

    Auth is scram-sha-256 against a userlist of *plain-text* passwords: PgBouncer (>= 1.14)
    then answers the client's SCRAM itself and can also log in to the scram-only server.
    """

    kind = "pgbouncer"

    def __init__(
        self,
        postgres: PostgresServer,
        *,
        binary: str | os.PathLike[str] | None = None,
        pool_mode: str = "session",
        default_pool_size: int = 2,
        max_client_conn: int = 200,
        settings: Mapping[str, str | int] | None = None,
    ) -> None:
        found = Path(binary) if binary else find_pgbouncer()
        if found is None:
            raise ServerError("pgbouncer binary not found")
        self.binary = found
        self.postgres = postgres
        self.host = "127.0.0.1"
        self.port = 0
        self.pool_mode = pool_mode
        self.default_pool_size = default_pool_size
        self.max_client_conn = max_client_conn
        self.extra_settings = dict(settings or {})
        self.run_as = server_user()
        self.tmpdir: Path | None = None
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def ini(self) -> Path:
        return self._dir() / "pgbouncer.ini"

    @property
    def logfile(self) -> Path:
        return self._dir() / "pgbouncer.log"

    def __repr__(self) -> str:
        return f"<PgBouncerServer {self.host}:{self.port} -> {self.postgres!r}>"

    def settings(self) -> dict[str, str | int]:
        settings: dict[str, str | int] = {
            "listen_addr": self.host,
            "listen_port": self.port,
            "unix_socket_dir": str(self._dir()),
            "auth_type": "scram-sha-256",
            "auth_file": str(self._dir() / "userlist.txt"),
            "admin_users": PGBOUNCER_ADMIN.name,
            "stats_users": PGBOUNCER_STATS.name,
            "pool_mode": self.pool_mode,
            "default_pool_size": self.default_pool_size,
            "max_client_conn": self.max_client_conn,
            "logfile": str(self.logfile),
            "pidfile": str(self._dir() / "pgbouncer.pid"),
            # Drivers (JDBC, some psycopg setups) send it; refusing would fail the login.
            "ignore_startup_parameters": "extra_float_digits",
            # Fail fast rather than hang a test when the server is down.
            "server_connect_timeout": 5,
            "server_login_retry": 1,
        }
        settings.update(self.extra_settings)
        return settings

    def _write_config(self) -> None:
        d = self._dir()
        pg = self.postgres
        lines = [
            "[databases]",
            f"* = host={pg.host} port={pg.port}",
            "",
            "[pgbouncer]",
            *(f"{k} = {v}" for k, v in self.settings().items()),
        ]
        self.ini.write_text("\n".join(lines) + "\n")
        users = [*PG_LOGIN_ROLES, PGBOUNCER_ADMIN, PGBOUNCER_STATS]
        (d / "userlist.txt").write_text(
            "".join(f"{_quoted(r.name)} {_quoted(r.password)}\n" for r in users)
        )
        for name in ("pgbouncer.ini", "userlist.txt"):
            (d / name).chmod(0o600)
            self.run_as.hand_over(d / name)

    # -- lifecycle ---------------------------------------------------------------------
    def setup(self) -> Self:
        try:
            self.make_tmpdir("pgtop-pgb-")
            on_free_port(
                self._start_on,
                host=self.host,
                errors=ServerError,
                port_taken=lambda: "Address already in use" in tail(self.logfile),
            )
        except BaseException:
            self.cleanup()
            raise
        return self

    def _start_on(self, port: int) -> None:
        self.port = port
        self.start()

    def start(self) -> None:
        """Run in the foreground as our child (no -d), so we hold the real pid."""
        self._write_config()
        proc = start_child(
            [self.binary, self.ini],
            run_as=self.run_as,
            cwd=self._dir(),
            log=self._dir() / "stderr.log",
        )
        self.process = proc
        ready = wait_until(
            lambda: proc.poll() is not None or port_accepts(self.host, self.port), timeout=15
        )
        if not ready or proc.poll() is not None:
            self.stop()
            raise ServerError(
                f"pgbouncer did not start on {self.host}:{self.port}\n"
                f"--- log ---\n{tail(self.logfile)}\n"
                f"--- stderr ---\n{tail(self._dir() / 'stderr.log')}"
            )

    def stop(self) -> None:
        proc, self.process = self.process, None
        # SIGTERM is PgBouncer's immediate shutdown (SIGINT would wait for clients); if it
        # hangs, its process group is killed.
        stop_process(proc, signal.SIGTERM, timeout=10)

    def restart(self) -> None:
        self.stop()
        self.start()

    # -- connecting --------------------------------------------------------------------
    def _uri(self, user: str, password: str, dbname: str) -> str:
        return (
            f"postgresql://{quote(user, safe='')}:{quote(password, safe='')}"
            f"@{self.host}:{self.port}/{quote(dbname, safe='')}"
        )

    def admin_dsn(self) -> str:
        """The admin console (database `pgbouncer`) as an admin_users member."""
        return self._uri(PGBOUNCER_ADMIN.name, PGBOUNCER_ADMIN.password, "pgbouncer")

    def stats_dsn(self) -> str:
        """The admin console as a stats_users member: SHOW only, no PAUSE/KILL."""
        return self._uri(PGBOUNCER_STATS.name, PGBOUNCER_STATS.password, "pgbouncer")

    def client_dsn(
        self, user: str = "app_user", password: str | None = None, dbname: str = SHOP_DB
    ) -> str:
        """An ordinary pooled connection to `dbname` on the PostgreSQL behind us."""
        return self._uri(user, password if password is not None else ROLES[user].password, dbname)

    async def show(self, what: str, *, dsn: str | None = None) -> list[dict[str, Any]]:
        """`SHOW <what>` on the admin console, rows as dicts."""
        return await pgbouncer_show(dsn or self.admin_dsn(), what)


async def pgbouncer_show(dsn: str, what: str) -> list[dict[str, Any]]:
    """The admin console speaks only the simple query protocol: psycopg with a client-side
    cursor (no server-side prepare) and autocommit (no BEGIN) is what it accepts."""
    import psycopg
    from psycopg.rows import dict_row

    async with await psycopg.AsyncConnection.connect(
        dsn, autocommit=True, cursor_factory=psycopg.AsyncClientCursor
    ) as conn:
        cur = conn.cursor(row_factory=dict_row)
        await cur.execute(f"SHOW {what}")
        return await cur.fetchall()
