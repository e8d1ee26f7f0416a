"""pgtop: a terminal activity monitor for PostgreSQL and PgBouncer."""

__version__ = "0.1.0"
