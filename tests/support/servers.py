"""The integration tests' servers: pgtop.sandbox's, with the tests' roles and passwords,
their settings, and the connections the tests open as admin. Each server object owns its
process and temp dir (see pgtop.sandbox); the fixtures in tests/conftest.py own the objects.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from pgtop import sandbox
from pgtop.sandbox import Setting, discover_postgres

from .roles import PG_LOGIN_ROLES, PGBOUNCER_ADMIN, PGBOUNCER_STATS, ROLES, SHOP_DB, SUPERUSER

if TYPE_CHECKING:
    from pathlib import Path

    import asyncpg
    import psycopg

PGBOUNCER_ENV = "PGTOP_TEST_PGBOUNCER"
# Beside the sandbox's fast settings: logs that say who did what, one date style.
TEST_SETTINGS: dict[str, Setting] = {
    "log_line_prefix": "%m [%p] %q%u@%d ",
    "datestyle": "iso, ymd",
}
ROLE_PASSWORDS = {role.name: role.password for role in ROLES.values()}


def find_pgbouncer() -> Path | None:
    """$PGTOP_TEST_PGBOUNCER, then PATH, then Debian's /usr/sbin (not on a user's PATH)."""
    return sandbox.find_pgbouncer(os.environ.get(PGBOUNCER_ENV))


class PostgresServer(sandbox.PostgresServer):
    """A test cluster: the tests' superuser and role passwords, socket logins trusted."""

    def __init__(
        self,
        bindir: str | os.PathLike[str],
        *,
        max_connections: int = 300,
        settings: Mapping[str, Setting] | None = None,
        superuser: str = SUPERUSER.name,
        password: str = SUPERUSER.password,
    ) -> None:
        super().__init__(
            bindir,
            superuser=superuser,
            password=password,
            auth_local="trust",
            max_connections=max_connections,
            settings={**TEST_SETTINGS, **(settings or {})},
            passwords=ROLE_PASSWORDS,
        )

    async def admin_connect(self, dbname: str = "postgres") -> asyncpg.Connection:
        import asyncpg

        return await asyncpg.connect(
            **self.dsn_kwargs(database=dbname),  # type: ignore[arg-type]
            server_settings={"application_name": "pgtop-test-admin"},
        )

    def admin_connect_sync(self, dbname: str = "postgres") -> psycopg.Connection:
        """Blocking superuser connection (autocommit) for setup code outside the event loop."""
        import psycopg

        return psycopg.connect(
            self.dsn(dbname=dbname), autocommit=True, application_name="pgtop-test-admin"
        )


class PgBouncerServer(sandbox.PgBouncerServer):
    """`* = host=127.0.0.1 port=<pg>`: any test database, any test role, the tests' admin
    and stats users."""

    def __init__(
        self,
        postgres: PostgresServer,
        *,
        binary: str | os.PathLike[str] | None = None,
        pool_mode: str = "session",
        default_pool_size: int = 2,
        max_client_conn: int = 200,
        settings: Mapping[str, str | int] | None = None,
        databases: Mapping[str, str] | None = None,
    ) -> None:
        users = (*PG_LOGIN_ROLES, PGBOUNCER_ADMIN, PGBOUNCER_STATS)
        super().__init__(
            postgres,
            users={role.name: role.password for role in users},
            admin_users=[PGBOUNCER_ADMIN.name],
            stats_users=[PGBOUNCER_STATS.name],
            pool_mode=pool_mode,
            default_pool_size=default_pool_size,
            max_client_conn=max_client_conn,
            settings=settings,
            databases=databases,
            binary=binary or find_pgbouncer(),
        )

    def admin_dsn(self) -> str:
        """The admin console (database `pgbouncer`) as an admin_users member."""
        return self.admin_uri(PGBOUNCER_ADMIN.name)

    def stats_dsn(self) -> str:
        """The admin console as a stats_users member: SHOW only, no PAUSE/KILL."""
        return self.admin_uri(PGBOUNCER_STATS.name)

    def client_dsn(
        self, user: str = "app_user", password: str | None = None, dbname: str = SHOP_DB
    ) -> str:
        """An ordinary pooled connection to `dbname` on the PostgreSQL behind us."""
        return self.uri(user, dbname, password if password is not None else ROLES[user].password)

    async def show(self, what: str, *, dsn: str | None = None) -> list[dict[str, Any]]:
        """`SHOW <what>` on the admin console, rows as dicts."""
        return await pgbouncer_show(dsn or self.admin_dsn(), what)


async def pgbouncer_show(dsn: str, what: str) -> list[dict[str, Any]]:
    """The admin console speaks only the simple query protocol: psycopg with a client-side
    cursor (no server-side prepare) and autocommit (no BEGIN) is what it accepts."""
    import psycopg
    from psycopg.rows import dict_row

    async with await psycopg.AsyncConnection.connect(
        dsn, autocommit=True, cursor_factory=psycopg.AsyncClientCursor
    ) as conn:
        cur = conn.cursor(row_factory=dict_row)
        await cur.execute(f"SHOW {what}")
        return await cur.fetchall()


__all__ = [
    "PgBouncerServer",
    "PostgresServer",
    "discover_postgres",
    "find_pgbouncer",
    "pgbouncer_show",
]
