"""Saved profiles against real servers: `pgtop` as a user runs it, and switching in the app.

Every test gets a clean environment through monkeypatch (inherited by the `pgtop`
processes): no PG* variables of the developer's shell, HOME in a temp dir, PGTOP_CONFIG
pointing at a temp ``profiles.toml``. Passwords come from ``.pgpass`` or a
password_command; none is ever saved in the profiles file.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from textual.pilot import Pilot

from pgtop.collect.connection import APPLICATION_NAME
from pgtop.profiles import load_profiles, profile_to_target
from pgtop.ui.app import PgTopApp
from pgtop.ui.screens.profiles import ProfilePicker
from pgtop.ui.widgets.header import StatusHeader
from pgtop.ui.widgets.sessions_table import SessionsTable
from support import MONITOR, SHOP_DB, PostgresServer, SessionFactory

HAND_COMMENT = "# p2: the monitor role, its password from a command. Keep this comment."


@dataclass(frozen=True)
class Env:
    home: Path
    config: Path  # the profiles file; its directory does not exist until pgtop saves


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Env:
    """A clean environment for this process and the `pgtop` processes it starts."""
    home = tmp_path / "home"
    home.mkdir()
    config = tmp_path / "config" / "pgtop" / "profiles.toml"
    for name in list(os.environ):
        if name.startswith("PG"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(home / ".config"))
    monkeypatch.setenv("PGTOP_CONFIG", str(config))
    monkeypatch.setenv("PGTOP_STATE_DIR", str(tmp_path / "state"))
    monkeypatch.setenv("PYTHONDONTWRITEBYTECODE", "1")
    return Env(home=home, config=config)


def write_pgpass(home: Path, server: PostgresServer) -> None:
    pgpass = home / ".pgpass"
    pgpass.write_text(f"{server.host}:{server.port}:*:{MONITOR.name}:{MONITOR.password}\n")
    pgpass.chmod(0o600)  # libpq and asyncpg ignore a .pgpass others can read


def run_pgtop(*args: str, timeout: float = 30) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "pgtop", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        stdin=subprocess.DEVNULL,
    )


def ok(proc: subprocess.CompletedProcess[str]) -> str:
    assert proc.returncode == 0, (proc.stdout, proc.stderr)
    assert "Traceback" not in proc.stderr
    return proc.stdout


def save(name: str, server: PostgresServer, *extra: str, dbname: str = "postgres") -> None:
    host, port = server.host, str(server.port)
    ok(
        run_pgtop(
            "--save-profile", name, "-h", host, "-p", port, "-U", MONITOR.name, "-d", dbname, *extra
        )
    )


def once_json(*args: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(
        ok(run_pgtop(*args, "--once", "--format", "json", "--refresh", "0.5"))
    )
    assert data["schema"] == "pgtop.snapshot/1"
    return data


def label(server: PostgresServer, dbname: str = "postgres") -> str:
    return f"{MONITOR.name}@{server.host}:{server.port}/{dbname}"


def files_under(directory: Path) -> list[Path]:
    return [path for path in directory.rglob("*") if path.is_file()]


# -- connecting with a saved profile ------------------------------------------------------


def test_profile_relying_on_pgpass_connects_and_saves_no_password(
    primary_pg: PostgresServer, env: Env
) -> None:
    write_pgpass(env.home, primary_pg)
    save("p1", primary_pg)
    assert env.config.stat().st_mode & 0o777 == 0o600

    data = once_json("-P", "p1")
    assert data["server"]["current_user"] == MONITOR.name
    assert data["server"]["address"] == f"{primary_pg.host}:{primary_pg.port}"

    saved = files_under(env.config.parent)
    assert saved == [env.config]
    for path in saved:
        assert MONITOR.password not in path.read_text()
    grep = subprocess.run(
        ["grep", "-rF", MONITOR.password, str(env.config.parent)], capture_output=True, check=False
    )
    assert grep.returncode == 1, grep.stdout  # 1: no match; 2 would be an error


def test_profile_with_password_command(primary_pg: PostgresServer, env: Env) -> None:
    save("p2", primary_pg, "--password-command", f"printf %s {MONITOR.password}")
    assert not (env.home / ".pgpass").exists()

    data = once_json("-P", "p2")
    assert data["server"]["current_user"] == MONITOR.name

    listing = ok(run_pgtop("--list-profiles"))
    assert "p2" in listing and label(primary_pg) in listing and "password_command" in listing
    assert MONITOR.password not in listing


def test_failing_password_command_is_one_line_exit_1(primary_pg: PostgresServer, env: Env) -> None:
    save("broken", primary_pg, "--password-command", "false")
    proc = run_pgtop("-P", "broken", "--once", "--format", "json")
    assert proc.returncode == 1, (proc.stdout, proc.stderr)
    assert "Traceback" not in proc.stderr + proc.stdout
    lines = proc.stderr.splitlines()
    assert len(lines) == 1, proc.stderr
    assert lines[0].startswith("pgtop:")
    assert "password_command" in lines[0]
    assert proc.stdout == ""


# -- listing, deleting, hand edits ----------------------------------------------------------


def test_list_then_delete_keeps_a_hand_written_comment(
    primary_pg: PostgresServer, env: Env
) -> None:
    write_pgpass(env.home, primary_pg)
    save("p1", primary_pg)
    save("p2", primary_pg, "--password-command", f"printf %s {MONITOR.password}", dbname=SHOP_DB)
    text = env.config.read_text()
    assert text.count("[profiles.p2]") == 1
    env.config.write_text(text.replace("[profiles.p2]", f"{HAND_COMMENT}\n[profiles.p2]"))

    listing = ok(run_pgtop("--list-profiles")).splitlines()
    assert listing[0].split() == ["NAME", "TARGET", "FLAGS"]
    rows = {line.split()[0]: line for line in listing[1:]}
    assert set(rows) == {"p1", "p2"}
    assert label(primary_pg) in rows["p1"]
    assert label(primary_pg, SHOP_DB) in rows["p2"] and "password_command" in rows["p2"]
    assert MONITOR.password not in "\n".join(listing)

    out = ok(run_pgtop("--delete-profile", "p1"))
    assert "deleted profile 'p1'" in out
    text = env.config.read_text()
    assert "[profiles.p1]" not in text
    assert f"{HAND_COMMENT}\n[profiles.p2]" in text
    profiles, warnings = load_profiles(env.config)
    assert list(profiles) == ["p2"] and warnings == []
    assert profiles["p2"].conn["dbname"] == SHOP_DB

    # The survivor still connects: the delete did not damage it.
    assert once_json("-P", "p2")["server"]["current_user"] == MONITOR.name

    proc = run_pgtop("--delete-profile", "p1")
    assert proc.returncode == 2 and proc.stderr.startswith("pgtop: no profile named 'p1'")


def test_saving_from_pgtop_keeps_comments_of_a_hand_edited_file(
    primary_pg: PostgresServer, env: Env
) -> None:
    write_pgpass(env.home, primary_pg)
    env.config.parent.mkdir(parents=True)
    hand_edited = (
        "# My servers. Keep this comment.\n"
        "\n"
        "# The test primary, password from ~/.pgpass.\n"
        "[profiles.local]  # header comment\n"
        f'host = "{primary_pg.host}"\n'
        f"port = {primary_pg.port}  # the throwaway server's port\n"
        f'user = "{MONITOR.name}"\n'
        'dbname = "postgres"\n'
        "\n"
        "# Settings pgtop does not know yet.\n"
        "[ui]\n"
        'theme = "dark"  # keep me\n'
    )
    env.config.write_text(hand_edited)
    env.config.chmod(0o600)

    save("other", primary_pg, dbname=SHOP_DB)

    text = env.config.read_text()
    for line in hand_edited.splitlines():
        assert line in text, f"lost {line!r} from:\n{text}"
    profiles, warnings = load_profiles(env.config)
    assert list(profiles) == ["local", "other"] and warnings == []
    assert profiles["other"].describe() == label(primary_pg, SHOP_DB)
    assert once_json("-P", "local")["server"]["current_user"] == MONITOR.name


async def test_arguments_beside_a_profile_override_it(primary_pg: PostgresServer, env: Env) -> None:
    """`-P p1 -d shop`: the profile says postgres, the argument wins."""
    write_pgpass(env.home, primary_pg)
    await asyncio.to_thread(save, "p1", primary_pg)

    # pgtop's own backend is gone once it exits: watch it while it runs (two polls, 2 s
    # apart), then match it with the own_pids of the report.
    admin = await primary_pg.admin_connect()
    try:
        proc = await asyncio.create_subprocess_exec(
            sys.executable,
            *("-m", "pgtop", "-P", "p1", "-d", SHOP_DB, "--once", "--format", "json"),
            *("--refresh", "2"),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        communicate = asyncio.ensure_future(proc.communicate())
        seen: dict[int, str] = {}
        while not communicate.done():
            rows = await admin.fetch(
                "SELECT pid, datname FROM pg_stat_activity"
                " WHERE usename = $1 AND application_name = $2",
                MONITOR.name,
                APPLICATION_NAME,
            )
            seen.update({row["pid"]: row["datname"] for row in rows})
            await asyncio.sleep(0.05)
        stdout, stderr = await communicate
    finally:
        await admin.close()
    assert proc.returncode == 0, stderr.decode()
    data = json.loads(stdout)
    (own_pid,) = data["own_pids"]
    assert seen.get(own_pid) == SHOP_DB, seen


# -- switching profiles in the app ------------------------------------------------------------


async def until(
    pilot: Pilot[Any], condition: Callable[[], object], what: str, timeout: float = 10.0
) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:g} s waiting for {what}")
        await pilot.pause(0.1)


def header_lines(app: PgTopApp) -> list[str]:
    return [text.plain for text in app.query_one(StatusHeader).lines()]


def applications(app: PgTopApp) -> set[str]:
    return {session.application for session in app.query_one(SessionsTable).rows}


async def test_switching_profiles_in_the_app_shows_the_other_server(
    primary_pg: PostgresServer,
    make_postgres: Callable[..., PostgresServer],
    env: Env,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    second = await asyncio.to_thread(make_postgres)
    # Both servers are provisioned alike: the monitor role has the same password on each.
    monkeypatch.setenv("PGPASSWORD", MONITOR.password)
    await asyncio.to_thread(save, "first", primary_pg, "--refresh", "0.5")
    await asyncio.to_thread(save, "second", second, "--refresh", "0.5")
    profiles, _ = load_profiles()
    assert list(profiles) == ["first", "second"]

    first_sessions, second_sessions = SessionFactory(primary_pg), SessionFactory(second)
    first_app, second_app = f"{first_sessions.tag}-on-first", f"{second_sessions.tag}-on-second"
    try:
        await first_sessions.idle(application_name=first_app)
        await second_sessions.idle(application_name=second_app)
        app = PgTopApp(profile_to_target(profiles["first"]))
        async with app.run_test(size=(100, 30)) as pilot:
            await until(pilot, lambda: first_app in applications(app), "the first server's rows")
            assert second_app not in applications(app)
            assert header_lines(app)[0].startswith(" first  PostgreSQL")  # the profile named
            # A filter both servers' sessions match: it applies after the switch, and says so.
            await pilot.press("slash", *"app:-on-", "enter")
            assert "filter: app:-on-" in header_lines(app)[3]

            await pilot.press("o")
            await until(pilot, lambda: isinstance(app.screen, ProfilePicker), "the profile picker")
            await pilot.press("down", "enter")

            def on_second() -> bool:
                snapshot = app.server.header_state.frame.snapshot
                return (
                    second_app in applications(app)
                    and snapshot is not None
                    and snapshot.server.host == f"{second.host}:{second.port}"
                )

            await until(pilot, on_second, "the second server's rows and header")
            assert first_app not in applications(app)
            assert app.server.target.profile_name == "second"
            assert not isinstance(app.screen, ProfilePicker)
            assert header_lines(app)[0].startswith(" second  PostgreSQL")
            assert "filter: app:-on-" in header_lines(app)[3]  # it was lost from the header
    finally:
        await first_sessions.close()
        await second_sessions.close()


# -- a profiles file others could have written ---------------------------------------------


@pytest.mark.parametrize("loosen", ["file mode", "directory mode", "file owner"])
def test_password_command_from_a_file_others_can_write_is_refused(
    primary_pg: PostgresServer, env: Env, tmp_path: Path, loosen: str
) -> None:
    ran = tmp_path / "the-command-ran"
    save("p", primary_pg, "--password-command", f"touch {ran}; printf %s {MONITOR.password}")
    fix = {"file mode": "chmod go-w", "directory mode": "chmod go-w", "file owner": "chown"}
    if loosen == "file mode":
        env.config.chmod(0o666)
    elif loosen == "directory mode":
        env.config.parent.chmod(0o777)
    else:
        if os.geteuid() != 0:
            pytest.skip("giving the file to another user needs root")
        os.chown(env.config, 65534, 65534)  # nobody
    proc = run_pgtop("-P", "p", "--once", "--format", "json")
    assert proc.returncode == 1, (proc.stdout, proc.stderr)
    *_, line = proc.stderr.splitlines()  # after the warning about the file's mode, if any
    assert "refusing to run password_command" in line and fix[loosen] in line, line
    assert "Traceback" not in proc.stderr
    assert not ran.exists(), "the command ran"
    # Fixed as the message says: it runs again.
    os.chown(env.config, os.geteuid(), os.getegid())
    env.config.chmod(0o600)
    env.config.parent.chmod(0o700)
    assert once_json("-P", "p")["server"]["current_user"] == MONITOR.name
    assert ran.exists()


def test_save_password_warns_only_when_a_password_was_stored(
    primary_pg: PostgresServer, env: Env
) -> None:
    host, port = primary_pg.host, str(primary_pg.port)
    proc = run_pgtop("--save-profile", "nopw", "-h", host, "-p", port, "--save-password")
    ok(proc)
    assert "plain text" not in proc.stderr and "none stored" in proc.stderr, proc.stderr
    uri = f"postgresql://{MONITOR.name}:{MONITOR.password}@{host}:{port}/postgres"
    proc = run_pgtop("--save-profile", "pw", uri, "--save-password")
    ok(proc)
    (warning,) = proc.stderr.splitlines()
    assert "stored in plain text" in warning and MONITOR.password not in warning
    assert MONITOR.password in env.config.read_text()
