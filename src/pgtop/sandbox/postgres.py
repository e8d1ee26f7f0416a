"""A throwaway PostgreSQL cluster: initdb, start on a free loopback port, stop, forget.

Everything lives under one dir (data, socket, log); the PostgresServer object owns the
process it started and, unless the caller handed the dir in, the dir. Durability is off:
nothing here needs to survive a crash. The postmaster runs as our direct child (not through
`pg_ctl start`, which daemonises it): holding the real pid lets us wait for it and signal
its group, and with die_with_parent the kernel stops it if we are SIGKILLed.

Callers choose what differs between them: the superuser's password (None: trust auth), how
local (socket) logins authenticate, max_connections, extra settings and preloaded
libraries (the benchmark's pg_stat_statements).
"""

from __future__ import annotations

import os
import signal
from collections.abc import Mapping, Sequence
from pathlib import Path
from urllib.parse import quote

from pgtop.sandbox.binaries import parse_version_num, postgres_version
from pgtop.sandbox.procs import (
    RunAs,
    SandboxError,
    run,
    server_user,
    spawn,
    stop_process,
    tail,
    wait_until,
)
from pgtop.sandbox.server import SandboxServer

Setting = str | int | float | bool

# Speed over safety: the servers die with their owner anyway.
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
    "timezone": "UTC",
}
# Shutdown modes and the signal that asks the postmaster for each.
STOP_SIGNALS = {"smart": signal.SIGTERM, "fast": signal.SIGINT, "immediate": signal.SIGQUIT}
SETTINGS_FILE = "pgtop_sandbox.conf"


def _conf_value(value: Setting) -> str:
    if isinstance(value, bool):
        return "on" if value else "off"
    if isinstance(value, int | float):
        return str(value)
    return "'" + value.replace("'", "''") + "'"


