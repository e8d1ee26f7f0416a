"""Throwaway PostgreSQL and PgBouncer servers on free loopback ports, in private temp dirs,
run as an unprivileged OS user when we are root: one implementation for `pgtop --demo`,
the tests and the benchmark. This module only gathers the public names; each server
object owns its own process and dir.

    binaries.py   find PostgreSQL/PgBouncer binaries and their versions
    procs.py      process plumbing: OS user, start as a child, stop for sure, free ports
    server.py     what every server shares: its dir, its OS user, cleanup at exit
    postgres.py   PostgresServer: initdb, start, stop, restart, DSNs
    pgbouncer.py  PgBouncerServer in front of a PostgresServer
"""

from pgtop.sandbox.binaries import (
    PgInstall,
    discover_postgres,
    find_pgbouncer,
    find_postgres_bindir,
    parse_version_num,
    read_version_num,
)
from pgtop.sandbox.pgbouncer import PgBouncerServer
from pgtop.sandbox.postgres import FAST_SETTINGS, PostgresServer, Setting
from pgtop.sandbox.procs import (
    SERVER_USER_ENV,
    RunAs,
    SandboxError,
    free_port,
    server_user,
    stop_process,
)

__all__ = [
    "FAST_SETTINGS",
    "SERVER_USER_ENV",
    "PgBouncerServer",
    "PgInstall",
    "PostgresServer",
    "RunAs",
    "SandboxError",
    "Setting",
    "discover_postgres",
    "find_pgbouncer",
    "find_postgres_bindir",
    "free_port",
    "parse_version_num",
    "read_version_num",
    "server_user",
    "stop_process",
]
