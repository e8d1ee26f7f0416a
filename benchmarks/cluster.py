"""Throwaway PostgreSQL (with pg_stat_statements) and PgBouncer for the benchmark.

Both listen on 127.0.0.1 only, on free ports, with trust auth (the cluster lives for one
benchmark run in a temp dir under /tmp). As root they run as the `postgres` OS user, since
both refuse to run as root.
"""

from __future__ import annotations

import contextlib
import functools
import os
import shutil
import signal
import subprocess
import tempfile
from pathlib import Path

from pgtop.demo.procs import (
    RunAs,
    find_pgbouncer,
    free_port,
    pick_server_user,
    port_accepts,
    run_captured,
    start_child,
    stop_process,
    wait_until,
)

PG_BINDIR = Path(os.environ.get("PGTOP_BENCH_PG_BINDIR", "/usr/lib/postgresql/15/bin"))
# $PGTOP_BENCH_PGBOUNCER, then PATH, then Debian's /usr/sbin (the same search as the demo's).
PGBOUNCER = find_pgbouncer(os.environ.get("PGTOP_BENCH_PGBOUNCER")) or Path("/usr/sbin/pgbouncer")
SERVER_USER = os.environ.get("PGTOP_BENCH_SERVER_USER", "postgres")
HOST = "127.0.0.1"


class BenchError(RuntimeError):
    pass


@functools.cache
def _run_as() -> RunAs:
    """Who runs the servers: us, or as root SERVER_USER (both refuse to run as root)."""
    run_as = pick_server_user(SERVER_USER)
    if run_as is None:
        raise BenchError(f"running as root and there is no OS user {SERVER_USER!r}")
    return run_as


def _run(cmd: list[str | Path], cwd: Path, timeout: float = 120) -> str:
    proc = run_captured(cmd, run_as=_run_as(), cwd=cwd, timeout=timeout)
    if proc.returncode != 0:
        raise BenchError(f"{cmd[0]} failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}")
    return proc.stdout


def _tail(path: Path, n: int = 30) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-n:])
    except OSError:
        return ""


class Postgres:
    def __init__(self, max_connections: int) -> None:
        self.max_connections = max_connections
        self.port = 0
        self.tmpdir: Path | None = None
        self.version = _run([PG_BINDIR / "postgres", "-V"], Path("/")).strip()

    @property
    def datadir(self) -> Path:
        assert self.tmpdir is not None
        return self.tmpdir / "data"

    def start(self) -> None:
        self.tmpdir = Path(tempfile.mkdtemp(prefix="pgtop-bench-pg-"))
        _run_as().hand_over(self.tmpdir)
        _run(
            [
                PG_BINDIR / "initdb",
                "-D",
                self.datadir,
                "-U",
                "postgres",
                "--auth-local=trust",
                "--auth-host=trust",
                "--encoding=UTF8",
                "--locale=C",
                "--no-sync",
                "--no-instructions",
            ],
            self.tmpdir,
        )
        self.port = free_port(HOST)
        settings = {
            "listen_addresses": f"'{HOST}'",
            "port": self.port,
            "unix_socket_directories": f"'{self.tmpdir}'",
            "max_connections": self.max_connections,
            "shared_buffers": "'128MB'",
            "shared_preload_libraries": "'pg_stat_statements'",
            "pg_stat_statements.max": 10000,
            "pg_stat_statements.track": "'top'",
            "fsync": "off",
            "synchronous_commit": "off",
            "full_page_writes": "off",
            "wal_level": "minimal",
            "max_wal_senders": 0,
            "logging_collector": "off",
            "log_min_messages": "warning",
            "timezone": "'UTC'",
            "client_connection_check_interval": "'1s'",
        }
        conf = self.datadir / "postgresql.conf"
        with conf.open("a") as f:
            f.write("\n# pgtop benchmark\n")
            f.writelines(f"{k} = {v}\n" for k, v in settings.items())
        log = self.tmpdir / "postgres.log"
        try:
            _run(
                [PG_BINDIR / "pg_ctl", "-D", self.datadir, "-l", log, "-w", "-t", "120", "start"],
                self.tmpdir,
                timeout=150,
            )
        except BenchError as exc:
            raise BenchError(f"{exc}\n{_tail(log)}") from None

    def stop(self) -> None:
        if self.tmpdir is None:
            return
        pidfile = self.datadir / "postmaster.pid"
        if pidfile.exists():
            try:
                _run(
                    [PG_BINDIR / "pg_ctl", "-D", self.datadir, "-m", "immediate", "-w", "stop"],
                    self.tmpdir,
                    timeout=60,
                )
            except (BenchError, subprocess.TimeoutExpired):
                with contextlib.suppress(OSError, ValueError, IndexError):
                    os.kill(int(pidfile.read_text().split()[0]), signal.SIGKILL)
        shutil.rmtree(self.tmpdir, ignore_errors=True)
        self.tmpdir = None


class PgBouncer:
    def __init__(self, pg: Postgres, users: list[str], admin: str) -> None:
        self.pg = pg
        self.users = users
        self.admin = admin
        self.port = 0
        self.tmpdir: Path | None = None
        self.proc: subprocess.Popen[bytes] | None = None
        self.version = _run([PGBOUNCER, "--version"], Path("/")).splitlines()[0]

    def start(self) -> None:
        self.tmpdir = Path(tempfile.mkdtemp(prefix="pgtop-bench-pgb-"))
        _run_as().hand_over(self.tmpdir)
        self.port = free_port(HOST)
        d = self.tmpdir
        ini = f"""[databases]
* = host={HOST} port={self.pg.port}

[pgbouncer]
listen_addr = {HOST}
listen_port = {self.port}
unix_socket_dir = {d}
auth_type = trust
auth_file = {d}/userlist.txt
admin_users = {self.admin}
stats_users = {self.admin}
pool_mode = transaction
default_pool_size = 20
max_client_conn = 1000
max_db_connections = 40
logfile = {d}/pgbouncer.log
pidfile = {d}/pgbouncer.pid
ignore_startup_parameters = extra_float_digits
log_connections = 0
log_disconnections = 0
"""
        (d / "pgbouncer.ini").write_text(ini)
        (d / "userlist.txt").write_text("".join(f'"{u}" ""\n' for u in self.users))
        for name in ("pgbouncer.ini", "userlist.txt"):
            _run_as().hand_over(d / name)
        self.proc = proc = start_child(
            [PGBOUNCER, d / "pgbouncer.ini"], run_as=_run_as(), cwd=d, log=d / "stderr.log"
        )
        started = wait_until(
            lambda: proc.poll() is not None or port_accepts(HOST, self.port),
            timeout=20,
            interval=0.05,
        )
        if not started or proc.poll() is not None:
            raise BenchError(f"pgbouncer did not start:\n{_tail(d / 'pgbouncer.log')}")

    def stop(self) -> None:
        # SIGINT: safe shutdown, after the clients have gone; killed if that takes 10 s.
        stop_process(self.proc, signal.SIGINT, timeout=10)
        self.proc = None
        if self.tmpdir is not None:
            shutil.rmtree(self.tmpdir, ignore_errors=True)
            self.tmpdir = None
