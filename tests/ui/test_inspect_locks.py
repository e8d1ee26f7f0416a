"""The inspect screen's locks section while paused and in replay (issue 15 #11): it
said "loading…" forever, since no poll was coming."""

from __future__ import annotations

from pathlib import Path

from live import shows_all, static_text, target_for, until
from test_prompts_help_palette import write_recording
from textual.widgets import Static

from pgtop.collect.replay import load_recording
from pgtop.target import Target
from pgtop.ui.app import PgTopApp
from pgtop.ui.screens.inspect import InspectScreen
from pgtop.ui.widgets.sessions_table import SessionsTable
from support import PostgresServer, SessionFactory


def locks_text(app: PgTopApp) -> str:
    screen = app.screen
    assert isinstance(screen, InspectScreen)
    return static_text(screen.query_one("#inspect-locks", Static))


async def test_paused_inspect_says_locks_wait_for_resume(
    primary_pg: PostgresServer, primary_workload: SessionFactory
) -> None:
    chain = await primary_workload.lock_chain(waiters=1)
    waiter = chain.waiters[0]
    app = PgTopApp(target_for(primary_pg))
    async with app.run_test(size=(80, 24)) as pilot:
        await until(pilot, lambda: shows_all(app, waiter), "the waiter")
        await pilot.press("p")
        assert app.query_one(SessionsTable).move_cursor_to_pid(waiter)
        await pilot.press("enter")
        await pilot.pause(1.5)  # three refreshes: no poll comes while paused
        assert "locks: not read while paused (p resumes)" in locks_text(app)
        await pilot.press("p")
        await until(pilot, lambda: "WAITING" in locks_text(app), "the waiter's locks")


async def test_replayed_inspect_says_locks_were_not_recorded(tmp_path: Path) -> None:
    path = tmp_path / "r.rec.gz"
    write_recording(path)
    app = PgTopApp(Target(refresh=0.5, read_only=True), replay=load_recording(path))
    async with app.run_test(size=(80, 24)) as pilot:
        await until(pilot, lambda: bool(app.query_one(SessionsTable).rows), "the first frame")
        await pilot.press("enter")
        assert "locks: not recorded" in locks_text(app)
        await pilot.press("full_stop")  # another frame: still honest
        assert "locks: not recorded" in locks_text(app)
