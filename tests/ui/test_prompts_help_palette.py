"""The filter prompt, `?`, the command palette, ctrl+c and typed text in notifications,
driven by real keys against a real server (or a recording, for replay)."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from live import notifications, screen_text, shown, shows_all, target_for, until
from sample import sample_snapshot
from textual import events
from textual.command import CommandList, CommandPalette
from textual.pilot import Pilot
from textual.widgets import Input

from pgtop.collect.record import RecordingWriter
from pgtop.collect.replay import load_recording
from pgtop.target import Target
from pgtop.ui.app import PgTopApp
from pgtop.ui.screens.confirm import ConfirmScreen
from pgtop.ui.screens.help import HelpScreen
from pgtop.ui.screens.inspect import InspectScreen
from support import MONITOR, PostgresServer, SessionFactory
from support.records import replace


@pytest.fixture(autouse=True)
def state_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("PGTOP_STATE_DIR", str(tmp_path))
    monkeypatch.setenv("PGTOP_CONFIG", str(tmp_path / "profiles.toml"))
    return tmp_path


async def first_snapshot(pilot: Pilot[None]) -> None:
    app = pilot.app
    await until(
        pilot,
        lambda: app.server.state.pg_snapshot is not None,
        "a snapshot",
    )


def burst(app: PgTopApp, text: str) -> None:
    """Keys arriving in one read (a paste, a laggy SSH link): all queued at once."""
    names = {"/": "slash", " ": "space", ":": "colon", "-": "minus", ">": "greater_than_sign"}
    for ch in text:
        app.post_message(events.Key(names.get(ch, ch), ch))


# -- the filter prompt ------------------------------------------------------------------


@pytest.mark.parametrize("delivery", ["key by key", "in one burst"])
async def test_reopened_filter_takes_a_second_term(
    primary_pg: PostgresServer, primary_workload: SessionFactory, delivery: str
) -> None:
    """Issue 15 #8: `/dur>1s⏎` then `/-user:monitor⏎` is both terms, not `dur>1s-user`."""
    tag = primary_workload.tag
    other = await primary_workload.idle_in_transaction(application_name=f"{tag}-app")
    monitor = await primary_workload.idle_in_transaction(
        user=MONITOR.name, application_name=f"{tag}-mon"
    )
    app = PgTopApp(target_for(primary_pg))
    async with app.run_test(size=(100, 30)) as pilot:
        await until(pilot, lambda: shows_all(app, other, monitor), "both sessions")
        await pilot.press("slash", *"dur>1s", "enter")
        assert app.server.header_state.filter_text == "dur>1s"
        await until(pilot, lambda: shows_all(app, other, monitor), "both, older than 1 s")
        await pilot.press("slash")
        assert app.server.sessions.filter_prompt.text == "dur>1s "  # ready for the next term
        if delivery == "key by key":
            await pilot.press(*"-user:monitor")
        else:
            burst(app, "-user:monitor")
            await until(
                pilot, lambda: app.server.sessions.filter_prompt.text.endswith("r"), "the burst"
            )
        assert app.server.sessions.filter_prompt.text == "dur>1s -user:monitor"
        assert app.server.sessions.filter_prompt.error == ""
        await pilot.press("enter")
        assert not app.server.sessions.filter_prompt.open
        assert app.server.header_state.filter_text == "dur>1s -user:monitor"
        await until(pilot, lambda: monitor not in shown(app), "the monitor session hidden")
        assert other in shown(app)
        assert all(s.user != MONITOR.name for s in shown(app).values())


async def test_enter_never_applies_an_invalid_filter(
    primary_pg: PostgresServer, primary_workload: SessionFactory
) -> None:
    pid = await primary_workload.idle_in_transaction()
    app = PgTopApp(target_for(primary_pg))
    async with app.run_test(size=(80, 24)) as pilot:
        await until(pilot, lambda: shows_all(app, pid), "the session")
        await pilot.press("slash", *"state:idle-tx", "enter")
        assert app.server.header_state.filter_text == "state:idle-tx"
        await pilot.press("slash", *"colour:red")
        assert "unknown filter field 'colour'" in app.server.sessions.filter_prompt.error
        await pilot.press("enter")
        # Still open, saying why; what filters the rows is the last valid text typed.
        assert app.server.sessions.filter_prompt.open
        assert app.server.header_state.prompt == "state:idle-tx colour:red"
        assert app.server.header_state.prompt_error.startswith("not applied: unknown filter field")
        assert "not applied" in screen_text(app)
        assert app.server.header_state.filter_text == "state:idle-tx colour"
        # Fixed, it applies.
        await pilot.press("ctrl+w", *"-state:active", "enter")
        assert not app.server.sessions.filter_prompt.open
        assert app.server.header_state.filter_text == "state:idle-tx -state:active"
        # Invalid again, then esc: the prompt closes and clears the filter, as it says.
        await pilot.press("slash", *"dur>5x", "enter")
        assert (
            app.server.sessions.filter_prompt.open
            and "not a duration" in app.server.sessions.filter_prompt.error
        )
        await pilot.press("escape")
        assert (
            not app.server.sessions.filter_prompt.open and app.server.header_state.filter_text == ""
        )


