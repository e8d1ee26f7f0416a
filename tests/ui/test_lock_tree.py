"""Finding and killing the root blocker, against a real server with real lock chains:
the lock tree (b), "blocks N", the jump to the root blocker (B) and inspect's links."""

from __future__ import annotations

from pathlib import Path

import pytest
from live import alive, cursor_line, line_of, notifications, sessions_table, shows_all, target_for
from live import until as wait_until
from test_keys import confirm_text, type_filter
from textual.pilot import Pilot
from textual.widgets import Static

from pgtop.ui.app import PgTopApp
from pgtop.ui.screens.confirm import ConfirmScreen
from pgtop.ui.screens.inspect import InspectScreen
from pgtop.ui.widgets.related_sessions import RelatedSessions
from support import PLAIN_USER, LockTree, PostgresServer, SessionFactory


@pytest.fixture(autouse=True)
def state_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("PGTOP_STATE_DIR", str(tmp_path))
    return tmp_path


async def tree_on_screen(pilot: Pilot[None], tree: LockTree) -> None:
    app = pilot.app
    pids = (tree.root, tree.middle, *tree.leaves)
    await wait_until(pilot, lambda: shows_all(app, *pids), "the lock tree's sessions")
    rows = {s.pid: s for s in sessions_table(app).rows}
    assert rows[tree.middle].blocked_by == (tree.root,)  # known in the first poll


async def test_root_blocker_first_in_the_lock_tree_and_three_keys_terminate_it(
    primary_pg: PostgresServer, primary_workload: SessionFactory
) -> None:
    # Eight older one-waiter chains: ordered by direct waiters and then age, they would
    # push the three-level chain's root off the first screen.
    quick = [await primary_workload.lock_chain(waiters=1) for _ in range(8)]
    for _ in range(3):
        await primary_workload.idle()
    tree = await primary_workload.lock_tree()
    admin = await primary_workload.admin()
    app = PgTopApp(target_for(primary_pg))
    async with app.run_test(size=(80, 24)) as pilot:
        await tree_on_screen(pilot, tree)
        await wait_until(pilot, lambda: shows_all(app, *(q.holder for q in quick)), "the chains")
        table = sessions_table(app)
        assert "blocks 3 · " in line_of(table, tree.root)  # in the plain list, at 80 columns
        assert "blocks 2 · " in line_of(table, tree.middle)
        assert "blocks 1 · " in line_of(table, quick[0].holder)
        await pilot.press("b")
        rows = [s.pid for s in table.rows]
        assert rows[:2] == [tree.root, tree.middle]
        assert set(rows[2:4]) == set(tree.leaves)
        first, second = rows[2:4]
        # The real depth, with guides: middle under root, both leaves under middle.
        assert " blocks 3 · LOCK TABLE" in line_of(table, tree.root)
        assert " └─ blocks 2 · " in line_of(table, tree.middle)
        assert "    ├─ SELECT" in line_of(table, first)
        assert "    └─ SELECT" in line_of(table, second)
        assert table.cursor_pid == tree.root
        line = cursor_line(table)  # drawn on the first screen, under the cursor
        assert line is not None and str(tree.root) in line and "blocks 3" in line
        await pilot.press("k")
        assert isinstance(app.screen, ConfirmScreen)
        assert str(tree.root) in confirm_text(app)
        await pilot.press("y")
        assert not isinstance(app.screen, ConfirmScreen)
        for _ in range(100):
            if not await alive(admin, tree.root):
                break
            await pilot.pause(0.1)
    assert not await alive(admin, tree.root)
    assert await alive(admin, *(q.holder for q in quick)) == {q.holder for q in quick}


