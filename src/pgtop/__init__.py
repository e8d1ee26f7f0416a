"""pgtop: a terminal activity monitor for PostgreSQL and PgBouncer.

The package's only state is `__version__`, a constant. The layering of its packages is in
docs/design.md and enforced by the import-linter contracts in pyproject.toml.
"""

__version__ = "0.1.0"