# -- help and palette -------------------------------------------------------------------


def help_keys(app: PgTopApp) -> dict[str, str]:
    screen = app.screen
    assert isinstance(screen, HelpScreen)
    return {description: keys for keys, description in screen.keys}


def help_lines(app: PgTopApp) -> list[str]:
    """The help box as drawn on screen, between its borders."""
    return [line for line in screen_text(app).splitlines() if line.startswith("│")]


async def test_help_lists_the_keys_of_the_pane_it_is_opened_on(primary_pg: PostgresServer) -> None:
    """Issue 15 #15: every key that works, none that does not, and nothing wider than 80."""
    app = PgTopApp(target_for(primary_pg))
    async with app.run_test(size=(80, 24)) as pilot:
        await first_snapshot(pilot)
        await pilot.press("question_mark")
        keys = help_keys(app)
        assert keys["Quit"] == "q ^c ^q"
        assert keys["Sort"] == "s >" and keys["Sort back"] == "<"
        for description in ("Filter", "Inspect", "Mark", "Lock tree", "Cancel", "Terminate"):
            assert description in keys, description
        assert "Group by" not in keys  # a key of the Databases pane
        lines = help_lines(app)
        assert "Sessions pane" in lines[0]
        assert any("-user:app excludes" in line for line in lines)
        assert all(len(line) <= 80 and line.rstrip().endswith("│") for line in lines)
        await pilot.press("escape")

        await pilot.press("2", "question_mark")
        keys = help_keys(app)
        assert keys["Group by"] == "g" and keys["Kill all in db"] == "K"
        assert "Sort" not in keys and "Mark" not in keys and "Cancel" not in keys
        await pilot.press("escape")

        await pilot.press("4", "question_mark")
        keys = help_keys(app)
        assert "Databases pane" not in help_lines(app)[0] and "Pooler pane" in help_lines(app)[0]
        session_keys = {"Sort", "Mark", "Inspect", "Cancel", "Terminate", "Lock tree", "Hide idle"}
        assert not session_keys & set(keys)
        assert {"Quit", "Help", "Filter", "Pause", "Profiles"} <= set(keys)
        await pilot.press("escape")
        # ...and those keys do nothing there: `s` does not sort unseen rows.
        await pilot.press("s", "k")
        assert app.server.sessions.view.sort is None and not isinstance(app.screen, ConfirmScreen)


async def test_help_on_the_inspect_screen(
    primary_pg: PostgresServer, primary_workload: SessionFactory
) -> None:
    pid = await primary_workload.idle()
    app = PgTopApp(target_for(primary_pg))
    async with app.run_test(size=(80, 24)) as pilot:
        await until(pilot, lambda: shows_all(app, pid), "the session")
        assert app.query_one("SessionsTable").move_cursor_to_pid(pid)  # type: ignore[attr-defined]
        await pilot.press("enter", "question_mark")
        keys = help_keys(app)
        assert keys["Copy query"] == "y" and keys["Back"] == "q esc"
        assert keys["Quit"] == "^c ^q"  # q goes back here
        assert "Filter" not in keys and "Sort" not in keys
        assert "inspect screen" in help_lines(app)[0]


async def palette_titles(pilot: Pilot[None]) -> set[str]:
    """Open the command palette and read the commands it lists (all, before typing)."""
    app = pilot.app
    await pilot.press("ctrl+p")
    assert isinstance(app.screen, CommandPalette)
    commands = app.screen.query_one(CommandList)
    await until(pilot, lambda: commands.option_count > 0, "the palette's commands")
    await pilot.pause(0.2)  # every provider has answered
    prompts = (commands.get_option_at_index(i).prompt for i in range(commands.option_count))
    return {str(prompt).splitlines()[0] for prompt in prompts}


async def test_palette_offers_every_action_of_the_screen(primary_pg: PostgresServer) -> None:
    """Issue 15 #9: sort, lock tree, filter, panes, cancel, terminate, profiles by name."""
    app = PgTopApp(target_for(primary_pg))
    async with app.run_test(size=(100, 30)) as pilot:
        await first_snapshot(pilot)
        titles = await palette_titles(pilot)
        wanted = {"Sort", "Sort back", "Reverse", "Lock tree", "Filter", "Inspect", "Mark"}
        wanted |= {"Sessions", "Databases", "Limits", "Pooler", "Next pane"}
        wanted |= {"Cancel", "Terminate", "Profiles", "Save current connection as…", "Quit"}
        assert wanted <= titles, wanted - titles
        assert not {"Up", "Page up", "Keys", "Copy selected text"} & titles  # not actions
        # Chosen by name, it runs: "lock tree" typed, enter.
        await pilot.press(*"lock tree")
        await pilot.pause(0.3)
        await pilot.press("enter")
        await until(pilot, lambda: app.server.sessions.blocking_tree, "the lock tree")
        assert not isinstance(app.screen, CommandPalette)