async def test_B_jumps_to_the_root_blocker_or_says_what_hides_it(
    primary_pg: PostgresServer, primary_workload: SessionFactory
) -> None:
    tree = await primary_workload.lock_tree()
    bystander = await primary_workload.idle()
    app = PgTopApp(target_for(primary_pg))
    async with app.run_test(size=(80, 24)) as pilot:
        await tree_on_screen(pilot, tree)
        table = sessions_table(app)
        leaf = tree.leaves[1]
        assert table.move_cursor_to_pid(leaf)
        await pilot.press("B")
        assert table.cursor_pid == tree.root
        assert f"root blocker: pid {tree.root}, blocks 3" in notifications(app)
        await type_filter(pilot, f"pid:{leaf}")
        assert [s.pid for s in table.rows] == [leaf]
        await pilot.press("B")
        assert table.cursor_pid == leaf
        assert notifications(app)[-1] == (
            f"root blocker pid {tree.root} (blocks 3) is hidden by the filter (esc clears it)"
        )
        # The lock tree keeps the blockers above a session the filter lets through.
        await pilot.press("b")
        assert [s.pid for s in table.rows] == [tree.root, tree.middle, leaf]
        await pilot.press("B")
        assert table.cursor_pid == tree.root
        await pilot.press("b", "escape")
        await wait_until(pilot, lambda: shows_all(app, bystander), "every session again")
        assert table.move_cursor_to_pid(bystander)
        await pilot.press("B")
        assert notifications(app)[-1] == (
            f"pid {bystander} neither waits on a lock nor blocks a session"
        )


def blocking_text(screen: InspectScreen) -> str:
    static = screen.query_one("#inspect-blocking", Static)
    return str(static.render())


async def test_inspect_opens_blockers_and_waiters_by_key_and_by_click(
    primary_pg: PostgresServer, primary_workload: SessionFactory
) -> None:
    tree = await primary_workload.lock_tree()
    app = PgTopApp(target_for(primary_pg))
    async with app.run_test(size=(120, 40)) as pilot:
        await tree_on_screen(pilot, tree)
        leaf = tree.leaves[0]
        assert sessions_table(app).move_cursor_to_pid(leaf)
        await pilot.press("enter")
        assert isinstance(app.screen, InspectScreen) and app.screen.pid == leaf
        links = app.screen.query_one(RelatedSessions)
        assert [o.id for o in links.options] == [f"blocked by:{tree.middle}"]
        await pilot.press("tab")
        assert app.focused is links
        await pilot.press("enter")  # by keyboard: tab, enter
        middle_screen = app.screen
        assert isinstance(middle_screen, InspectScreen) and middle_screen.pid == tree.middle
        assert app.server.feed.postgres.inspect_pid == tree.middle
        links = middle_screen.query_one(RelatedSessions)
        await wait_until(pilot, lambda: len(links.options) == 3, "the middle's three links")
        assert [o.id for o in links.options] == [
            f"blocked by:{tree.root}",
            *(f"blocks:{p}" for p in tree.leaves),
        ]
        assert "blocks:" in blocking_text(middle_screen)
        await pilot.click(RelatedSessions, offset=(20, 2))  # by mouse: the second leaf
        assert isinstance(app.screen, InspectScreen) and app.screen.pid == tree.leaves[1]
        await pilot.press("escape")
        assert app.screen is middle_screen
        assert app.server.feed.postgres.inspect_pid == tree.middle  # its locks are polled again
        assert app.focused is links  # still on the list, as it was left
        await pilot.press("home", "enter")  # the first link: the root blocker
        root_screen = app.screen
        assert isinstance(root_screen, InspectScreen) and root_screen.pid == tree.root
        assert "(3 sessions wait behind it in all)" in blocking_text(root_screen)
        await pilot.press("escape", "escape", "escape")
        assert not isinstance(app.screen, InspectScreen)
        assert app.server.feed.postgres.inspect_pid is None


async def test_inspect_says_blockers_are_unknown_when_the_server_hides_them(
    primary_pg: PostgresServer, primary_workload: SessionFactory
) -> None:
    tree = await primary_workload.lock_tree()
    app = PgTopApp(target_for(primary_pg, user=PLAIN_USER.name))
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_until(pilot, lambda: shows_all(app, tree.middle), "the hidden waiter")
        assert sessions_table(app).move_cursor_to_pid(tree.middle)
        await pilot.press("enter")
        assert isinstance(app.screen, InspectScreen)
        assert "blocked by: unknown" in blocking_text(app.screen)
