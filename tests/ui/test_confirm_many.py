"""The many-session confirmation at 80x24: it lists what `y` will hit and its buttons stay
on screen however many sessions are marked (fixed data: nothing is sent)."""

from __future__ import annotations

from sample import sample_snapshot
from textual.widgets import Button

from pgtop.model.records import Snapshot
from pgtop.target import ConnSettings, Target
from pgtop.ui.app import PgTopApp
from pgtop.ui.screens.confirm import ConfirmScreen
from pgtop.ui.widgets.sessions_table import SessionsTable
from support.records import replace


def many_sessions(n: int) -> Snapshot:
    snap = sample_snapshot()
    like = next(s for s in snap.sessions if s.is_client)
    sessions = tuple(
        replace(like, pid=5000 + i, application=f"worker-{i}", blocked_by=()) for i in range(n)
    )
    return replace(snap, sessions=sessions)


async def test_thirty_marked_sessions_are_listed_and_the_buttons_stay_visible() -> None:
    fixed = many_sessions(30)

    async def source() -> Snapshot:
        return fixed

    app = PgTopApp(Target(ConnSettings({"host": "db1"}), refresh=60), snapshot_source=source)
    async with app.run_test(size=(80, 24)) as pilot:
        table = app.query_one(SessionsTable)
        for _ in range(50):
            if table.rows:
                break
            await pilot.pause(0.05)
        await pilot.press(*["space"] * 30)
        assert len(table.marked) == 30
        await pilot.press("k")
        screen = app.screen
        assert isinstance(screen, ConfirmScreen)
        body = str(screen.body)
        assert "Terminate 30 marked sessions?" in screen.title_text
        listed = [line for line in body.splitlines() if line.split()[:1] == ["5000"]]
        assert listed and "worker-0" in listed[0]
        assert "… and " in body and "more" in body and "by user" in body
        await pilot.pause()
        for button_id in ("#yes", "#no"):
            region = screen.query_one(button_id, Button).region
            assert region.bottom <= 24 and region.height > 0, (button_id, region)
        await pilot.press("n")
        assert not isinstance(app.screen, ConfirmScreen)
        assert len(table.marked) == 30  # declined: the marks stay
