"""Real-server test support: throwaway PostgreSQL/PgBouncer servers and workloads.

No mocks: integration tests run against every PostgreSQL that discovery finds.
"""

from .discovery import PgInstall, discover_postgres
from .pgbouncer import PgBouncerServer, find_pgbouncer, pgbouncer_show
from .procs import ServerError
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
from .servers import PostgresServer
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
    "ServerError",
    "SessionFactory",
    "discover_postgres",
    "find_pgbouncer",
    "pgbouncer_show",
    "provision",
]
