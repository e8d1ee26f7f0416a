"""DemoEnvironment: cluster + PgBouncer + workload, started and torn down as one.

Used by `pgtop --demo` and by the integration test, which runs it without the TUI.
The temp dir, its sweep and claim, the private audit log and profiles, and the teardown
(idempotent, registered with atexit) are DemoSite's (site.py).

Every role logs in with one password generated per demo (scram-sha-256, over TCP and the
socket alike): loopback is shared with every local user, and a superuser reachable without
a password would let any of them run programs as the servers' OS user (COPY ... TO
PROGRAM). While the demo runs, pgtop's
audit log and profiles live in the temp dir too: the demo's cancels and any profile saved
for its temporary ports never reach the user's real state.
"""

from __future__ import annotations

import asyncio
import contextlib

from pgtop.demo.schema import DATABASES, ROLES, create_roles
from pgtop.demo.site import SUPERUSER, DemoSite, postgres_bindir
from pgtop.demo.workload import Workload
from pgtop.sandbox import PgBouncerServer, PostgresServer, SandboxError, server_user
from pgtop.target import Target

# The demo's PostgreSQL: the workload uses ~35 of these, so the limits pane shows real
# pressure.
MAX_CONNECTIONS = 50
# PgBouncer's pools are deliberately tiny (2 server connections) so the workload's bursts
# queue up and the pooler pane shows clients waiting. `shop` pools per transaction,
# `analytics` per session, so both modes are on screen.
POOL_SIZE = 2
POOLED_DATABASES = {"shop": "transaction", "analytics": "session"}


class DemoEnvironment(DemoSite):
    """`with DemoEnvironment() as env:` gives a running cluster (and pooler) under load.
    It owns the servers and the workload (DemoSite the temp dir); start() and close()
    are their only writers."""

    def __init__(self, *, pooler: bool = True, workload: bool = True, quiet: bool = False) -> None:
        super().__init__(quiet=quiet)
        self.want_pooler = pooler
        self.want_workload = workload
        self.cluster: PostgresServer | None = None
        self.bouncer: PgBouncerServer | None = None
        self.workload: Workload | None = None

    # -- start -------------------------------------------------------------------------
    def _start_servers(self) -> None:
        run_as = server_user()
        bindir, source = postgres_bindir()
        root = self._open_root(run_as)
        self.cluster = cluster = self._postgres(
            bindir, run_as, root, MAX_CONNECTIONS, passwords=dict.fromkeys(ROLES, self.password)
        )
        who = f" as OS user {run_as.name}" if run_as.uid is not None else ""
        self._say(f"starting PostgreSQL {cluster.version} ({source}) in {root}{who}")
        cluster.setup()
        try:
            asyncio.run(create_roles(cluster.dsn_kwargs(database="postgres")))
        except Exception as exc:  # OSError, asyncpg's errors: one line is enough
            raise SandboxError(f"cannot create the demo roles: {exc}") from None
        if self.want_pooler:
            self._start_bouncer(cluster)
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

    def _start_bouncer(self, cluster: PostgresServer) -> None:
        self.bouncer = self._pgbouncer(
            cluster,
            # Clients prove the password (the cluster's, for every role); PgBouncer logs
            # in to PostgreSQL with the same plain-text entry of the userlist.
            users=dict.fromkeys([SUPERUSER, *ROLES], self.password),
            pool_size=POOL_SIZE,
            databases={db: f"pool_mode={mode}" for db, mode in POOLED_DATABASES.items()},
        )
        if self.bouncer is None:
            self._say("no PgBouncer binary (/usr/sbin/pgbouncer or PATH): running without a pooler")
            return
        self._say(f"PgBouncer {self.bouncer.version} on {self.bouncer.host}:{self.bouncer.port}")

    # -- what pgtop watches ------------------------------------------------------------
    def target(self, refresh: float = 1.0, read_only: bool = False) -> Target:
        if self.cluster is None:
            raise SandboxError("the demo environment is not running")
        return Target(
            postgres=self._conn_settings(self.cluster),
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

    def load_error(self) -> str | None:
        return self.workload.error if self.workload else None

    # -- stop --------------------------------------------------------------------------
    def _stop_servers(self) -> None:
        """Stop the workload, PgBouncer and PostgreSQL."""
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