class PostgresServer(SandboxServer):
    """One initdb'd cluster under `root`/data, run as `run_as` (default: server_user())."""

    kind = "PostgreSQL"
    version_pattern = r"\(PostgreSQL\)\s+(\S+)"

    def __init__(
        self,
        bindir: str | os.PathLike[str],
        *,
        superuser: str = "postgres",
        password: str | None = None,
        auth_local: str | None = None,
        max_connections: int = 100,
        settings: Mapping[str, Setting] | None = None,
        preload: Sequence[str] = (),
        passwords: Mapping[str, str] | None = None,
        run_as: RunAs | None = None,
        root: Path | None = None,
        temp_prefix: str | None = None,
        die_with_parent: bool = False,
        start_timeout: float = 60.0,
    ) -> None:
        """`password`: the superuser's; None means trust auth for everyone. `auth_local`:
        the method for socket logins (default: as over TCP). `passwords`: other roles'
        known passwords, for dsn(). `root`: a dir the caller owns (data goes in root/data);
        default: a temp dir of our own. `die_with_parent`: stop the server if we die."""
        run_as = run_as or server_user()
        self.bindir = Path(bindir)
        # Run as the server user: also proves that user may execute the binaries.
        self.version_text = postgres_version(self.bindir, run_as).strip()
        self.version_num = parse_version_num(self.version_text)
        super().__init__(run_as, root, temp_prefix or f"pgtop-pg{self.major}-")
        self.superuser = superuser
        self.password = password
        self.auth_host = "scram-sha-256" if password is not None else "trust"
        self.auth_local = auth_local or self.auth_host
        self.max_connections = max_connections
        self.extra_settings: dict[str, Setting] = dict(settings or {})
        self.preload = tuple(preload)
        self.passwords = dict(passwords or {})
        if password is not None:
            self.passwords[superuser] = password
        self.die_with_parent = die_with_parent
        self.start_timeout = start_timeout

    # -- what it is --------------------------------------------------------------------
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

    def __repr__(self) -> str:
        return f"<PostgresServer {self.version_num} {self.host}:{self.port} {self.root}>"

    # -- lifecycle ---------------------------------------------------------------------
    def prepare(self) -> None:
        self.init()

    def init(self) -> None:
        root = self.make_root()
        cmd: list[str | os.PathLike[str]] = [
            self.bindir / "initdb",
            "-D",
            self.datadir,
            "-U",
            self.superuser,
            f"--auth-local={self.auth_local}",
            f"--auth-host={self.auth_host}",
            "--encoding=UTF8",
            "--locale=C",
            "--no-sync",  # skipping fsync saves most of initdb's time
            "--no-instructions",
        ]
        pwfile = root / "superuser.pw"
        if self.password is not None:
            fd = os.open(pwfile, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "w") as out:
                out.write(self.password + "\n")
            self.run_as.hand_over(pwfile)
            cmd.append(f"--pwfile={pwfile}")
        try:
            run(cmd, run_as=self.run_as, cwd=root)
        finally:
            pwfile.unlink(missing_ok=True)
        with (self.datadir / "postgresql.conf").open("a") as conf:
            # Our settings live in their own file, rewritten at every start: a retry on
            # another port, or a restart with changed extra_settings, takes effect.
            conf.write(f"\ninclude '{SETTINGS_FILE}'\n")

    def settings(self) -> dict[str, Setting]:
        settings: dict[str, Setting] = {
            "listen_addresses": self.host,
            "port": self.port,
            "unix_socket_directories": str(self.socket_dir),
            "max_connections": self.max_connections,
            **FAST_SETTINGS,
        }
        if self.major >= 14:
            # Sessions whose client vanished (a killed client) free their slot quickly.
            settings["client_connection_check_interval"] = "1s"
        if self.preload:
            settings["shared_preload_libraries"] = ",".join(self.preload)
        settings.update(self.extra_settings)
        return settings

    def _write_settings(self) -> None:
        path = self.datadir / SETTINGS_FILE
        path.write_text("".join(f"{k} = {_conf_value(v)}\n" for k, v in self.settings().items()))
        self.run_as.hand_over(path)

    def start(self) -> None:
        """Start the initdb'd cluster on self.port and wait until it accepts connections."""
        self._write_settings()
        proc = spawn(
            [self.bindir / "postgres", "-D", self.datadir],
            run_as=self.run_as,
            cwd=self._dir(),
            log=self.logfile,
            death_signal=signal.SIGQUIT if self.die_with_parent else None,
        )
        self.process = proc
        if not wait_until(
            lambda: proc.poll() is not None or self._ready(proc.pid), timeout=self.start_timeout
        ):
            self.stop("immediate")
            raise SandboxError(
                f"PostgreSQL did not start within {self.start_timeout:g} s: {tail(self.logfile)}"
            )
        if proc.poll() is not None:
            self.process = None
            raise SandboxError(f"PostgreSQL exited at start: {tail(self.logfile)}")

    def _ready(self, pid: int) -> bool:
        """postmaster.pid names our postmaster and its 8th line says `ready` once it accepts
        connections (PG 10+); a file left by a killed predecessor names another pid."""
        try:
            lines = (self.datadir / "postmaster.pid").read_text().splitlines()
        except OSError:
            return False
        return len(lines) >= 8 and lines[0].strip() == str(pid) and lines[7].strip() == "ready"

    def stop(self, mode: str = "fast") -> None:
        """Shut down in `mode` (smart, fast, immediate); the group is killed if it hangs."""
        proc, self.process = self.process, None
        stop_process(proc, STOP_SIGNALS[mode], timeout=15)

    def restart(self, mode: str = "fast") -> None:
        """Same data dir and port: clients see a real connection loss and can reconnect."""
        self.stop(mode)
        self.start()

    # -- connecting --------------------------------------------------------------------
    def password_of(self, user: str) -> str | None:
        return self.passwords.get(user)

    def dsn(
        self, user: str | None = None, password: str | None = None, dbname: str = "postgres"
    ) -> str:
        """A postgresql:// URI over TCP; the password defaults to the role's known one."""
        user = user or self.superuser
        if password is None:
            password = self.password_of(user)
        auth = f"{quote(user, safe='')}" + (f":{quote(password, safe='')}" if password else "")
        return f"postgresql://{auth}@{self.host}:{self.port}/{quote(dbname, safe='')}"

    def dsn_kwargs(self, user: str | None = None, database: str = "postgres") -> dict[str, object]:
        """asyncpg.connect keywords for a TCP connection, with the role's known password."""
        user = user or self.superuser
        return {
            "host": self.host,
            "port": self.port,
            "user": user,
            "database": database,
            "password": self.password_of(user),
        }
