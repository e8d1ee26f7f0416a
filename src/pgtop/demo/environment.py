"""DemoEnvironment: cluster + PgBouncer + workload, started and torn down as one.

Used by `pgtop --demo` and by the integration test, which runs it without the TUI.
Teardown is idempotent and also registered with atexit, so a path that skips the
`finally` (an exception in an odd place) still stops the servers and removes the temp dir;
what a SIGKILL leaves is swept at the next start (leftovers.py).

Every role logs in with one password generated per demo (scram-sha-256, over TCP and the
socket alike): loopback is shared with every local user, and a superuser reachable without
a password would let any of them run programs as the servers' OS user (COPY ... TO
PROGRAM). While the demo runs, pgtop's
audit log and profiles live in the temp dir too: the demo's cancels and any profile saved
for its temporary ports never reach the user's real state.
"""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import os
import secrets
import shutil
import sys
import tempfile
import time
from pathlib import Path
from types import TracebackType
from typing import Self

from pgtop.audit import STATE_ENV
from pgtop.demo import leftovers
from pgtop.demo.schema import DATABASES, ROLES, create_roles
from pgtop.demo.workload import Workload
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
# The demo's PostgreSQL, beside the sandbox's fast settings.
CLUSTER_SETTINGS = {
    "log_min_messages": "fatal",  # the workload's cancelled queries would fill the log
    # The limits pane then shows real pressure: the workload uses ~35 of these.
    "max_connections": 50,
}
# PgBouncer's pools are deliberately tiny (2 server connections) so the workload's bursts
# queue up and the pooler pane shows clients waiting. `shop` pools per transaction,
# `analytics` per session, so both modes are on screen.
POOL_SIZE = 2
POOLED_DATABASES = {"shop": "transaction", "analytics": "session"}

NO_POSTGRES = (
    "no PostgreSQL binaries found (/usr/lib/postgresql/*/bin, pg_ctl on PATH, or the "
    "pgserver wheel): apt-get install postgresql, or pip install 'pgtop[demo]'"
)


def say(message: str) -> None:
    """One line of progress on stderr, before the TUI takes the terminal."""
    print(f"pgtop demo: {message}", file=sys.stderr, flush=True)


