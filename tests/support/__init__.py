"""Real-server test support: the tests' roles, servers (pgtop.sandbox's, configured for the
tests) and workloads.

No mocks: integration tests run against every PostgreSQL that discovery finds.
"""

from pgtop.sandbox import PgInstall, SandboxError, discover_postgres

from .provision import provision
from .roles import (
    APP_USER,
    LIMITED_DB,
    LIMITED_ROLE,
    LOCK_TABLE,
    MONITOR,
    PGBOUNCER_ADMIN,
    PGBOUNCER_STATS,
    PLAIN_USER,
    ROLES,
    SHOP_DB,
    SUPERUSER,
    Role,
)
from .servers import PgBouncerServer, PostgresServer, find_pgbouncer, pgbouncer_show
from .workload import LockChain, LockTree, PooledLoad, SessionFactory

__all__ = [
    "APP_USER",
    "LIMITED_DB",
    "LIMITED_ROLE",
    "LOCK_TABLE",
    "MONITOR",
    "PGBOUNCER_ADMIN",
    "PGBOUNCER_STATS",
    "PLAIN_USER",
    "ROLES",
    "SHOP_DB",
    "SUPERUSER",
    "LockChain",
    "LockTree",
    "PgBouncerServer",
    "PgInstall",
    "PooledLoad",
    "PostgresServer",
    "Role",
    "SandboxError",
    "SessionFactory",
    "discover_postgres",
    "find_pgbouncer",
    "pgbouncer_show",
    "provision",
]
