"""Throwaway PostgreSQL (and, re-exported, PgBouncer) servers for the integration tests.

Each server lives in its own temp dir (data, socket, log), listens on 127.0.0.1 only on a
free port, and is tuned for speed, not durability. As root the processes run as the
unprivileged `postgres` OS user (see procs.server_user).
"""

from __future__ import annotations

import os
import re
import signal
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Self
from urllib.parse import quote

from .procs import (
    RunAs,
    ServerError,
    TempDirServer,
    on_free_port,
    run,
    server_user,
    tail,
)
from .roles import ROLES, SUPERUSER

if TYPE_CHECKING:
    import asyncpg
    import psycopg

Setting = str | int | float | bool

# Durability off, nothing slow at start: the servers die with the session anyway.
FAST_SETTINGS: dict[str, Setting] = {
    "fsync": False,
    "synchronous_commit": False,
    "full_page_writes": False,
    "wal_level": "minimal",
    "max_wal_senders": 0,
    "shared_buffers": "32MB",
    "checkpoint_timeout": "30min",
    "max_wal_size": "1GB",
    "logging_collector": False,
    "log_min_messages": "warning",
    "log_line_prefix": "%m [%p] %q%u@%d ",
    "timezone": "UTC",
    "datestyle": "iso, ymd",
}

_VERSION_RE = re.compile(r"\(PostgreSQL\)\s+(\d+)(?:\.(\d+))?(?:\.(\d+))?")


def parse_version_num(version_output: str) -> int:
    """`postgres (PostgreSQL) 15.18 (Debian ...)` -> 150018; 9.6.24 -> 90624; 18beta1 -> 180000."""
    m = _VERSION_RE.search(version_output)
    if not m:
        raise ServerError(f"cannot parse a PostgreSQL version from {version_output!r}")
    major, second, third = (int(g) if g else 0 for g in m.groups())
    if major >= 10:
        return major * 10000 + second
    return major * 10000 + second * 100 + third


def read_version_num(bindir: Path, run_as: RunAs | None = None) -> int:
    """Ask the binary itself. Running it as the server user also proves that user may
    execute it (a root-owned venv with a tight umask would fail here, not mid-test)."""
    who = run_as or RunAs("current")
    proc = run([bindir / "postgres", "-V"], run_as=who, cwd=Path("/"), timeout=20)
    return parse_version_num(proc.stdout)


def _conf_value(value: Setting) -> str:
    if isinstance(value, bool):
        return "on" if value else "off"
    if isinstance(value, int | float):
        return str(value)
    return "'" + value.replace("'", "''") + "'"


