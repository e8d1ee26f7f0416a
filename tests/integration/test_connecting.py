"""Connecting as psql would, against real servers: TLS checks, host lists, services,
password prompts, PgBouncer's pooled port, bytes that are not UTF-8, masked passwords.

pgtop runs as a user runs it (a process with a clean environment, see test_cli_once);
the password prompt runs in a pseudo-terminal.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import subprocess
from collections.abc import Iterator
from pathlib import Path

import asyncpg
import psycopg
import pytest
from test_cli_once import (
    assert_one_line_error,
    clean_env,
    once_json,
    parse_ok,
    run_pgtop,
    server_args,
)

from pgtop.collect.errors import CollectError
from pgtop.collect.pgbouncer import PgBouncerCollector
from pgtop.collect.postgres import PostgresCollector
from pgtop.sandbox import free_port
from pgtop.target import ConnSettings
from support import (
    APP_USER,
    MONITOR,
    PGBOUNCER_ADMIN,
    SHOP_DB,
    PgBouncerServer,
    PostgresServer,
)
from support.terminal import run_in_terminal


@pytest.fixture
def home(tmp_path: Path) -> Path:
    """An empty HOME: no ~/.pgpass, no service file, no profiles of the developer's."""
    (tmp_path / "home").mkdir()
    return tmp_path / "home"


# -- TLS: a pinned CA is checked as psql checks it -------------------------------------------


def _openssl(*args: str, cwd: Path) -> None:
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True)


def _make_ca(directory: Path, name: str) -> None:
    _openssl(
        *("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1"),
        *("-nodes", "-days", "2", "-subj", f"/CN={name}"),
        *("-keyout", f"{name}.key", "-out", f"{name}.crt"),
        cwd=directory,
    )


@pytest.fixture(scope="module")
def tls_pg(primary_pg: PostgresServer) -> Iterator[tuple[PostgresServer, Path]]:
    """A PostgreSQL with ssl=on and a certificate for `localhost` signed by ca.crt;
    other.crt is a CA that signed nothing of it."""
    server = PostgresServer(primary_pg.bindir)
    try:
        server.setup()
        from support import provision

        provision(server)
        data = server.datadir
        _make_ca(data, "ca")
        _make_ca(data, "other")
        _openssl(
            *("req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"),
            *("-subj", "/CN=localhost", "-keyout", "server.key", "-out", "server.csr"),
            cwd=data,
        )
        (data / "san.ext").write_text("subjectAltName=DNS:localhost\n")
        _openssl(
            *("x509", "-req", "-in", "server.csr", "-CA", "ca.crt", "-CAkey", "ca.key"),
            *("-CAcreateserial", "-days", "2", "-extfile", "san.ext", "-out", "server.crt"),
            cwd=data,
        )
        for path in data.glob("*.*"):
            if path.suffix in (".crt", ".key"):
                path.chmod(0o600 if path.suffix == ".key" else 0o644)
                server.run_as.hand_over(path)
        server.extra_settings.update(
            ssl=True, ssl_cert_file=str(data / "server.crt"), ssl_key_file=str(data / "server.key")
        )
        server.restart()
        # The client side: CA files a user could read, outside the data directory.
        client = server._dir() / "client"
        client.mkdir()
        for name in ("ca.crt", "other.crt"):
            (client / name).write_bytes((data / name).read_bytes())
        yield server, client
    finally:
        server.cleanup()


def _tls_conninfo(server: PostgresServer, host: str, **extra: str) -> str:
    words = {"host": host, "port": str(server.port), "user": MONITOR.name, "dbname": "postgres"}
    words.update(extra)
    return " ".join(f"{k}={v}" for k, v in words.items())


def test_the_right_pinned_ca_connects(tls_pg: tuple[PostgresServer, Path], home: Path) -> None:
    server, client = tls_pg
    conninfo = _tls_conninfo(
        server, "localhost", sslmode="verify-full", sslrootcert=str(client / "ca.crt")
    )
    data = parse_ok(
        run_pgtop([conninfo, *once_json()], clean_env(home, PGPASSWORD=MONITOR.password))
    )
    assert data["server"]["current_user"] == MONITOR.name


