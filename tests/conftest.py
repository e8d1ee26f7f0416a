"""Fixtures for tests against real PostgreSQL and PgBouncer servers (no mocks).

Servers start lazily, once per session and PostgreSQL installation, and are stopped (temp
dirs removed) at session end; an atexit hook in pgtop.sandbox.server catches anything a crashed
session leaves behind.

- pg_server        session, parametrized over every discovered PostgreSQL (ids pg15, pg18)
- pg_installs      session, list[PgInstall] of what discovery found
- primary_pg       session, the first install (Debian's); for tests needing just one server
- pgbouncer        session, PgBouncer (session pooling, pool size 2) in front of primary_pg
- workload         function, SessionFactory on pg_server; sessions closed after the test
- primary_workload function, SessionFactory on primary_pg (use with pgbouncer)
- make_postgres    function, factory for disposable servers (restart/stop tests)
- make_pgbouncer   function, factory for disposable PgBouncers
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio

from support import (
    PgBouncerServer,
    PgInstall,
    PostgresServer,
    SessionFactory,
    discover_postgres,
    find_pgbouncer,
    provision,
)

REPO_ROOT = Path(__file__).resolve().parent.parent
IN_CI = os.environ.get("CI") == "true"

# Discovery runs `postgres -V` per install (a few ms each) at import: the params need it.
PG_INSTALLS: list[PgInstall] = discover_postgres(REPO_ROOT)


def pytest_report_header(config: pytest.Config) -> list[str]:
    found = ", ".join(f"{i.id}={i.version_num} ({i.source}: {i.bindir})" for i in PG_INSTALLS)
    pgb = find_pgbouncer()
    return [f"postgres: {found or 'none found'}", f"pgbouncer: {pgb or 'not found'}"]


def _no_postgres() -> None:
    msg = "no PostgreSQL found (/usr/lib/postgresql/*/bin, $PGTOP_TEST_PG_BINDIRS, PATH)"
    if IN_CI:
        pytest.fail(msg)
    pytest.skip(msg)


class ServerPool:
    """One provisioned server per install, shared by pg_server[...] and primary_pg.

    Owning the servers here (not in the parametrized fixture) means pytest switching
    params does not restart them, and primary_pg reuses pg_server's pg15.
    """

    def __init__(self) -> None:
        self._servers: dict[Path, PostgresServer] = {}
        self._errors: dict[Path, BaseException] = {}

    def get(self, install: PgInstall) -> PostgresServer:
        if install.bindir in self._errors:  # fail fast instead of retrying a broken install
            raise self._errors[install.bindir]
        if install.bindir not in self._servers:
            server = PostgresServer(install.bindir)
            try:
                server.setup()
                provision(server)
            except BaseException as exc:
                server.cleanup()
                self._errors[install.bindir] = exc
                raise
            self._servers[install.bindir] = server
        return self._servers[install.bindir]

    def close(self) -> None:
        for server in self._servers.values():
            server.cleanup()
        self._servers.clear()


@pytest.fixture(scope="session")
def pg_installs() -> list[PgInstall]:
    """Every discovered PostgreSQL (first = primary_pg), whether or not a server runs."""
    return list(PG_INSTALLS)


@pytest.fixture(scope="session")
def _server_pool() -> Iterator[ServerPool]:
    pool = ServerPool()
    try:
        yield pool
    finally:
        pool.close()


@pytest.fixture(
    scope="session",
    params=PG_INSTALLS or [None],
    ids=[i.id for i in PG_INSTALLS] or ["no-postgres"],
)
def pg_server(request: pytest.FixtureRequest, _server_pool: ServerPool) -> PostgresServer:
    install: PgInstall | None = request.param
    if install is None:
        _no_postgres()
    assert install is not None
    return _server_pool.get(install)


@pytest.fixture(scope="session")
def primary_pg(_server_pool: ServerPool) -> PostgresServer:
    if not PG_INSTALLS:
        _no_postgres()
    return _server_pool.get(PG_INSTALLS[0])


@pytest.fixture(scope="session")
def pgbouncer(primary_pg: PostgresServer) -> Iterator[PgBouncerServer]:
    if find_pgbouncer() is None:
        msg = "pgbouncer binary not found (apt-get install pgbouncer, or set PGTOP_TEST_PGBOUNCER)"
        if IN_CI:  # CI must exercise the pooler: a missing binary is a broken setup
            pytest.fail(msg)
        pytest.skip(msg)
    with PgBouncerServer(primary_pg) as bouncer:
        yield bouncer


@pytest_asyncio.fixture
async def workload(pg_server: PostgresServer) -> AsyncIterator[SessionFactory]:
    factory = SessionFactory(pg_server)
    try:
        yield factory
    finally:
        await factory.close()


@pytest_asyncio.fixture
async def primary_workload(primary_pg: PostgresServer) -> AsyncIterator[SessionFactory]:
    factory = SessionFactory(primary_pg)
    try:
        yield factory
    finally:
        await factory.close()


@pytest.fixture
def make_postgres() -> Iterator[Callable[..., PostgresServer]]:
    """`make_postgres(bindir=None, provisioned=True, **PostgresServer kwargs)`: a disposable,
    started server (default: primary install) that the test may stop, restart or break."""
    made: list[PostgresServer] = []

    def make(
        bindir: Path | None = None, *, provisioned: bool = True, **kwargs: Any
    ) -> PostgresServer:
        if bindir is None:
            if not PG_INSTALLS:
                _no_postgres()
            bindir = PG_INSTALLS[0].bindir
        server = PostgresServer(bindir, **kwargs)
        made.append(server)
        server.setup()
        if provisioned:
            provision(server)
        return server

    try:
        yield make
    finally:
        for server in made:
            server.cleanup()


@pytest.fixture
def make_pgbouncer() -> Iterator[Callable[..., PgBouncerServer]]:
    """`make_pgbouncer(postgres, **PgBouncerServer kwargs)`: a disposable, started PgBouncer."""
    made: list[PgBouncerServer] = []

    def make(postgres: PostgresServer, **kwargs: Any) -> PgBouncerServer:
        if find_pgbouncer() is None and not IN_CI:
            pytest.skip("pgbouncer binary not found")
        bouncer = PgBouncerServer(postgres, **kwargs)
        made.append(bouncer)
        return bouncer.setup()

    try:
        yield make
    finally:
        for bouncer in made:
            bouncer.cleanup()
