"""What the monitors watch: a sandbox PostgreSQL (pg_stat_statements preloaded, trust auth)
and PgBouncer on 127.0.0.1, the benchmark's roles, and the load (load.py, its own
process, one workload at a time on the same servers). BenchEnvironment owns the servers,
the load process and the run's temp dir; setup(), start_load(), stop_load() and cleanup()
are their only writers.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import psycopg
from common import HERE, log
from workloads import Workload

from pgtop.sandbox import PgBouncerServer, PostgresServer, server_user, stop_process

PG_BINDIR = Path(os.environ.get("PGTOP_BENCH_PG_BINDIR", "/usr/lib/postgresql/15/bin"))
# $PGTOP_BENCH_PGBOUNCER, else the sandbox's search (PATH, then Debian's /usr/sbin).
PGBOUNCER = os.environ.get("PGTOP_BENCH_PGBOUNCER")
# As root the servers run as this OS user (both refuse to run as root); unset, the
# sandbox's choice: $PGTOP_TEST_SERVER_USER, else `postgres`.
SERVER_USER = os.environ.get("PGTOP_BENCH_SERVER_USER")
# bench_plain runs the reference statement (plainread.py), no monitor.
MONITOR_ROLES = ("bench_pgtop", "bench_pgactivity", "bench_plain")
# The benchmark's PostgreSQL, beside the sandbox's fast settings.
PG_SETTINGS = {
    "shared_buffers": "128MB",
    "pg_stat_statements.max": 10000,
    "pg_stat_statements.track": "top",
}


class BenchEnvironment:
    def __init__(self, sessions: int, pooled: int) -> None:
        """`sessions`, `pooled`: the most any workload of this run opens."""
        self.sessions = sessions
        self.pooled = pooled
        self.workload: Workload | None = None  # the load running now
        self.pg: PostgresServer | None = None
        self.bouncer: PgBouncerServer | None = None
        self.load: subprocess.Popen[bytes] | None = None
        self.tmp = Path(tempfile.mkdtemp(prefix="pgtop-bench-"))
        self.tmp.chmod(0o755)  # pg_activity's HOME lives here and runs as `nobody`
        self.known_pids: set[str] = set()  # the load's direct sessions

    @property
    def ports(self) -> tuple[int, int]:
        """(PostgreSQL's, PgBouncer's)."""
        assert self.pg is not None and self.bouncer is not None
        return self.pg.port, self.bouncer.port

    def sql(self, query: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        assert self.pg is not None
        with psycopg.connect(self.pg.dsn(), autocommit=True) as conn:
            cur = conn.execute(query, params)  # type: ignore[arg-type]
            return cur.fetchall() if cur.description else []

    def setup(self) -> None:
        self.pg = PostgresServer(
            PG_BINDIR,
            max_connections=self.sessions + 300,
            settings=PG_SETTINGS,
            preload=["pg_stat_statements"],
            run_as=server_user(SERVER_USER),
            temp_prefix="pgtop-bench-pg-",
            die_with_parent=True,
            start_timeout=120,
        )
        log(f"starting {self.pg.version_text} (max_connections {self.pg.max_connections})")
        self.pg.setup()
        self.sql("CREATE EXTENSION pg_stat_statements")
        for role in MONITOR_ROLES:
            # Superuser for both: pg_activity wants superuser for its full view, and it
            # keeps the comparison fair.
            self.sql(f"CREATE ROLE {role} LOGIN SUPERUSER")
        self.sql("CREATE ROLE bench_load LOGIN")
        self.sql("CREATE ROLE bench_app LOGIN")
        self.sql("GRANT CREATE ON SCHEMA public TO bench_load")
        self.bouncer = PgBouncerServer(
            self.pg,
            users={"bench_app": "", "bench_pgtop": ""},
            auth_type="trust",
            admin_users=["bench_pgtop"],
            stats_users=["bench_pgtop"],
            pool_mode="transaction",
            default_pool_size=20,
            max_client_conn=max(1000, self.pooled + 100),
            settings={"max_db_connections": 40, "log_connections": 0, "log_disconnections": 0},
            binary=PGBOUNCER,
            temp_prefix="pgtop-bench-pgb-",
            die_with_parent=True,
        )
        self.bouncer.setup()
        log(f"{self.bouncer.version_text} on {self.bouncer.host}:{self.bouncer.port}")

    def start_load(self, workload: Workload) -> None:
        """Replace the running load (if any) with `workload`'s."""
        self.stop_load()
        pg_port, bouncer_port = self.ports
        pids_file = self.tmp / "pids.json"
        cmd = [sys.executable, str(HERE / "load.py"), "--port", str(pg_port)]
        cmd += ["--bouncer-port", str(bouncer_port), "--sessions", str(workload.sessions)]
        cmd += ["--pooled", str(workload.pooled), "--pids-file", str(pids_file)]
        cmd += ["--mix", workload.mix]
        self.workload = workload
        t0 = time.monotonic()
        self.load = subprocess.Popen(
            cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, start_new_session=True
        )
        assert self.load.stdout is not None
        line = self.load.stdout.readline().decode()
        if not line.startswith("READY"):
            raise RuntimeError(f"workload failed to start (exit {self.load.poll()}): {line!r}")
        self.known_pids = {str(p) for p in json.loads(pids_file.read_text())}
        log(f"workload: {line.split(' ', 1)[1].strip()} in {time.monotonic() - t0:.1f}s")
        time.sleep(3)  # let lock waits and pooled clients settle
        log(f"  {workload.name} now: {self.describe_load()}")

    def describe_load(self) -> str:
        """The load's sessions by state, and transactions/s through PgBouncer (over 2 s)."""
        states = self.sql(
            "SELECT coalesce(state, '?') || CASE WHEN wait_event_type = 'Lock'"
            " THEN ' (lock wait)' ELSE '' END, count(*) FROM pg_stat_activity"
            " WHERE usename = 'bench_load' GROUP BY 1 ORDER BY 2 DESC"
        )
        text = ", ".join(f"{n} {state}" for state, n in states)
        with contextlib.suppress(Exception):
            x0, t0 = self._pooled_xacts(), time.monotonic()
            time.sleep(2.0)
            rate = (self._pooled_xacts() - x0) / (time.monotonic() - t0)
            text += f"; pooled {rate:.0f} xact/s"
        return text

    def _pooled_xacts(self) -> int:
        """PgBouncer's transaction count for the load's database (admin console: simple
        query protocol only, hence ClientCursor)."""
        assert self.bouncer is not None
        dsn = f"postgresql://bench_pgtop@{self.bouncer.host}:{self.bouncer.port}/pgbouncer"
        with psycopg.connect(dsn, autocommit=True, cursor_factory=psycopg.ClientCursor) as c:
            cur = c.execute("SHOW STATS")
            names = [d.name for d in cur.description or []]
            rows = [dict(zip(names, r, strict=True)) for r in cur.fetchall()]
        return sum(int(r["total_xact_count"]) for r in rows if r["database"] == "postgres")

    def stop_load(self) -> None:
        """Stop the load process and wait until its sessions are gone. Idempotent."""
        if self.load is not None:
            with contextlib.suppress(Exception):
                if self.load.stdin is not None:
                    self.load.stdin.close()
                # SIGTERM, then SIGKILL for its whole process group after 15 s.
                stop_process(self.load, signal.SIGTERM, timeout=15)
            self.load = None
            self.workload = None
            if self.pg is not None:
                with contextlib.suppress(Exception):
                    self._wait_sessions_gone()

    def _wait_sessions_gone(self, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            # PgBouncer keeps its server connections (bench_app): only direct ones count.
            rows = self.sql("SELECT count(*) FROM pg_stat_activity WHERE usename = 'bench_load'")
            if not rows[0][0]:
                return
            time.sleep(0.5)

    def cleanup(self) -> None:
        """Stop the load, PgBouncer and PostgreSQL; remove the temp dirs. Idempotent."""
        self.stop_load()
        for server in (self.bouncer, self.pg):
            if server is not None:
                with contextlib.suppress(Exception):
                    server.cleanup()
        self.bouncer = self.pg = None
        shutil.rmtree(self.tmp, ignore_errors=True)
