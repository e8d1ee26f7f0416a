"""Fixtures for the reliability tests: one private PostgreSQL (and PgBouncer) they may break.

The servers are session-scoped to keep the suite fast (initdb costs ~1.5 s), and each test
gets them back *running*: a test that stopped, restarted or SIGSTOPped one and failed half
way does not leave the next test a dead server.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from rel_helpers import QUERY_SIZE

from pgtop.sandbox import discover_postgres
from support import PgBouncerServer, PostgresServer, find_pgbouncer, provision

REPO_ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="session")
def _rel_pg_server() -> Iterator[PostgresServer]:
    installs = discover_postgres(REPO_ROOT)
    if not installs:
        pytest.skip("no PostgreSQL found")
    server = PostgresServer(installs[0].bindir, settings={"track_activity_query_size": QUERY_SIZE})
    try:
        server.setup()
        provision(server)
        yield server
    finally:
        server.cleanup()


@pytest.fixture
def rel_pg(_rel_pg_server: PostgresServer) -> PostgresServer:
    """A private PostgreSQL this suite may restart; started if a previous test left it down."""
    if not _rel_pg_server.running:
        _rel_pg_server.start()
    return _rel_pg_server


@pytest.fixture(scope="session")
def _rel_bouncer(_rel_pg_server: PostgresServer) -> Iterator[PgBouncerServer]:
    if find_pgbouncer() is None:
        pytest.skip("pgbouncer binary not found")
    with PgBouncerServer(_rel_pg_server) as bouncer:
        yield bouncer


@pytest.fixture
def rel_bouncer(rel_pg: PostgresServer, _rel_bouncer: PgBouncerServer) -> PgBouncerServer:
    """A private PgBouncer in front of rel_pg; started if a previous test left it down."""
    if _rel_bouncer.process is None or _rel_bouncer.process.poll() is not None:
        _rel_bouncer.start()
    return _rel_bouncer


@pytest.fixture(autouse=True)
def _state_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Keep the audit log (written by cancel/terminate) out of the user's state dir."""
    monkeypatch.setenv("PGTOP_STATE_DIR", str(tmp_path / "state"))
    return tmp_path / "state"