class PostgresServer(TempDirServer):
    """One initdb'd cluster. Use as a context manager, or call setup()/cleanup()."""

    def __init__(
        self,
        bindir: str | os.PathLike[str],
        *,
        max_connections: int = 300,
        settings: Mapping[str, Setting] | None = None,
        superuser: str = SUPERUSER.name,
        password: str = SUPERUSER.password,
    ) -> None:
        self.bindir = Path(bindir)
        self.host = "127.0.0.1"
        self.port = 0
        self.superuser = superuser
        self.password = password
        self.max_connections = max_connections
        self.extra_settings: dict[str, Setting] = dict(settings or {})
        self.run_as = server_user()
        self.version_num = read_version_num(self.bindir, self.run_as)
        self.tmpdir: Path | None = None
        self._started = False

    # -- paths -------------------------------------------------------------------------
    @property
    def major(self) -> int:
        return self.version_num // 10000

    @property
    def datadir(self) -> Path:
        return self._dir() / "data"

    @property
    def socket_dir(self) -> Path:
        return self._dir()

    @property
    def logfile(self) -> Path:
        return self._dir() / "postgres.log"

    @property
    def running(self) -> bool:
        return self._started

    def __repr__(self) -> str:
        return f"<PostgresServer {self.version_num} {self.host}:{self.port} {self.tmpdir}>"

    # -- lifecycle ---------------------------------------------------------------------
    def setup(self) -> Self:
        """initdb + start; on any failure everything created so far is removed."""
        try:
            self.init()
            self._start_on_free_port()
        except BaseException:
            self.cleanup()
            raise
        return self

    def init(self) -> None:
        tmpdir = self.make_tmpdir(f"pgtop-pg{self.major}-")
        pwfile = tmpdir / "pwfile"
        pwfile.write_text(self.password + "\n")
        self.run_as.hand_over(pwfile)
        run(
            [
                self.bindir / "initdb",
                "-D",
                self.datadir,
                "-U",
                self.superuser,
                f"--pwfile={pwfile}",
                "--auth-local=trust",
                "--auth-host=scram-sha-256",
                "--encoding=UTF8",
                "--locale=C",
                "--no-sync",  # skip fsync of the new cluster: saves most of initdb's time
                "--no-instructions",
            ],
            run_as=self.run_as,
            cwd=tmpdir,
        )
        pwfile.unlink()
        conf = self.datadir / "postgresql.conf"
        with conf.open("a") as f:
            # Our settings live in their own file so a retry on another port can rewrite it.
            f.write("\ninclude 'pgtop_test.conf'\n")

    def settings(self) -> dict[str, Setting]:
        settings: dict[str, Setting] = {
            "listen_addresses": self.host,
            "port": self.port,
            "unix_socket_directories": str(self.socket_dir),
            "max_connections": self.max_connections,
            **FAST_SETTINGS,
        }
        if self.major >= 14:
            # Notice vanished clients mid-pg_sleep, so killed test clients free their slot.
            settings["client_connection_check_interval"] = "1s"
        settings.update(self.extra_settings)
        return settings

    def _write_settings(self) -> None:
        path = self.datadir / "pgtop_test.conf"
        path.write_text("".join(f"{k} = {_conf_value(v)}\n" for k, v in self.settings().items()))
        self.run_as.hand_over(path)

    def _pg_ctl(self, *args: str | os.PathLike[str], timeout: float = 60) -> None:
        run(
            [self.bindir / "pg_ctl", "-D", self.datadir, *args],
            run_as=self.run_as,
            cwd=self._dir(),
            timeout=timeout,
        )

    def _start_on_free_port(self, attempts: int = 3) -> None:
        # Another process may grab the port between probe and bind: then retry.
        on_free_port(
            self._start_on,
            host=self.host,
            errors=ServerError,
            port_taken=lambda: "could not bind" in tail(self.logfile),
            attempts=attempts,
        )

    def _start_on(self, port: int) -> None:
        self.port = port
        self.start()

    def start(self) -> None:
        self._write_settings()
        try:
            self._pg_ctl("-l", self.logfile, "-w", "-t", "60", "-s", "start", timeout=90)
        except ServerError as exc:
            raise ServerError(f"{exc}\n--- {self.logfile} ---\n{tail(self.logfile)}") from None
        self._started = True

    def stop(self, mode: str = "fast") -> None:
        if self.tmpdir is None or not (self.datadir / "postmaster.pid").exists():
            self._started = False
            return
        try:
            self._pg_ctl("-w", "-t", "30", "-s", "-m", mode, "stop", timeout=45)
        except ServerError:
            if mode == "immediate":
                self._kill_postmaster()
            else:
                self.stop("immediate")
        self._started = False

    def _kill_postmaster(self) -> None:
        pidfile = self.datadir / "postmaster.pid"
        try:
            pid = int(pidfile.read_text().split()[0])
            os.kill(pid, signal.SIGKILL)
        except (OSError, ValueError, IndexError):
            pass

    def restart(self, mode: str = "fast") -> None:
        """Same data dir and port: clients see a real connection loss and can reconnect."""
        self.stop(mode)
        self.start()

    # -- connecting --------------------------------------------------------------------
    def dsn(
        self, user: str | None = None, password: str | None = None, dbname: str = "postgres"
    ) -> str:
        """A postgresql:// URI over TCP (scram). The password defaults to the role's known one."""
        user = user or self.superuser
        if password is None:
            password = self.password if user == self.superuser else ROLES[user].password
        return (
            f"postgresql://{quote(user, safe='')}:{quote(password, safe='')}"
            f"@{self.host}:{self.port}/{quote(dbname, safe='')}"
        )

    async def admin_connect(self, dbname: str = "postgres") -> asyncpg.Connection:
        import asyncpg

        return await asyncpg.connect(
            host=self.host,
            port=self.port,
            user=self.superuser,
            password=self.password,
            database=dbname,
            server_settings={"application_name": "pgtop-test-admin"},
        )

    def admin_connect_sync(self, dbname: str = "postgres") -> psycopg.Connection:
        """Blocking superuser connection (autocommit) for setup code outside the event loop."""
        import psycopg

        return psycopg.connect(
            self.dsn(dbname=dbname), autocommit=True, application_name="pgtop-test-admin"
        )


# Re-exported so `from support.servers import PgBouncerServer` works as well.
from .pgbouncer import PgBouncerServer, find_pgbouncer  # noqa: E402

__all__ = [
    "FAST_SETTINGS",
    "PgBouncerServer",
    "PostgresServer",
    "ServerError",
    "find_pgbouncer",
    "parse_version_num",
    "read_version_num",
]
