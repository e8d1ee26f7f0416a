"""A throwaway PostgreSQL cluster: initdb, start on a free loopback port, stop, forget.

Everything lives under one temp dir (data, socket, log). Durability is off. Every role
logs in with the demo's generated password (scram-sha-256, over TCP and the socket alike):
loopback is shared with every local user, and a superuser reachable without a password
would let any of them run programs as the servers' OS user (COPY ... TO PROGRAM).
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
from pathlib import Path

from pgtop.demo.procs import (
    DemoError,
    RunAs,
    on_free_port,
    run,
    spawn,
    stop_process,
    tail,
    wait_until,
)

SUPERUSER = "postgres"

# Speed over safety: nothing here needs to survive a crash.
_SETTINGS = {
    "fsync": "off",
    "synchronous_commit": "off",
    "full_page_writes": "off",
    "wal_level": "minimal",
    "max_wal_senders": "0",
    "shared_buffers": "'32MB'",
    "checkpoint_timeout": "'30min'",
    "logging_collector": "off",
    "log_min_messages": "fatal",  # the workload's cancelled queries would fill the log
    "timezone": "'UTC'",
    # The limits pane then shows real pressure: the workload uses ~35 of these.
    "max_connections": "50",
    # Sessions whose client vanished (a killed burst client) free their slot quickly.
    "client_connection_check_interval": "'1s'",
}


class DemoCluster:
    """One initdb'd cluster under `root`/data, run as `run_as`."""

    host = "127.0.0.1"

    def __init__(self, bindir: Path, root: Path, run_as: RunAs, password: str) -> None:
        self.bindir = bindir
        self.root = root
        self.run_as = run_as
        self.password = password  # of every demo role; generated per demo
        self.port = 0
        self.version = ""
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def datadir(self) -> Path:
        return self.root / "data"

    @property
    def logfile(self) -> Path:
        return self.root / "postgres.log"

    @property
    def pid(self) -> int | None:
        return self.process.pid if self.process else None

    def read_version(self) -> str:
        """`postgres -V` as the server user: also proves that user may run the binaries
        (a root-only venv holding the pgserver wheel would fail here, not mid-start)."""
        out = run([self.bindir / "postgres", "-V"], run_as=self.run_as, cwd=self.root)
        m = re.search(r"\(PostgreSQL\)\s+(\S+)", out)
        self.version = m.group(1) if m else out.strip()
        return self.version

    def start(self) -> None:
        self.initdb()
        # Someone may take the port between our probe and the server's bind: then retry.
        on_free_port(
            self._start_server,
            host=self.host,
            errors=DemoError,
            port_taken=lambda: "could not bind" in tail(self.logfile, 20),
        )

    def initdb(self) -> None:
        pwfile = self.root / "superuser.pw"
        fd = os.open(pwfile, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as out:
            out.write(self.password + "\n")
        self.run_as.hand_over(pwfile)
        try:
            run(
                [
                    self.bindir / "initdb",
                    "-D",
                    self.datadir,
                    "-U",
                    SUPERUSER,
                    f"--pwfile={pwfile}",
                    "--auth=scram-sha-256",  # TCP and socket: see the module's docstring
                    "--encoding=UTF8",
                    "--locale=C",
                    "--no-sync",  # skipping fsync saves most of initdb's time
                    "--no-instructions",
                ],
                run_as=self.run_as,
                cwd=self.root,
            )
        finally:
            pwfile.unlink(missing_ok=True)

    def _write_settings(self) -> None:
        settings = dict(_SETTINGS)
        settings.update(
            listen_addresses=f"'{self.host}'",
            port=str(self.port),
            unix_socket_directories=f"'{self.root}'",
        )
        conf = self.datadir / "postgresql.auto.conf"
        conf.write_text("".join(f"{k} = {v}\n" for k, v in settings.items()))
        self.run_as.hand_over(conf)

    def _start_server(self, port: int) -> None:
        """Run `postgres` itself as our child rather than through `pg_ctl start`, which
        daemonises it: holding the real pid lets us wait for it and signal its group."""
        self.port = port
        self._write_settings()
        proc = spawn(
            [self.bindir / "postgres", "-D", self.datadir],
            run_as=self.run_as,
            cwd=self.root,
            log=self.logfile,
            death_signal=signal.SIGQUIT,  # immediate shutdown if pgtop is SIGKILLed
        )
        self.process = proc
        if not wait_until(lambda: proc.poll() is not None or self._ready(), timeout=30):
            self.stop()
            raise DemoError(f"PostgreSQL did not start within 30 s: {tail(self.logfile)}")
        if proc.poll() is not None:
            self.process = None
            raise DemoError(f"PostgreSQL exited at start: {tail(self.logfile)}")

    def _ready(self) -> bool:
        """postmaster.pid's 8th line says `ready` once connections are accepted (PG 10+)."""
        try:
            lines = (self.datadir / "postmaster.pid").read_text().splitlines()
        except OSError:
            return False
        return len(lines) >= 8 and lines[7].strip() == "ready"

    def stop(self) -> None:
        """Fast shutdown (SIGINT) ends every backend; the group is killed if it hangs."""
        proc, self.process = self.process, None
        stop_process(proc, signal.SIGINT, timeout=10)

    def dsn_kwargs(self, user: str = SUPERUSER, database: str = "postgres") -> dict[str, object]:
        """asyncpg.connect keywords for a TCP connection, with the demo's password."""
        return {
            "host": self.host,
            "port": self.port,
            "user": user,
            "database": database,
            "password": self.password,
        }
