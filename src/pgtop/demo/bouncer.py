"""A throwaway PgBouncer in front of the demo cluster.

Pools are deliberately tiny (2 server connections) so the workload's bursts queue up and
the pooler pane shows clients waiting. `shop` pools per transaction, `analytics` per
session, so both modes are on screen.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
from pathlib import Path

from pgtop.demo.cluster import SUPERUSER, DemoCluster
from pgtop.demo.procs import (
    DemoError,
    RunAs,
    on_free_port,
    port_accepts,
    run,
    spawn,
    stop_process,
    tail,
    wait_until,
)

POOL_SIZE = 2
# database -> pool_mode; the workload sends its pooled clients to these.
POOLED_DATABASES = {"shop": "transaction", "analytics": "session"}


class DemoBouncer:
    host = "127.0.0.1"

    def __init__(
        self, binary: Path, root: Path, run_as: RunAs, cluster: DemoCluster, users: list[str]
    ) -> None:
        self.binary = binary
        self.root = root  # a dir of its own inside the demo's temp dir
        self.run_as = run_as
        self.cluster = cluster
        self.users = users
        self.port = 0
        self.version = ""
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def ini(self) -> Path:
        return self.root / "pgbouncer.ini"

    @property
    def logfile(self) -> Path:
        return self.root / "pgbouncer.log"

    @property
    def pid(self) -> int | None:
        return self.process.pid if self.process else None

    def read_version(self) -> str:
        out = run([self.binary, "--version"], run_as=self.run_as, cwd=self.root)
        m = re.search(r"PgBouncer\s+(\S+)", out)
        self.version = m.group(1) if m else out.strip().splitlines()[0]
        return self.version

    def admin_uri(self) -> str:
        """The admin console for pgtop: the superuser is an admin_users member."""
        password = self.cluster.password  # generated: URL-safe characters only
        return f"postgresql://{SUPERUSER}:{password}@{self.host}:{self.port}/pgbouncer"

    def _write_config(self) -> None:
        pg = self.cluster
        dbs = [
            f"{db} = host={pg.host} port={pg.port} dbname={db} pool_mode={mode}"
            for db, mode in POOLED_DATABASES.items()
        ]
        settings = {
            "listen_addr": self.host,
            "listen_port": self.port,
            "unix_socket_dir": str(self.root),
            # Clients prove the password (the cluster's, for every role); PgBouncer logs
            # in to PostgreSQL with the same plain-text entry of auth_file.
            "auth_type": "scram-sha-256",
            "auth_file": str(self.root / "userlist.txt"),
            "admin_users": SUPERUSER,
            "pool_mode": "transaction",
            "default_pool_size": POOL_SIZE,
            "max_client_conn": 200,
            "logfile": str(self.logfile),
            "pidfile": str(self.root / "pgbouncer.pid"),
            "ignore_startup_parameters": "extra_float_digits",
            "server_connect_timeout": 5,
            "server_login_retry": 1,
            "log_connections": 0,  # the bursts would write a line per client
            "log_disconnections": 0,
        }
        lines = ["[databases]", *dbs, "", "[pgbouncer]"]
        lines += [f"{k} = {v}" for k, v in settings.items()]
        self.ini.write_text("\n".join(lines) + "\n")
        userlist = self.root / "userlist.txt"
        password = self.cluster.password
        fd = os.open(userlist, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as out:
            out.write("".join(f'"{u}" "{password}"\n' for u in [SUPERUSER, *self.users]))
        for path in (self.ini, userlist):
            self.run_as.hand_over(path)

    def start(self) -> None:
        on_free_port(
            self._start_once,
            host=self.host,
            errors=DemoError,
            port_taken=lambda: "Address already in use" in tail(self.logfile, 20),
        )

    def _start_once(self, port: int) -> None:
        """Foreground (no -d), so the pid we hold is PgBouncer's own."""
        self.port = port
        self._write_config()
        proc = spawn(
            [self.binary, self.ini],
            run_as=self.run_as,
            cwd=self.root,
            log=self.root / "stderr.log",
            death_signal=signal.SIGTERM,  # SIGTERM is PgBouncer's immediate shutdown
        )
        self.process = proc
        started = wait_until(
            lambda: proc.poll() is not None or port_accepts(self.host, self.port), timeout=10
        )
        if not started or proc.poll() is not None:
            self.stop()
            why = tail(self.logfile) or tail(self.root / "stderr.log")
            raise DemoError(f"PgBouncer did not start: {why}")

    def stop(self) -> None:
        # SIGTERM: immediate shutdown (SIGINT would wait for every client to leave).
        proc, self.process = self.process, None
        stop_process(proc, signal.SIGTERM, timeout=5)
