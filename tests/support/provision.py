"""The roles and databases every test server gets, created once per server."""

from __future__ import annotations

from typing import TYPE_CHECKING

from psycopg import sql

from .roles import (
    APP_USER,
    LIMITED_DB,
    LIMITED_DB_CONNECTION_LIMIT,
    LIMITED_ROLE,
    LIMITED_ROLE_CONNECTION_LIMIT,
    LOCK_TABLE,
    MONITOR,
    PLAIN_USER,
    SHOP_DB,
    Role,
)

if TYPE_CHECKING:
    from .servers import PostgresServer


def _create_role(role: Role, extra: str = "") -> sql.Composed:
    return sql.SQL("CREATE ROLE {} LOGIN PASSWORD {} " + extra).format(
        sql.Identifier(role.name), sql.Literal(role.password)
    )


def provision(server: PostgresServer) -> None:
    """monitor (pg_monitor), plain_user, app_user owning `shop`, limited_role (CONNECTION
    LIMIT 5), limited_db (CONNECTION LIMIT 10), and shop.public.lock_target."""
    ident = sql.Identifier
    with server.admin_connect_sync() as conn:
        conn.execute(_create_role(MONITOR))
        conn.execute(sql.SQL("GRANT pg_monitor TO {}").format(ident(MONITOR.name)))
        conn.execute(_create_role(PLAIN_USER))
        conn.execute(_create_role(APP_USER))
        conn.execute(
            _create_role(LIMITED_ROLE, f"CONNECTION LIMIT {LIMITED_ROLE_CONNECTION_LIMIT}")
        )
        # CREATE DATABASE cannot run in a transaction block: one statement per execute().
        conn.execute(
            sql.SQL("CREATE DATABASE {} OWNER {}").format(ident(SHOP_DB), ident(APP_USER.name))
        )
        conn.execute(
            sql.SQL("CREATE DATABASE {} CONNECTION LIMIT {}").format(
                ident(LIMITED_DB), sql.Literal(LIMITED_DB_CONNECTION_LIMIT)
            )
        )
    with server.admin_connect_sync(SHOP_DB) as conn:
        conn.execute(sql.SQL("CREATE TABLE {} (id int PRIMARY KEY)").format(ident(LOCK_TABLE)))
        conn.execute(
            sql.SQL("ALTER TABLE {} OWNER TO {}").format(ident(LOCK_TABLE), ident(APP_USER.name))
        )
