"""A throwaway PgBouncer in front of a sandbox PostgreSQL, on a free loopback port.

The PgBouncerServer object owns the process it started and, unless the caller handed the
dir in, its dir. PgBouncer runs in the foreground as our child (no -d), so the pid we hold
is its own. Callers choose the databases (default `*`: any database of the server), the
users and their passwords (scram-sha-256 against a userlist of plain-text passwords, so
PgBouncer answers the client's SCRAM itself and can also log in to a scram-only server; or
trust), the admin and stats users, pool mode and sizes, and extra settings.
"""

from __future__ import annotations

import os
import signal
from collections.abc import Mapping, Sequence
from pathlib import Path
from urllib.parse import quote

from pgtop.sandbox.binaries import find_pgbouncer
from pgtop.sandbox.postgres import PostgresServer
from pgtop.sandbox.procs import (
    SandboxError,
    port_accepts,
    run,
    spawn,
    stop_process,
    tail,
    wait_until,
)
from pgtop.sandbox.server import SandboxServer


class PgBouncerServer(SandboxServer):
    """PgBouncer with `[databases]` pointing at `postgres`; runs as postgres.run_as."""

    kind = "PgBouncer"
    version_pattern = r"PgBouncer\s+(\S+)"
    port_taken_message = "Address already in use"

    def __init__(
        self,
        postgres: PostgresServer,
        *,
        users: Mapping[str, str] | None = None,
        databases: Mapping[str, str] | None = None,
        auth_type: str = "scram-sha-256",
        admin_users: Sequence[str] = (),
        stats_users: Sequence[str] = (),
        pool_mode: str = "session",
        default_pool_size: int = 2,
        max_client_conn: int = 200,
        settings: Mapping[str, str | int] | None = None,
        binary: str | os.PathLike[str] | None = None,
        root: Path | None = None,
        temp_prefix: str = "pgtop-pgb-",
        die_with_parent: bool = False,
    ) -> None:
        """`users`: name -> plain-text password (the userlist). `databases`: name -> extra
        connection options (`pool_mode=session`); the entry `*` routes every database."""
        super().__init__(postgres.run_as, root, temp_prefix)
        found = Path(binary) if binary else find_pgbouncer()
        if found is None:
            raise SandboxError("pgbouncer binary not found")
        self.binary = found
        self.postgres = postgres
        self.users = dict(users or {})
        self.databases = dict(databases or {"*": ""})
        self.auth_type = auth_type
        self.admin_users = tuple(admin_users)
        self.stats_users = tuple(stats_users)
        self.pool_mode = pool_mode
        self.default_pool_size = default_pool_size
        self.max_client_conn = max_client_conn
        self.extra_settings = dict(settings or {})
        self.die_with_parent = die_with_parent
        out = run([self.binary, "--version"], run_as=self.run_as, cwd=Path("/"))
        self.version_text = out.strip().splitlines()[0] if out.strip() else ""

    @property
    def ini(self) -> Path:
        return self._dir() / "pgbouncer.ini"

    @property
    def logfile(self) -> Path:
        return self._dir() / "pgbouncer.log"

    def __repr__(self) -> str:
        return f"<PgBouncerServer {self.host}:{self.port} -> {self.postgres!r}>"

    def settings(self) -> dict[str, str | int]:
        d = self._dir()
        settings: dict[str, str | int] = {
            "listen_addr": self.host,
            "listen_port": self.port,
            "unix_socket_dir": str(d),
            "auth_type": self.auth_type,
            "auth_file": str(d / "userlist.txt"),
            "pool_mode": self.pool_mode,
            "default_pool_size": self.default_pool_size,
            "max_client_conn": self.max_client_conn,
            "logfile": str(self.logfile),
            "pidfile": str(d / "pgbouncer.pid"),
            # Drivers (JDBC, some psycopg setups) send it; refusing would fail the login.
            "ignore_startup_parameters": "extra_float_digits",
            # Fail fast rather than hang when the server is down.
            "server_connect_timeout": 5,
            "server_login_retry": 1,
        }
        if self.admin_users:
            settings["admin_users"] = ",".join(self.admin_users)
        if self.stats_users:
            settings["stats_users"] = ",".join(self.stats_users)
        settings.update(self.extra_settings)
        return settings

    def _write_config(self) -> None:
        pg = self.postgres
        dbs = [
            f"{name} = host={pg.host} port={pg.port}"
            + ("" if name == "*" else f" dbname={name}")
            + (f" {options}" if options else "")
            for name, options in self.databases.items()
        ]
        lines = ["[databases]", *dbs, "", "[pgbouncer]"]
        lines += [f"{k} = {v}" for k, v in self.settings().items()]
        self.ini.write_text("\n".join(lines) + "\n")
        userlist = self._dir() / "userlist.txt"
        fd = os.open(userlist, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as out:
            out.write("".join(f"{_quoted(u)} {_quoted(p)}\n" for u, p in self.users.items()))
        for path in (self.ini, userlist):
            path.chmod(0o600)
            self.run_as.hand_over(path)

    # -- lifecycle ---------------------------------------------------------------------
    def prepare(self) -> None:
        self.make_root()

    def start(self) -> None:
        """Start on self.port and wait until it accepts connections."""
        self._write_config()
        stderr = self._dir() / "stderr.log"
        proc = spawn(
            [self.binary, self.ini],
            run_as=self.run_as,
            cwd=self._dir(),
            log=stderr,
            # SIGTERM is PgBouncer's immediate shutdown.
            death_signal=signal.SIGTERM if self.die_with_parent else None,
        )
        self.process = proc
        started = wait_until(
            lambda: proc.poll() is not None or port_accepts(self.host, self.port), timeout=15
        )
        if not started or proc.poll() is not None:
            self.stop()
            why = tail(self.logfile) or tail(stderr)
            raise SandboxError(f"PgBouncer did not start on {self.host}:{self.port}: {why}")

    def stop(self) -> None:
        # SIGTERM: immediate shutdown (SIGINT would wait for every client to leave); the
        # group is killed if even that hangs.
        proc, self.process = self.process, None
        stop_process(proc, signal.SIGTERM, timeout=10)

    def restart(self) -> None:
        self.stop()
        self.start()

    # -- connecting --------------------------------------------------------------------
    def uri(self, user: str, dbname: str, password: str | None = None) -> str:
        """A postgresql:// URI through the pooler; the password defaults to the user's."""
        if password is None:
            password = self.users.get(user, "")
        auth = quote(user, safe="") + (f":{quote(password, safe='')}" if password else "")
        return f"postgresql://{auth}@{self.host}:{self.port}/{quote(dbname, safe='')}"

    def admin_uri(self, user: str | None = None) -> str:
        """The admin console (database `pgbouncer`) as `user`, the first admin by default."""
        if user is None:
            if not self.admin_users:
                raise SandboxError("this PgBouncer has no admin_users")
            user = self.admin_users[0]
        return self.uri(user, "pgbouncer")


def _quoted(s: str) -> str:
    return '"' + s.replace('"', '""') + '"'