@pytest.mark.parametrize("via", ["keyword", "PGSSLROOTCERT"])
def test_a_wrong_pinned_ca_is_refused(
    via: str, tls_pg: tuple[PostgresServer, Path], home: Path
) -> None:
    server, client = tls_pg
    wrong = str(client / "other.crt")
    env = clean_env(home, PGPASSWORD=MONITOR.password)
    if via == "keyword":
        conninfo = _tls_conninfo(server, "127.0.0.1", sslmode="verify-ca", sslrootcert=wrong)
    else:
        conninfo = _tls_conninfo(server, "127.0.0.1", sslmode="verify-ca")
        env["PGSSLROOTCERT"] = wrong
    line = assert_one_line_error(run_pgtop([conninfo, *once_json()], env), 1)
    assert "certificate" in line and f"127.0.0.1:{server.port}" in line
    # psql refuses the same settings.
    psql = subprocess.run(
        [str(server.bindir / "psql"), conninfo, "-c", "select 1"],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert psql.returncode != 0 and "certificate verify failed" in psql.stderr


def test_verify_full_checks_the_host_name(tls_pg: tuple[PostgresServer, Path], home: Path) -> None:
    server, client = tls_pg
    conninfo = _tls_conninfo(
        server, "127.0.0.1", sslmode="verify-full", sslrootcert=str(client / "ca.crt")
    )
    proc = run_pgtop([conninfo, *once_json()], clean_env(home, PGPASSWORD=MONITOR.password))
    assert "certificate" in assert_one_line_error(proc, 1)


def test_a_check_pgtop_cannot_make_is_refused(primary_pg: PostgresServer, home: Path) -> None:
    conninfo = f"host=127.0.0.1 port={primary_pg.port} user=monitor channel_binding=require"
    proc = run_pgtop([conninfo, *once_json()], clean_env(home, PGPASSWORD=MONITOR.password))
    assert "channel_binding=require" in assert_one_line_error(proc, 2)


# -- host and port lists, target_session_attrs --------------------------------------------


def test_host_and_port_lists_try_each_in_turn(primary_pg: PostgresServer, home: Path) -> None:
    closed = free_port("127.0.0.1")
    conninfo = (
        f"host=127.0.0.1,{primary_pg.host} port={closed},{primary_pg.port} "
        f"user={MONITOR.name} dbname=postgres"
    )
    data = parse_ok(
        run_pgtop([conninfo, *once_json()], clean_env(home, PGPASSWORD=MONITOR.password))
    )
    assert data["server"]["address"] == f"{primary_pg.host}:{primary_pg.port}"


def test_target_session_attrs_is_honoured(primary_pg: PostgresServer, home: Path) -> None:
    env = clean_env(home, PGPASSWORD=MONITOR.password)
    base = f"host={primary_pg.host} port={primary_pg.port} user={MONITOR.name} dbname=postgres"
    parse_ok(run_pgtop([f"{base} target_session_attrs=read-write", *once_json()], env))
    proc = run_pgtop([f"{base} target_session_attrs=standby", *once_json()], env)
    assert "target_session_attrs" in assert_one_line_error(proc, 1)


# -- service files --------------------------------------------------------------------------


@pytest.mark.parametrize("form", ["positional", "-d", "PGSERVICE", "PGSERVICEFILE", "PGSYSCONFDIR"])
def test_service_files_work_as_in_psql(form: str, primary_pg: PostgresServer, home: Path) -> None:
    entry = (
        f"[watch]\nhost={primary_pg.host}\nport={primary_pg.port}\n"
        f"user={MONITOR.name}\ndbname={SHOP_DB}\n"
    )
    env = clean_env(home, PGPASSWORD=MONITOR.password, PGSYSCONFDIR=str(home / "no-etc"))
    args: list[str] = []
    if form == "PGSERVICEFILE":
        (home / "elsewhere.conf").write_text(entry)
        env["PGSERVICEFILE"] = str(home / "elsewhere.conf")
        args = ["service=watch"]
    elif form == "PGSYSCONFDIR":
        (home / "etc").mkdir()
        (home / "etc" / "pg_service.conf").write_text(entry)
        env["PGSYSCONFDIR"] = str(home / "etc")
        args = ["service=watch"]
    else:
        (home / ".pg_service.conf").write_text(entry)
        if form == "PGSERVICE":
            env["PGSERVICE"] = "watch"
        else:
            args = ["service=watch"] if form == "positional" else ["-d", "service=watch"]
    data = parse_ok(run_pgtop([*args, *once_json()], env))
    assert data["server"]["current_user"] == MONITOR.name
    assert data["server"]["address"] == f"{primary_pg.host}:{primary_pg.port}"
    # psql connects with the same settings (the README promises parity).
    psql = subprocess.run(
        [str(primary_pg.bindir / "psql"), *args, "-Atc", "select current_database()"],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert psql.stdout.strip() == SHOP_DB, psql.stderr


@pytest.mark.parametrize("mode", ["once", "full screen"])
def test_an_unknown_service_is_one_line(mode: str, home: Path) -> None:
    if mode == "once":
        proc = run_pgtop(["service=nope", *once_json()], clean_env(home))
    else:
        proc = run_pgtop(["service=nope"], clean_env(home, PGTOP_FORCE_TTY="1"))
    assert 'service "nope" not found' in assert_one_line_error(proc, 2)


# -- a password prompt where psql would ask ------------------------------------------------


def _run_in_terminal(args: list[str], env: dict[str, str], answer: str) -> tuple[int, str]:
    """pgtop on a terminal of its own, answering the password prompt."""
    return run_in_terminal(args, env, [(b"Password for", answer.encode() + b"\n")])


def test_prompts_for_a_password_on_a_terminal(primary_pg: PostgresServer, home: Path) -> None:
    code, out = _run_in_terminal(
        [*server_args(primary_pg), *once_json()], clean_env(home), MONITOR.password
    )
    assert code == 0, out
    prompt, _, rest = out.partition(f"Password for {MONITOR.name}@")
    assert prompt == ""
    data = json.loads(rest[rest.index("{") :])
    assert data["server"]["current_user"] == MONITOR.name
    assert MONITOR.password not in out  # no echo


def test_no_prompt_without_a_terminal(primary_pg: PostgresServer, home: Path) -> None:
    proc = run_pgtop([*server_args(primary_pg), *once_json()], clean_env(home))
    line = assert_one_line_error(proc, 1)
    assert "asks for a password and none was given" in line


def test_the_full_screen_view_prompts_too(primary_pg: PostgresServer, home: Path) -> None:
    """The prompt comes before the app takes the terminal; a wrong answer is one line."""
    code, out = _run_in_terminal(server_args(primary_pg), clean_env(home), "not-the-password")
    assert code == 1, out
    assert "Password for" in out
    assert "password authentication failed" in out.splitlines()[-1]


# -- TERM=dumb ----------------------------------------------------------------------------


@pytest.mark.parametrize("mode", ["live", "--demo", "--replay"])
def test_a_dumb_terminal_is_refused(mode: str, primary_pg: PostgresServer, home: Path) -> None:
    env = clean_env(home, PGPASSWORD=MONITOR.password, TERM="dumb", PGTOP_FORCE_TTY="1")
    args = {"live": server_args(primary_pg), "--demo": ["--demo"]}.get(
        mode, ["--replay", str(home / "some.pgtop")]
    )
    line = assert_one_line_error(run_pgtop(args, env), 2)
    assert "TERM=dumb" in line and "--once" in line
    # --once is what such a terminal (or Emacs' shell) should use, and it works there.
    parse_ok(run_pgtop([*server_args(primary_pg), *once_json()], env))


# -- PgBouncer's pooled port instead of PostgreSQL ------------------------------------------


def _pooled_args(bouncer: PgBouncerServer) -> list[str]:
    return ["-h", bouncer.host, "-p", str(bouncer.port), "-U", APP_USER.name, "-d", SHOP_DB]


async def _use_pool(bouncer: PgBouncerServer) -> None:
    """An application that prepared statements through the pool, as asyncpg apps do."""
    conn = await asyncpg.connect(bouncer.client_dsn())
    try:
        for _ in range(3):
            await conn.fetchval("SELECT 1 + $1::int", 1)
    finally:
        await conn.close()


@pytest.mark.parametrize("pool_mode", ["session", "transaction"])
async def test_pooled_port_is_refused_in_one_line(
    pool_mode: str, primary_pg: PostgresServer, make_pgbouncer: object, home: Path
) -> None:
    bouncer: PgBouncerServer = make_pgbouncer(primary_pg, pool_mode=pool_mode)  # type: ignore[operator]
    await _use_pool(bouncer)
    env = clean_env(home, PGPASSWORD=APP_USER.password)
    expected = (
        f"pgtop: {bouncer.host}:{bouncer.port} is PgBouncer, not PostgreSQL: point pgtop at "
        "PostgreSQL and pass this address with --pooler"
    )
    once = await asyncio.to_thread(run_pgtop, [*_pooled_args(bouncer), *once_json()], env)
    assert assert_one_line_error(once, 1) == expected
    app = await asyncio.to_thread(run_pgtop, _pooled_args(bouncer), {**env, "PGTOP_FORCE_TTY": "1"})
    assert assert_one_line_error(app, 1) == expected
    # pgtop's timeouts never reached a server connection that other clients get.
    with psycopg.connect(bouncer.client_dsn(), autocommit=True) as conn:
        for setting in ("statement_timeout", "idle_in_transaction_session_timeout"):
            assert conn.execute(f"SHOW {setting}").fetchone() == ("0",)


async def test_the_pooler_admin_console_is_refused_in_one_line(
    primary_pg: PostgresServer, make_pgbouncer: object, home: Path
) -> None:
    # Database "pgbouncer" of the pooled port is PgBouncer's console: it printed
    # "invalid command 'SELECT 1 / (pg_backend_pid() = ...)::int', use SHOW HELP;".
    bouncer: PgBouncerServer = make_pgbouncer(primary_pg, pool_mode="transaction")  # type: ignore[operator]
    args = ["-h", bouncer.host, "-p", str(bouncer.port), "-U", PGBOUNCER_ADMIN.name]
    env = clean_env(home, PGPASSWORD=PGBOUNCER_ADMIN.password)
    once = await asyncio.to_thread(run_pgtop, [*args, "-d", "pgbouncer", *once_json()], env)
    assert assert_one_line_error(once, 1) == (
        f"pgtop: {bouncer.host}:{bouncer.port} is PgBouncer, not PostgreSQL: point pgtop at "
        "PostgreSQL and pass this address with --pooler"
    )


async def test_pooled_port_is_refused_on_every_reconnect(
    primary_pg: PostgresServer, make_pgbouncer: object
) -> None:
    bouncer: PgBouncerServer = make_pgbouncer(primary_pg, pool_mode="transaction")  # type: ignore[operator]
    collector = PostgresCollector(
        ConnSettings(
            {"host": bouncer.host, "port": str(bouncer.port), "user": APP_USER.name,
             "dbname": SHOP_DB}
        ),
        password=APP_USER.password,
    )  # fmt: skip
    for _ in range(2):  # the first connection, then the poller's retry
        with pytest.raises(CollectError, match="is PgBouncer, not PostgreSQL"):
            await collector.poll()
    assert not collector.connected


# -- a query that is not UTF-8 -------------------------------------------------------------


@pytest.fixture(scope="module")
def sql_ascii_db(primary_pg: PostgresServer) -> str:
    name = "pgtop_sql_ascii"
    with primary_pg.admin_connect_sync() as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {name}")
        conn.execute(
            f"CREATE DATABASE {name} ENCODING 'SQL_ASCII' LC_COLLATE 'C' LC_CTYPE 'C' "
            "TEMPLATE template0"
        )
        conn.execute(f"GRANT CONNECT ON DATABASE {name} TO PUBLIC")
    return name


async def test_a_query_in_bad_encoding_is_shown_with_stand_ins(
    primary_pg: PostgresServer, sql_ascii_db: str, home: Path
) -> None:
    dsn = primary_pg.dsn(dbname=sql_ascii_db)
    async with await psycopg.AsyncConnection.connect(
        dsn, autocommit=True, client_encoding="SQL_ASCII", application_name="latin1-client"
    ) as client:
        running = asyncio.ensure_future(client.execute(b"SELECT pg_sleep(8) /* caf\xe9 \xff */"))
        try:
            await asyncio.sleep(0.5)
            env = clean_env(home, PGPASSWORD=MONITOR.password)
            data = parse_ok(
                await asyncio.to_thread(run_pgtop, [*server_args(primary_pg), *once_json()], env)
            )
            queries = [
                s["query"] for s in data["sessions"] if s["application_name"] == "latin1-client"
            ]
            assert queries == ["SELECT pg_sleep(8) /* caf\\xe9 \\xff */"]
        finally:
            await client.cancel_safe()
            with contextlib.suppress(psycopg.Error):
                await running


# -- passwords never shown in errors ---------------------------------------------------------

SECRET = "Pooler-Secret-4417"


@pytest.mark.parametrize("mode", ["once", "full screen"])
def test_a_bad_pooler_uri_never_shows_its_password(
    mode: str, primary_pg: PostgresServer, home: Path
) -> None:
    """The full screen checks it while Textual imports (off the first screen's path)."""
    bad = f"postgresql://pgtop_admin:{SECRET}%zz@127.0.0.1:6432/pgbouncer"
    args = [*server_args(primary_pg), "--pooler", bad]
    proc = run_pgtop(
        [*args, *once_json()] if mode == "once" else args,
        clean_env(home, PGPASSWORD=MONITOR.password, PGTOP_FORCE_TTY="1"),
    )
    assert "--pooler" in assert_one_line_error(proc, 2)
    assert SECRET not in proc.stderr + proc.stdout


def test_a_malformed_uri_never_shows_its_password(home: Path) -> None:
    proc = run_pgtop(
        [f"postgresql://monitor:{SECRET}@[::1/postgres", *once_json()], clean_env(home)
    )
    line = assert_one_line_error(proc, 2)
    assert "***" in line and SECRET not in proc.stderr + proc.stdout


async def test_a_pooler_error_never_shows_its_password() -> None:
    """What reaches the screen, --once JSON and a recording is the collector's message."""
    port = free_port("127.0.0.1")
    collector = PgBouncerCollector(
        f"postgresql://pgtop_admin:{SECRET}%zz@127.0.0.1:{port}/pgbouncer"
    )
    with pytest.raises(CollectError) as caught:
        await collector.poll()
    assert SECRET not in caught.value.message and "***" in caught.value.message
