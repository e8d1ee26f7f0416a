"""Roles, databases and a little data for the demo workload to chew on.

The connection limits are derived from how many sessions the workload keeps open, so the
limits pane shows a role and a database just short of full.
"""

from __future__ import annotations

import asyncio
from typing import Any

DATABASES = {"shop": "app_user", "analytics": "report_user", "billing": "batch_user"}
ROLES = ("app_user", "report_user", "batch_user")

# Steady sessions of the limited role and database (see workload.py), plus one of headroom.
BATCH_WORKERS = 5  # batch_user in billing
INVOICE_WORKERS = 2  # app_user in billing
LIMITED_ROLE = "batch_user"  # batch workers + the analytics rollup (lock holder)
LIMITED_ROLE_LIMIT = BATCH_WORKERS + 1 + 1
LIMITED_DB = "billing"  # batch workers + invoice workers
LIMITED_DB_LIMIT = BATCH_WORKERS + INVOICE_WORKERS + 1

_DATA: dict[str, list[str]] = {
    "shop": [
        "CREATE TABLE accounts (id int PRIMARY KEY, owner text NOT NULL, balance numeric)",
        "INSERT INTO accounts SELECT g, 'customer ' || g, 1000 FROM generate_series(1, 1000) g",
        "CREATE TABLE orders (id bigserial PRIMARY KEY, account_id int, amount numeric,"
        " created timestamptz DEFAULT now())",
        "INSERT INTO orders (account_id, amount, created) SELECT 1 + g % 1000, g % 97,"
        " now() - g * interval '1 minute' FROM generate_series(1, 100000) g",
        "CREATE INDEX ON orders (account_id)",
    ],
    "analytics": [
        "CREATE TABLE events (id bigint, kind text, at timestamptz, value float8)",
        "INSERT INTO events SELECT g, (ARRAY['view','click','buy','refund'])[1 + g % 4],"
        " now() - g * interval '10 seconds', g % 113 FROM generate_series(1, 150000) g",
        "CREATE TABLE daily_rollup (day date, kind text, n bigint, total float8)",
    ],
    "billing": [
        "CREATE TABLE invoices (id int PRIMARY KEY, account_id int, amount numeric,"
        " status text DEFAULT 'open')",
        "INSERT INTO invoices SELECT g, 1 + g % 1000, g % 500 FROM generate_series(1, 20000) g",
    ],
}
_GRANTS = [
    "GRANT ALL ON ALL TABLES IN SCHEMA public TO PUBLIC",
    "GRANT ALL ON ALL SEQUENCES IN SCHEMA public TO PUBLIC",
    "ANALYZE",
]


async def create_roles(connect_kwargs: dict[str, Any]) -> None:
    """The roles, with the connection limit. Done before pgtop's first poll: pgtop reads
    role limits only every 30 s, so a role created later would miss the limits pane.
    `connect_kwargs` are asyncpg.connect's, for the superuser on the `postgres` database;
    every role gets the superuser's (generated) password."""
    import asyncpg

    conn = await asyncpg.connect(**connect_kwargs)
    try:
        # A utility statement takes no parameters: quote the password as a literal.
        password = await conn.fetchval("SELECT quote_literal($1)", connect_kwargs["password"])
        for role in ROLES:
            limit = LIMITED_ROLE_LIMIT if role == LIMITED_ROLE else -1
            await conn.execute(
                f"CREATE ROLE {role} LOGIN PASSWORD {password} CONNECTION LIMIT {limit}"
            )
    finally:
        await conn.close()


async def build_databases(connect_kwargs: dict[str, Any]) -> None:
    """Create and fill the three databases, side by side (CREATE DATABASE alone costs
    ~0.3 s). Runs in the workload's thread once pgtop's first screen is up: start-up stays
    quick, pgtop reads databases every tick, and the fill is some real work to watch."""
    import asyncpg

    async def build(db: str, owner: str) -> None:
        limit = LIMITED_DB_LIMIT if db == LIMITED_DB else -1
        c = await asyncpg.connect(**connect_kwargs)
        try:
            # One statement per call: CREATE DATABASE refuses to run inside a transaction.
            await c.execute(f"CREATE DATABASE {db} OWNER {owner} CONNECTION LIMIT {limit}")
        finally:
            await c.close()
        c = await asyncpg.connect(**{**connect_kwargs, "database": db})
        try:
            await c.execute("SET application_name = 'demo-setup'")
            for sql in [*_DATA[db], *_GRANTS]:
                await c.execute(sql)
        finally:
            await c.close()

    await asyncio.gather(*(build(db, owner) for db, owner in DATABASES.items()))
