"""`pgtop --once` as a user runs it: a real process, real servers, exit codes and output.

Every run gets a clean environment: no PG* variables of the developer's shell, HOME in a
temp dir (no ~/.pgpass, no saved profiles). Passwords go through PGPASSWORD, .pgpass or,
only where URIs themselves are under test, the URI.
"""

from __future__ import annotations

import asyncio
import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from pgtop import __version__
from pgtop.sandbox import free_port
from support import (
    APP_USER,
    LIMITED_DB,
    MONITOR,
    PGBOUNCER_ADMIN,
    PLAIN_USER,
    SHOP_DB,
    PgBouncerServer,
    PostgresServer,
    SessionFactory,
)

WRONG_PASSWORD = "Wr0ng-Cli-Secret-93817"


@pytest.fixture
def home(tmp_path: Path) -> Path:
    home = tmp_path / "home"
    home.mkdir()
    return home


def clean_env(home: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PG")}
    env.update(
        HOME=str(home),
        XDG_CONFIG_HOME=str(home / ".config"),
        PGTOP_CONFIG=str(home / "no-profiles.toml"),  # never read the developer's profiles
        PYTHONDONTWRITEBYTECODE="1",
    )
    env.update(extra)
    return env


def run_pgtop(
    args: list[str], env: dict[str, str], timeout: float = 30
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "pgtop", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=env,
        stdin=subprocess.DEVNULL,
    )


async def arun_pgtop(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """From an async test: keep the event loop (and the workload's sessions) running."""
    return await asyncio.to_thread(run_pgtop, args, env)


def server_args(
    server: PostgresServer, user: str = MONITOR.name, dbname: str = "postgres"
) -> list[str]:
    return ["-h", server.host, "-p", str(server.port), "-U", user, "-d", dbname]


def once_json(extra: list[str] | None = None) -> list[str]:
    return ["--once", "--format", "json", "--refresh", "0.5", *(extra or [])]


def parse_ok(proc: subprocess.CompletedProcess[str]) -> dict[str, Any]:
    assert proc.returncode == 0, proc.stderr
    assert "Traceback" not in proc.stderr
    data: dict[str, Any] = json.loads(proc.stdout)
    assert data["schema"] == "pgtop.snapshot/1"
    return data


def assert_one_line_error(proc: subprocess.CompletedProcess[str], code: int) -> str:
    assert proc.returncode == code, (proc.stdout, proc.stderr)
    assert "Traceback" not in proc.stderr + proc.stdout
    lines = proc.stderr.splitlines()
    assert len(lines) == 1, proc.stderr
    assert lines[0].startswith("pgtop:")
    return lines[0]


# -- the JSON and text reports ---------------------------------------------------------------


async def test_json_snapshot_with_lock_chain(
    primary_pg: PostgresServer, primary_workload: SessionFactory, home: Path
) -> None:
    chain = await primary_workload.lock_chain(waiters=2)
    idle = await primary_workload.idle()
    env = clean_env(home, PGPASSWORD=MONITOR.password)
    data = parse_ok(await arun_pgtop([*server_args(primary_pg), *once_json()], env))
    sessions = {s["pid"]: s for s in data["sessions"]}
    holder = sessions[chain.holder]
    assert holder["state"] == "idle in transaction"
    assert holder["wait_event_type"] == "Client"
    assert holder["blocked_by"] == []
    assert holder["xact_age_s"] >= 0
    for pid in chain.waiters:
        w = sessions[pid]
        assert w["state"] == "active"
        assert w["wait_event_type"] == "Lock"
        assert w["wait_event"] == "relation"
        assert w["blocked_by"] == [chain.holder]
        assert w["database"] == SHOP_DB and w["user"] == APP_USER.name
        assert (
            w["application_name"]
            == f"{primary_workload.tag}-lock-waiter-{chain.waiters.index(pid) + 1}"
        )
    assert sessions[idle]["state"] == "idle"
    assert sessions[idle]["blocked_by"] == []
    rates = data["rates"]
    assert isinstance(rates["transactions_per_s"], int | float)
    assert not isinstance(rates["transactions_per_s"], bool)
    assert rates["transactions_per_s"] >= 0
    assert rates["interval_s"] >= 0.4
    own = data["own_pids"]
    assert len(own) == 1 and own[0] not in sessions
    assert data["server"]["current_user"] == MONITOR.name
    assert data["server"]["can_see_all_sessions"] is True
    assert data["server"]["version_num"] == primary_pg.version_num
    assert data["server"]["address"] == f"{primary_pg.host}:{primary_pg.port}"
    shop = next(d for d in data["databases"] if d["name"] == SHOP_DB)
    assert shop["counts"]["waiting_on_lock"] == 2
    assert data["limits"]["max_connections"] == primary_pg.max_connections
    assert data["pooler"] is None and data["pooler_error"] is None
    assert MONITOR.password not in json.dumps(data)


async def test_text_summary(
    primary_pg: PostgresServer, primary_workload: SessionFactory, home: Path
) -> None:
    chain = await primary_workload.lock_chain(waiters=1)
    env = clean_env(home, PGPASSWORD=MONITOR.password)
    proc = await arun_pgtop(
        [*server_args(primary_pg), "--once", "--format", "text", "--refresh", "0.5"], env
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr == ""
    out = proc.stdout
    assert out.startswith("findings: ")  # findings first (here: none, the chain is young)
    assert f"\n\nPostgreSQL {primary_pg.major}." in out
    assert f"at {primary_pg.host}:{primary_pg.port}" in out
    assert f"max_connections {primary_pg.max_connections}" in out
    assert "transactions/s:" in out
    for name in ("postgres", SHOP_DB, LIMITED_DB):
        assert any(line.split()[:1] == [name] for line in out.splitlines()), name
    assert f"[blocked by {chain.holder}]" in out
    assert not any(line.startswith("template") for line in out.splitlines())


# -- PgBouncer -------------------------------------------------------------------------------


async def test_pooler_console(
    primary_pg: PostgresServer,
    pgbouncer: PgBouncerServer,
    primary_workload: SessionFactory,
    home: Path,
) -> None:
    await primary_workload.pooled_sleepers(pgbouncer, clients=3)
    env = clean_env(home, PGPASSWORD=MONITOR.password)
    proc = await arun_pgtop(
        [*server_args(primary_pg), *once_json(["--pooler", pgbouncer.admin_dsn()])], env
    )
    data = parse_ok(proc)
    assert data["pooler_error"] is None
    pooler = data["pooler"]
    assert pooler["address"] == f"{pgbouncer.host}:{pgbouncer.port}"
    pools = [p for p in pooler["pools"] if p["database"] == SHOP_DB and p["user"] == APP_USER.name]
    assert len(pools) == 1
    assert pools[0]["sv_active"] == 2 and pools[0]["cl_waiting"] == 1
    assert pools[0]["maxwait_s"] > 0
    assert not any(p["database"] == "pgbouncer" for p in pooler["pools"])
    assert pooler["clients"] == 3
    assert pooler["config"]["default_pool_size"] == "2"
    assert data["rates"]["pooler_transactions_per_s"] is not None
    # The console password is in argv (a URI) but must never be echoed.
    assert PGBOUNCER_ADMIN.password not in proc.stdout + proc.stderr


def test_pooler_pointing_at_postgresql(primary_pg: PostgresServer, home: Path) -> None:
    """PostgreSQL data still comes; the pooler problem is reported, not fatal."""
    env = clean_env(home, PGPASSWORD=MONITOR.password)
    not_console = primary_pg.dsn(MONITOR.name)
    proc = run_pgtop([*server_args(primary_pg), *once_json(["--pooler", not_console])], env)
    data = parse_ok(proc)
    assert data["sessions"] is not None and data["databases"]
    assert data["pooler"] is None
    assert "is not a PgBouncer admin console" in data["pooler_error"]
    warning = proc.stderr.strip().splitlines()
    assert len(warning) == 1 and warning[0].startswith("pgtop: warning:")
    assert "is not a PgBouncer admin console" in warning[0]
    assert MONITOR.password not in proc.stderr


# -- ways to say where to connect ------------------------------------------------------------


@pytest.mark.parametrize("form", ["uri", "conninfo", "flags", "environment", "pgpass"])
def test_connection_forms(form: str, primary_pg: PostgresServer, home: Path) -> None:
    pg = primary_pg
    host, port, user = pg.host, str(pg.port), MONITOR.name
    with_password = {"PGPASSWORD": MONITOR.password}
    if form == "uri":
        args, env = [pg.dsn(user, dbname=SHOP_DB)], clean_env(home)
    elif form == "conninfo":
        args = [f"host={host} port={port} user={user} dbname={SHOP_DB}"]
        env = clean_env(home, **with_password)
    elif form == "flags":
        args, env = server_args(pg, user, SHOP_DB), clean_env(home, **with_password)
    elif form == "environment":
        args = []
        env = clean_env(
            home, PGHOST=host, PGPORT=port, PGUSER=user, PGDATABASE=SHOP_DB, **with_password
        )
    else:
        path = home / ".pgpass"
        path.write_text(f"{host}:{port}:*:{user}:{MONITOR.password}\n")
        path.chmod(0o600)
        args, env = server_args(pg, user, SHOP_DB), clean_env(home)
        assert "PGPASSWORD" not in env
    data = parse_ok(run_pgtop([*args, *once_json()], env))
    assert data["server"]["current_user"] == user
    assert data["server"]["address"] == f"{host}:{port}"


# -- failures: one line on stderr, the right exit code ---------------------------------------


def test_closed_port(home: Path) -> None:
    port = free_port("127.0.0.1")
    proc = run_pgtop(
        ["-h", "127.0.0.1", "-p", str(port), "-U", MONITOR.name, *once_json()],
        clean_env(home, PGPASSWORD=MONITOR.password),
    )
    line = assert_one_line_error(proc, 1)
    assert f"127.0.0.1:{port}" in line
    assert "refused" in line


@pytest.fixture
def silent_listener() -> Iterator[int]:
    """A port whose kernel completes the TCP handshake but where nobody ever answers."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    sock.listen(16)
    try:
        yield sock.getsockname()[1]
    finally:
        sock.close()


def test_connect_timeout(silent_listener: int, home: Path) -> None:
    started = time.monotonic()
    proc = run_pgtop(
        [
            *["-h", "127.0.0.1", "-p", str(silent_listener), "-U", MONITOR.name],
            *once_json(["--connect-timeout", "1"]),
        ],
        clean_env(home, PGPASSWORD=MONITOR.password),
        timeout=20,
    )
    elapsed = time.monotonic() - started
    line = assert_one_line_error(proc, 1)
    assert elapsed < 1 + 3, elapsed
    assert f"127.0.0.1:{silent_listener}" in line
    assert "timed out" in line


@pytest.mark.parametrize("via", ["PGPASSWORD", "uri"])
def test_wrong_password(via: str, primary_pg: PostgresServer, home: Path) -> None:
    if via == "uri":
        args = [primary_pg.dsn(MONITOR.name, WRONG_PASSWORD)]
        env = clean_env(home)
    else:
        args = server_args(primary_pg)
        env = clean_env(home, PGPASSWORD=WRONG_PASSWORD)
    proc = run_pgtop([*args, *once_json()], env)
    line = assert_one_line_error(proc, 1)
    assert "password authentication failed" in line
    assert MONITOR.name in line
    assert WRONG_PASSWORD not in proc.stderr + proc.stdout


@pytest.mark.parametrize(
    ("conn", "needle"),
    [
        (f"postgresql://{MONITOR.name}:{WRONG_PASSWORD}@127.0.0.1:notaport/postgres", "notaport"),
        (f"host=127.0.0.1 password={WRONG_PASSWORD} user='unterminated", "invalid connection"),
    ],
    ids=["bad-port-in-uri", "unterminated-quote"],
)
def test_bad_connection_string(conn: str, needle: str, home: Path) -> None:
    proc = run_pgtop([conn, *once_json()], clean_env(home))
    line = assert_one_line_error(proc, 2)
    assert needle in line
    assert WRONG_PASSWORD not in proc.stderr + proc.stdout


def test_unknown_database(primary_pg: PostgresServer, home: Path) -> None:
    proc = run_pgtop(
        [*server_args(primary_pg, dbname="no_such_db"), *once_json()],
        clean_env(home, PGPASSWORD=MONITOR.password),
    )
    line = assert_one_line_error(proc, 1)
    assert '"no_such_db" does not exist' in line


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["--once", "--refresh", "0.1"], "--refresh"),
        (["--once", "--refresh", "soon"], "--refresh"),
        (["--once", "--bogus-flag"], "--bogus-flag"),
        (["--once", "--format", "yaml"], "--format"),
    ],
    ids=["refresh-too-small", "refresh-not-a-number", "unknown-flag", "bad-format"],
)
def test_usage_errors(args: list[str], needle: str, home: Path) -> None:
    proc = run_pgtop(args, clean_env(home))
    line = assert_one_line_error(proc, 2)
    assert needle in line
    assert proc.stdout == ""


def test_help_and_version(home: Path) -> None:
    helped = run_pgtop(["--help"], clean_env(home))
    assert helped.returncode == 0 and helped.stderr == ""
    assert helped.stdout.startswith("usage: pgtop")
    for flag in ("--once", "--pooler", "--refresh", "--connect-timeout"):
        assert flag in helped.stdout
    version = run_pgtop(["--version"], clean_env(home))
    assert version.returncode == 0 and version.stderr == ""
    assert version.stdout.strip() == f"pgtop {__version__}"


def test_limited_role_gets_a_warning_not_an_error(primary_pg: PostgresServer, home: Path) -> None:
    proc = run_pgtop(
        [*server_args(primary_pg, PLAIN_USER.name), *once_json()],
        clean_env(home, PGPASSWORD=PLAIN_USER.password),
    )
    data = parse_ok(proc)
    assert data["server"]["can_see_all_sessions"] is False
    lines = proc.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("pgtop: warning: limited view")
    assert f"GRANT pg_monitor TO {PLAIN_USER.name}" in lines[0]
