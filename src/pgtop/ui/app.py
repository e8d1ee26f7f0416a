"""The pgtop Textual app: start-up, shutdown, and the keys that work everywhere.

Who owns what: the app builds one ServerScreen (server_screen.py) for its target and
replaces it with a new one on a profile switch (`server`, its one writer); everything
about that server (feed, state, frames, panes, acts) is the screen's. The app keeps the
global keys — quit, help, the command palette, profiles — and the feed's own controls
(pause, interval, playback), which work over the inspect screen and dialogs too; the
recorder (--record) outlives profile switches, so the app closes it.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterable
from typing import TYPE_CHECKING

from textual.app import App, SystemCommand
from textual.binding import Binding
from textual.notifications import SeverityLevel
from textual.screen import Screen

from pgtop.model.records import Snapshot
from pgtop.target import Target
from pgtop.ui.key_listing import bound_actions, help_place, key_commands
from pgtop.ui.key_order import add_bindings
from pgtop.ui.server_screen import ServerScreen

if TYPE_CHECKING:
    from pgtop.collect.postgres import PostgresCollector
    from pgtop.collect.record import Recorder
    from pgtop.collect.replay import Recording
    from pgtop.profiles import Profile

# The feed's controls, each bound only when the feed offers it (monitor/feed.py,
# `controls`): `p` pauses polling, or playback in a replay.
FEED_KEYS = {
    "toggle_pause": [Binding("p", "feed('toggle_pause')", "Pause", id="pause")],
    "slower": [
        Binding("plus,equals_sign", "feed('slower')", "Poll less often", show=False, id="slower")
    ],
    "faster": [Binding("minus", "feed('faster')", "Poll more often", show=False, id="faster")],
    "refresh_now": [
        Binding("ctrl+r", "feed('refresh_now')", "Refresh now", show=False, id="refresh-now")
    ],
    # Keys chosen not to collide with the panes' (home/end, g).
    "step": [
        Binding("full_stop", "feed('step', 1)", "Step", id="replay-next"),
        Binding("comma", "feed('step', -1)", "Step back", show=False, id="replay-back"),
    ],
    "speed": [
        Binding(
            "right_square_bracket", "feed('speed', 2)", "Faster", show=False, id="replay-faster"
        ),
        Binding(
            "left_square_bracket", "feed('speed', 0.5)", "Slower", show=False, id="replay-slower"
        ),
    ],
    "jump": [Binding("t", "replay_jump", "Jump to time", id="replay-jump")],
    "go_to": [
        Binding(
            "circumflex_accent", "feed('go_to', 0)", "First frame", show=False, id="replay-first"
        ),
        Binding("dollar_sign", "feed('go_to', -1)", "Last frame", show=False, id="replay-last"),
    ],
}
# Textual's generic palette entries worth keeping; its Quit and Keys duplicate ours.
TEXTUAL_COMMANDS = {"Theme", "Screenshot"}


class PgTopApp(App[None]):
    TITLE = "pgtop"
    CSS_PATH = "pgtop.tcss"
    ENABLE_COMMAND_PALETTE = True
    # Each server screen is the base of a mode of its own: a profile switch adds the new
    # server's mode, switches to it, and removes the old one with everything on top of it.
    DEFAULT_MODE = "server-0"

    BINDINGS = [
        Binding("q", "quit", "Quit", id="quit"),
        Binding("question_mark,f1", "help", "Help", id="help"),
    ]

    def __init__(
        self,
        target: Target,
        *,
        password: str | None = None,
        snapshot_source: Callable[[], Awaitable[Snapshot]] | None = None,
        recorder: Recorder | None = None,
        replay: Recording | None = None,
        head_start: tuple[PostgresCollector, Awaitable[Snapshot]] | None = None,
    ) -> None:
        """`snapshot_source` replaces polling PostgreSQL (and its pooler): tests.
        `recorder` writes every snapshot (--record); `replay` plays a recording instead
        of polling (--replay; give it a read-only target). `head_start` is a collector
        and its first poll, begun while the UI was still importing (cli.py)."""
        super().__init__()
        self.recorder = recorder
        self.exit_message: str | None = None
        self.server = ServerScreen(
            target,
            password=password,
            snapshot_source=snapshot_source,
            recorder=recorder,
            replay=replay,
            head_start=head_start,
            on_fatal=self._fatal,
        )
        first = self.server
        self.add_mode(self.DEFAULT_MODE, lambda: first)
        self._switches = 0
        controls = self.server.feed.controls  # the same for every server it may switch to
        add_bindings(self, [b for c in FEED_KEYS if c in controls for b in FEED_KEYS[c]])

    def _get_dom_base(self) -> ServerScreen:
        """`app.query_one` looks in the server screen watched now. Textual's default is
        the first screen, which a profile switch removes."""
        return self.server

    def _fatal(self, reason: str) -> None:
        self.exit_message = reason
        self.exit()

    def action_feed(self, control: str, *args: object) -> None:
        self.server.feed_control(control, *args)

    def action_replay_jump(self) -> None:
        self.server.replay_jump()

    def action_help_quit(self) -> None:
        """ctrl+c quits, as in top (Textual's default only says which key quits). With
        text selected by mouse, the screen's ctrl+c copies it instead."""
        self.exit()

    def notify(
        self,
        message: str,
        *,
        title: str = "",
        severity: SeverityLevel = "information",
        timeout: float | None = None,
        markup: bool = False,
    ) -> None:
        """Notifications carry typed text, names and server messages: never read markup
        in them (`[/]` typed in a prompt would crash the app). Screens' notify comes here
        with markup=True by default, so the flag is ignored, not just defaulted."""
        super().notify(message, title=title, severity=severity, timeout=timeout, markup=False)

    # -- help and palette ---------------------------------------------------------------

    def action_help(self) -> None:
        from pgtop.ui.screens.help import HelpScreen  # loaded on first use: start-up

        bound = bound_actions(self, self.screen)
        move = " ".join(dict.fromkeys(key for b in bound if b.is_move for key in b.keys))
        keys = [(b.key_text, b.description) for b in bound if not b.is_move]
        with_filter = any(b.action == "open_filter" for b in bound)
        where = help_place(self.screen)
        self.push_screen(HelpScreen(keys, move=move, where=where, with_filter=with_filter))

    def get_system_commands(self, screen: Screen[object]) -> Iterable[SystemCommand]:
        yield from key_commands(self, screen)
        if self.server.feed.has_server:  # a recording has no connection to save
            yield SystemCommand(
                "Save current connection as…",
                "save host, port, user, database, pooler and refresh as a profile (no password)",
                self.action_save_profile,
            )
        for command in super().get_system_commands(screen):
            if command.title in TEXTUAL_COMMANDS:
                yield command

    # -- profiles -------------------------------------------------------------------------

    def action_switch_profile(self) -> None:
        from pgtop.profiles import ProfileError, load_profiles
        from pgtop.ui.screens.profiles import ProfilePicker

        try:
            saved, warnings = load_profiles()
        except ProfileError as exc:
            self.notify(str(exc), severity="error", timeout=8)
            return
        for warning in warnings:
            self.notify(warning, severity="warning")
        if not saved:
            self.notify("no saved profiles — pgtop --save-profile NAME …, or the palette")
            return

        def chosen(name: str | None) -> None:
            if name is not None:
                self.run_worker(self.switch_to_profile(saved[name]), group="switch")

        self.push_screen(ProfilePicker(saved, self.server.target.profile_name), callback=chosen)

    async def switch_to_profile(self, profile: Profile) -> None:
        """Watch the profile's server on a new screen; the old one stops its workers and
        closes its connections as it goes. Marks go with it; the filter stays."""
        from pgtop.profiles import ProfileError, profile_to_target

        old = self.server
        locked = old.target.read_only_locked  # --read-only outlives every switch
        target = profile_to_target(profile, read_only=True if locked else None).replace(
            connect_timeout=old.target.connect_timeout, read_only_locked=locked
        )
        if target.password_command and "password" not in target.postgres.params:
            try:
                target = self._run_password_command(target)
            except ProfileError as exc:
                self.notify(str(exc), severity="error", timeout=8)
                return
        new = ServerScreen(
            target,
            recorder=self.recorder,
            filter_text=old.sessions.filter_text,
            on_fatal=self._fatal,
        )
        self.server = new
        await old.close()
        old_mode = self.current_mode
        self._switches += 1
        mode = f"server-{self._switches}"
        self.add_mode(mode, lambda: new)
        await self.switch_mode(mode)
        await self.remove_mode(old_mode)  # with any dialog still open over the old server
        read_only = " (read-only)" if target.read_only else ""
        self.notify(f"switched to profile {profile.name!r} ({profile.describe()}){read_only}")

    def _run_password_command(self, target: Target) -> Target:
        from textual.app import SuspendNotSupported

        from pgtop.profiles import apply_password_command

        try:
            with self.suspend():  # a gpg or pass prompt needs the real terminal
                return apply_password_command(target)
        except SuspendNotSupported:  # e.g. textual serve: run it without a terminal
            return apply_password_command(target)

    def action_save_profile(self) -> None:
        from pgtop.ui.screens.profiles import SaveProfileScreen

        def named(name: str | None) -> None:
            if name is not None:
                self._save_profile(name)

        suggestion = self.server.target.profile_name or ""
        self.push_screen(SaveProfileScreen(suggestion), callback=named)

    def _save_profile(self, name: str) -> None:
        from pgtop.profiles import Profile, ProfileError, save_profile

        t = self.server.target
        profile = Profile(
            name=name,
            conn=t.postgres.without_password().params,
            pooler=t.pooler,
            refresh=t.refresh,
            read_only=t.read_only,
            password_command=t.password_command,
        )
        try:
            warnings = save_profile(profile)
        except ProfileError as exc:
            self.notify(str(exc), severity="error", timeout=8)
            return
        for warning in warnings:
            self.notify(warning, severity="warning")
        self.server.target = t.replace(profile_name=name)
        self.notify(f"saved profile {name!r}")

    # -- shutdown -----------------------------------------------------------------------

    async def on_unmount(self) -> None:
        await self.server.close()
        if self.recorder is not None:
            await asyncio.to_thread(self.recorder.close)
