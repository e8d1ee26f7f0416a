"""The start on a real terminal against a real server: the sessions show before Textual
is up (the early screen, ui/early_screen.py), the app then takes the same screen over,
and on quitting the terminal is left as it was found."""

from __future__ import annotations

from pathlib import Path

import psycopg
from test_cli_once import clean_env, server_args

from pgtop.ui.alt_screen import ENTER
from support import APP_USER, MONITOR, PostgresServer
from support.terminal import run_in_terminal

TEXTUAL_STARTS = "\x1b[?1000h"  # its driver turns mouse reporting on as it starts


def test_the_sessions_show_before_the_app_is_up_and_the_terminal_is_restored(
    primary_pg: PostgresServer, tmp_path: Path
) -> None:
    env = clean_env(tmp_path, PGPASSWORD=MONITOR.password, TERM="xterm-256color")
    with psycopg.connect(primary_pg.dsn(APP_USER.name), application_name="early-bird") as app:
        app.execute("select 1")
        code, out = run_in_terminal(
            server_args(primary_pg), env, [(b"Quit", b"q")], timeout=60, size=(100, 30)
        )
    assert code == 0, out[-2000:]
    early, textual = out.find(ENTER), out.find(TEXTUAL_STARTS)
    assert 0 <= early < textual, "no early screen before the app's"
    first = out[early:textual]
    assert "PostgreSQL" in first and "PID" in first and APP_USER.name in first
    # Left as found: the alternate screen left after it was last entered, cursor shown.
    assert out.rfind("\x1b[?1049l") > out.rfind("\x1b[?1049h")
    assert out.rfind("\x1b[?25h") > out.rfind("\x1b[?25l")


def test_ctrl_c_on_the_early_screen_ends_quietly_and_restores_the_terminal(
    primary_pg: PostgresServer, tmp_path: Path
) -> None:
    env = clean_env(tmp_path, PGPASSWORD=MONITOR.password, TERM="xterm-256color")
    code, out = run_in_terminal(
        server_args(primary_pg), env, [(ENTER.encode(), b"\x03")], timeout=60, size=(100, 30)
    )
    # Interrupted before the app took the terminal (1), or quit by the app's ctrl+c (0).
    assert code in (0, 1) and "Traceback" not in out, out[-3000:]
    assert out.rfind("\x1b[?1049l") > out.rfind("\x1b[?1049h")
    assert out.rfind("\x1b[?25h") > out.rfind("\x1b[?25l")