@pytest.mark.parametrize("read_only", [True, False])
async def test_palette_has_no_signals_when_read_only(
    primary_pg: PostgresServer, read_only: bool
) -> None:
    app = PgTopApp(target_for(primary_pg, read_only=read_only))
    async with app.run_test(size=(100, 30)) as pilot:
        await first_snapshot(pilot)
        titles = await palette_titles(pilot)
        acting = {"Cancel", "Terminate", "read-only"} & titles
        assert acting == (set() if read_only else {"Cancel", "Terminate"})
        assert "Sort" in titles


# -- ctrl+c -----------------------------------------------------------------------------


@pytest.mark.parametrize("where", ["sessions", "inspect", "pooler"])
async def test_ctrl_c_quits(
    primary_pg: PostgresServer, primary_workload: SessionFactory, where: str
) -> None:
    pid = await primary_workload.idle()
    app = PgTopApp(target_for(primary_pg))
    async with app.run_test(size=(80, 24)) as pilot:
        await until(pilot, lambda: shows_all(app, pid), "the session")
        if where == "inspect":
            await pilot.press("enter")
            assert isinstance(app.screen, InspectScreen)
        elif where == "pooler":
            await pilot.press("4")
        await pilot.press("ctrl+c")
        await until(pilot, lambda: not app.is_running, "the app to quit")


# -- typed text in notifications --------------------------------------------------------


def write_recording(path: Path, frames: int = 3) -> None:
    writer = RecordingWriter(path)
    snap = sample_snapshot()
    for i in range(frames):
        when = snap.server.snapshot_time + timedelta(seconds=i)
        writer.write(replace(snap, server=replace(snap.server, snapshot_time=when)))
    writer.close()


async def test_markup_typed_into_the_replay_time_prompt_is_shown_as_typed(
    tmp_path: Path,
) -> None:
    """Issue 14 #10: `[/]` in the jump prompt was parsed as markup and killed the app."""
    path = tmp_path / "r.rec.gz"
    write_recording(path)
    app = PgTopApp(Target(refresh=0.5, read_only=True), replay=load_recording(path))
    async with app.run_test(size=(80, 24), notifications=True) as pilot:
        await first_snapshot(pilot)
        for typed in ("[/]", "[bold]x[/bold]", "[link=x]"):
            await pilot.press("t")
            assert app.screen.query(Input)
            await pilot.press(*typed, "enter")
            await until(pilot, lambda t=typed: any(t in n for n in notifications(app)), typed)
            await pilot.pause(0.2)  # the toast is drawn
            assert app.is_running
            assert typed in screen_text(app)


async def test_markup_as_a_profile_name_is_refused_in_the_prompt(
    primary_pg: PostgresServer, state_dir: Path
) -> None:
    """Issue 14 #10: `[/]` as the name in "Save current connection as…" killed the app."""
    app = PgTopApp(target_for(primary_pg))
    async with app.run_test(size=(100, 30), notifications=True) as pilot:
        await first_snapshot(pilot)
        await pilot.press("ctrl+p", *"save current", "enter")
        await until(pilot, lambda: bool(app.screen.query(Input)), "the name prompt")
        await pilot.press(*"[/]", "enter")
        await pilot.pause(0.2)
        assert app.is_running and app.screen.query(Input)  # still asking
        assert "invalid profile name '[/]'" in screen_text(app)
        await pilot.press("ctrl+u", *"db1", "enter")
        await until(pilot, lambda: "saved profile 'db1'" in notifications(app), "the notice")
        assert not app.screen.query(Input)
        assert "[profiles.db1]" in (state_dir / "profiles.toml").read_text()


async def test_palette_in_replay_offers_replay_keys_and_no_signals(tmp_path: Path) -> None:
    path = tmp_path / "r.rec.gz"
    write_recording(path)
    app = PgTopApp(Target(refresh=0.5, read_only=True), replay=load_recording(path))
    async with app.run_test(size=(100, 30)) as pilot:
        await first_snapshot(pilot)
        titles = await palette_titles(pilot)
        assert {"Jump to time", "Step", "Sort", "Lock tree", "Filter"} <= titles
        assert not {"Cancel", "Terminate", "Profiles", "read-only"} & titles
        assert "Save current connection as…" not in titles