class DemoEnvironment:
    """`with DemoEnvironment() as env:` gives a running cluster (and pooler) under load.
    It owns the demo's temp dir, the servers in it and the workload; start() and close()
    are their only writers."""

    def __init__(self, *, pooler: bool = True, workload: bool = True, quiet: bool = False) -> None:
        self.want_pooler = pooler
        self.want_workload = workload
        self.quiet = quiet
        self.root: Path | None = None
        self.cluster: PostgresServer | None = None
        self.bouncer: PgBouncerServer | None = None
        self.workload: Workload | None = None
        self.started_in = 0.0
        self.password = secrets.token_urlsafe(24)  # URL-safe: it goes into a URI as is
        self._saved_env: dict[str, str | None] = {}

    def _say(self, message: str) -> None:
        if not self.quiet:
            say(message)

    # -- start -------------------------------------------------------------------------
    def start(self) -> Self:
        """Everything or nothing: a failure tears down what was started, then raises."""
        t0 = time.monotonic()
        try:
            self._start()
        except BaseException:
            self.close()
            raise
        self.started_in = time.monotonic() - t0
        return self

    def _start(self) -> None:
        run_as = server_user()
        found = find_postgres_bindir()
        if found is None:
            raise SandboxError(NO_POSTGRES)
        bindir, source = found
        self._sweep({os.geteuid(), *([run_as.uid] if run_as.uid is not None else [])})
        # Short path under /tmp: a unix socket path must stay under ~107 bytes.
        self.root = Path(tempfile.mkdtemp(prefix=leftovers.PREFIX))
        atexit.register(self.close)
        leftovers.claim(self.root)
        self._use_private_state(self.root)
        run_as.hand_over(self.root)
        self.cluster = cluster = PostgresServer(
            bindir,
            superuser=SUPERUSER,
            password=self.password,  # TCP and socket: see the module's docstring
            settings=CLUSTER_SETTINGS,
            passwords=dict.fromkeys(ROLES, self.password),
            run_as=run_as,
            root=self.root,
            die_with_parent=True,  # immediate shutdown if pgtop is SIGKILLed
            start_timeout=30,
        )
        who = f" as OS user {run_as.name}" if run_as.uid is not None else ""
        self._say(f"starting PostgreSQL {cluster.version} ({source}) in {self.root}{who}")
        cluster.setup()
        try:
            asyncio.run(create_roles(cluster.dsn_kwargs(database="postgres")))
        except Exception as exc:  # OSError, asyncpg's errors: one line is enough
            raise SandboxError(f"cannot create the demo roles: {exc}") from None
        if self.want_pooler:
            self._start_bouncer()
        if self.want_workload:
            pooler_port = self.bouncer.port if self.bouncer else None
            self.workload = Workload(
                cluster.host, cluster.port, pooler_port, password=self.password
            )
            self.workload.start()
            self._say(
                f"workload: ~35 sessions of {len(ROLES)} roles on {', '.join(DATABASES)}"
                + (", some through PgBouncer" if pooler_port else "")
            )

    def _sweep(self, owners: set[int]) -> None:
        for root, stopped in leftovers.sweep(owners):
            servers = f", stopped {stopped} of its processes" if stopped else ""
            self._say(f"removed {root}, left by a demo that could not clean up{servers}")

    def _use_private_state(self, root: Path) -> None:
        """Point pgtop's audit log and profiles into the demo's dir until close()."""
        private = {STATE_ENV: str(root / "state"), CONFIG_ENV: str(root / "config.toml")}
        for name, value in private.items():
            self._saved_env[name] = os.environ.get(name)
            os.environ[name] = value

    def _restore_env(self) -> None:
        saved, self._saved_env = self._saved_env, {}
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value

    def _start_bouncer(self) -> None:
        assert self.root is not None and self.cluster is not None
        binary = find_pgbouncer()
        if binary is None:
            self._say("no PgBouncer binary (/usr/sbin/pgbouncer or PATH): running without a pooler")
            return
        bdir = self.root / "pgbouncer"
        bdir.mkdir()
        self.cluster.run_as.hand_over(bdir)
        self.bouncer = PgBouncerServer(
            self.cluster,
            # Clients prove the password (the cluster's, for every role); PgBouncer logs
            # in to PostgreSQL with the same plain-text entry of the userlist.
            users=dict.fromkeys([SUPERUSER, *ROLES], self.password),
            databases={db: f"pool_mode={mode}" for db, mode in POOLED_DATABASES.items()},
            admin_users=[SUPERUSER],  # pgtop watches the console as the superuser
            pool_mode="transaction",
            default_pool_size=POOL_SIZE,
            # the bursts would write a line per client
            settings={"log_connections": 0, "log_disconnections": 0},
            binary=binary,
            root=bdir,
            die_with_parent=True,
        )
        self.bouncer.setup()
        self._say(f"PgBouncer {self.bouncer.version} on {self.bouncer.host}:{self.bouncer.port}")

    # -- what pgtop watches ------------------------------------------------------------
    def target(self, refresh: float = 1.0, read_only: bool = False) -> Target:
        if self.cluster is None:
            raise SandboxError("the demo environment is not running")
        params = {
            "host": self.cluster.host,
            "port": str(self.cluster.port),
            "user": SUPERUSER,
            "password": self.password,
            "dbname": "postgres",
            "sslmode": "disable",  # loopback only; saves the TLS probe
        }
        return Target(
            postgres=ConnSettings(params),
            # the password is generated with URL-safe characters only
            pooler=self.bouncer.admin_uri() if self.bouncer else None,
            refresh=refresh,
            read_only=read_only,
        )

    def server_pids(self) -> list[int]:
        """The postmaster's and PgBouncer's pids (backends die with the postmaster)."""
        procs = (self.cluster, self.bouncer)
        return [p.pid for p in procs if p is not None and p.pid is not None]

    def wait_for_workload(self, timeout: float = 10.0) -> bool:
        return self.workload is not None and self.workload.ready.wait(timeout)

    # -- stop --------------------------------------------------------------------------
    def close(self) -> None:
        """Stop the workload, PgBouncer and PostgreSQL, remove the temp dir. Idempotent."""
        workload, self.workload = self.workload, None
        bouncer, self.bouncer = self.bouncer, None
        cluster = self.cluster
        with contextlib.suppress(Exception):
            if workload is not None:
                workload.stop()
        with contextlib.suppress(Exception):
            if bouncer is not None:
                bouncer.stop()
        with contextlib.suppress(Exception):
            if cluster is not None:
                cluster.stop()
        if self.root is not None:
            shutil.rmtree(self.root, ignore_errors=True)
        self._restore_env()
        atexit.unregister(self.close)

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self, et: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()
