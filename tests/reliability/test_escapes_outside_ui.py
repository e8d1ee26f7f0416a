"""Hostile text outside the full-screen UI: what pgtop prints to a terminal from the command
line (the --once warnings, --list-profiles) holds no raw escape, C1 or bidi character.
(The audit log's bytes are checked in test_files.py.)"""

from __future__ import annotations

import asyncio
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from rel_helpers import pgtop_env

from support import PostgresServer, SessionFactory

# ESC (an OSC title), the 8-bit CSI and a right-to-left override: what must never go out raw.
EVIL = "ev\x1b]0;owned\x07il\x9b31m\u202erole"
RAW = ("\x1b", "\x07", "\x9b", "\u202e")


def _run(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "pgtop", *args],
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
        stdin=subprocess.DEVNULL,
    )


def _assert_no_raw(text: str) -> None:
    leaked = [repr(ch) for ch in RAW if ch in text]
    assert not leaked, f"raw {leaked} in {text!r}"


@pytest.fixture
async def evil_role(rel_pg: PostgresServer) -> AsyncIterator[str]:
    factory = SessionFactory(rel_pg)
    admin = await factory.admin()
    quoted = '"' + EVIL.replace('"', '""') + '"'
    await admin.execute(f"CREATE ROLE {quoted} LOGIN PASSWORD 'evil-pw'")
    try:
        yield EVIL
    finally:
        await admin.execute(f"DROP ROLE IF EXISTS {quoted}")
        await factory.close()


async def test_once_limited_view_warning_shows_the_role_name_escaped(
    rel_pg: PostgresServer, evil_role: str, tmp_path: Path
) -> None:
    args = ["-h", rel_pg.host, "-p", str(rel_pg.port), "-U", evil_role, "-d", "postgres"]
    env = pgtop_env(tmp_path, PGPASSWORD="evil-pw")
    proc = await asyncio.to_thread(_run, [*args, "--once", "--format", "text"], env)
    assert proc.returncode == 0, proc.stderr
    (warning,) = proc.stderr.splitlines()
    assert "limited view" in warning and "GRANT pg_monitor" in warning
    _assert_no_raw(warning)
    assert "<U+202E>" in warning and "\\x9b" in warning  # shown, not hidden


def test_list_profiles_prints_no_escape_characters(tmp_path: Path) -> None:
    config = tmp_path / "profiles.toml"
    config.write_text(
        '[profiles."ev\\u001b[2Jil\\u202e"]\n'
        'host = "db\\u009b31m1"\n'
        'user = "mon\\u001b]0;x\\u0007itor"\n'
    )
    config.chmod(0o600)
    proc = _run(["--list-profiles"], pgtop_env(tmp_path, PGTOP_CONFIG=str(config)))
    assert proc.returncode == 0, proc.stderr
    _assert_no_raw(proc.stdout + proc.stderr)
    (_, row) = proc.stdout.splitlines()
    assert row.startswith("ev␛[2Jil<U+202E>  ") and "db\\x9b31m1" in row
