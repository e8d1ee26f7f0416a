"""Names and passwords of the roles and databases every test server is provisioned with.

The passwords are deliberately boring: the servers listen on 127.0.0.1 only and live for
one test session in a temp dir.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Role:
    name: str
    password: str


SUPERUSER = Role("postgres", "postgres-test-pw")
# Member of pg_monitor: sees every session's query text and can call pg_blocking_pids().
MONITOR = Role("monitor", "monitor-test-pw")
# Logs in but is not pg_monitor: other roles' queries show as "<insufficient privilege>".
PLAIN_USER = Role("plain_user", "plain-test-pw")
# Owns the `shop` database; the default identity of workload sessions.
APP_USER = Role("app_user", "app-test-pw")
# Has CONNECTION LIMIT 5, so tests can fill a per-role limit quickly.
LIMITED_ROLE = Role("limited_role", "limited-test-pw")
LIMITED_ROLE_CONNECTION_LIMIT = 5

# PgBouncer-only users: they exist in PgBouncer's userlist, not in PostgreSQL.
PGBOUNCER_ADMIN = Role("pgtop_admin", "pgb-admin-test-pw")
PGBOUNCER_STATS = Role("pgtop_stats", "pgb-stats-test-pw")

SHOP_DB = "shop"  # owned by app_user
LIMITED_DB = "limited_db"  # CONNECTION LIMIT 10
LIMITED_DB_CONNECTION_LIMIT = 10
# A table in `shop` that lock chains may use; each chain gets its own copy (see workload).
LOCK_TABLE = "lock_target"

ROLES: dict[str, Role] = {
    r.name: r
    for r in (
        SUPERUSER,
        MONITOR,
        PLAIN_USER,
        APP_USER,
        LIMITED_ROLE,
        PGBOUNCER_ADMIN,
        PGBOUNCER_STATS,
    )
}

# Roles that exist in PostgreSQL (PgBouncer lets all of these through as well).
PG_LOGIN_ROLES: tuple[Role, ...] = (SUPERUSER, MONITOR, PLAIN_USER, APP_USER, LIMITED_ROLE)


def password_for(user: str) -> str:
    """The known password of a test role; KeyError for a name we never created."""
    return ROLES[user].password
