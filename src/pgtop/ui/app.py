"""The pgtop Textual app: start-up, shutdown, and the keys that work everywhere.

Who owns what: the app builds one ServerScreen (server_screen.py) for its target and
replaces it with a new one on a profile switch (`server`, its one writer). Watching a
fleet, the app owns the `Fleet` (monitor/fleet.py) and its FleetScreen (the base of the
default mode), builds a member's ServerScreen the first time it is opened (a mode of its
own, kept: `member_screens`) and writes which one is on screen (`server`, None on the
fleet) and, through Fleet.focus, which member polls in full; everything
about that server (feed, state, frames, panes, acts) is the screen's. The app keeps the
global keys — quit, help, the command palette, profiles — and the feed's own controls
(pause, interval, playback), which work over the inspect screen and dialogs too; the
recorder (--record) outlives profile switches, so the app closes it.
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Awaitable, Callable, Iterable, Sequence
from typing import TYPE_CHECKING

from textual.app import App, SystemCommand
from textual.binding import Binding
from textual.notifications import SeverityLevel
from textual.screen import Screen

from pgtop.model.records import Snapshot
from pgtop.monitor.feed import Update
from pgtop.target import Target
from pgtop.ui import alt_screen, strip_cycles
from pgtop.ui.key_listing import bound_actions, help_place, key_commands
from pgtop.ui.key_order import add_bindings
from pgtop.ui.messages import FeedUpdated
from pgtop.ui.server_screen import ServerScreen

if TYPE_CHECKING:
    from textual.driver import Driver
    from textual.timer import Timer
    from textual.widget import AwaitMount

    from pgtop.collect.postgres import PostgresCollector
    from pgtop.collect.record import Recorder
    from pgtop.collect.replay import Recording
    from pgtop.model.server_summary import ServerSummary
    from pgtop.monitor.fleet import Fleet
    from pgtop.profiles import Profile
    from pgtop.ui.fleet_screen import FleetScreen

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
# A fleet member's screen is built ahead, off screen, once the keys have rested this long
# on its line or on a neighbour's screen: not for every line the cursor passes over.
BUILD_AHEAD_S = 0.3
# Screens built ahead and not shown yet are kept this many at most (the oldest go):
# the cursor resting on each line in turn would otherwise build every server's.
UNVISITED_MAX = 4
# Textual's generic palette entries worth keeping; its Quit and Keys duplicate ours.
TEXTUAL_COMMANDS = {"Theme", "Screenshot"}


def summary_words(summary: ServerSummary | None) -> str:
    """What a member's screen says before its first full poll: the fleet's figures."""
    if summary is None:
        return "waiting for the first poll…"
    return (
        f"reading the sessions… ({summary.client_connections}/{summary.ordinary_slots} "
        f"connections, {summary.active} active, {summary.idle_in_transaction} idle in "
        f"transaction, {summary.waiting_on_lock} waiting on locks)"
    )


def _keep_variables(variables: dict[str, str]) -> None:
    """PgTopApp.refresh_css: the variables are the ones in place (and so is the cache)."""


def _no_reparse() -> None:
    """PgTopApp.refresh_css: every source is parsed with the variables in place."""


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
        members: Sequence[tuple[str, Target]] = (),
    ) -> None:
        """`snapshot_source` replaces polling PostgreSQL (and its pooler): tests.
        `recorder` writes every snapshot (--record); `replay` plays a recording instead
        of polling (--replay; give it a read-only target). `head_start` is a collector
        and its first poll, begun while the UI was still importing (cli.py). `members`:
        several servers (name, target) watched as a fleet; `target` is then unused."""
        super().__init__()
        strip_cycles.install()  # a painted line is freed without the cyclic collector
        self.recorder = recorder
        self.exit_message: str | None = None
        self.fleet: Fleet | None = None
        self.fleet_screen: FleetScreen | None = None
        self.member_screens: dict[str, ServerScreen] = {}
        self._fleet_switching = asyncio.Lock()  # one screen switch of the fleet at a time
        self._showing_built_screen = False  # within _show_mode only
        self._ahead_wanted: list[str] = []  # member screens to build once the keys rest
        self._ahead_timer: Timer | None = None
        self._unvisited: list[str] = []  # built ahead, never shown yet: oldest first
        self.server: ServerScreen | None = None  # the server on screen; None on the fleet
        if len(members) > 1:
            self._watch_fleet(members)
            return
        first = self.server = ServerScreen(
            target,
            password=password,
            snapshot_source=snapshot_source,
            recorder=recorder,
            replay=replay,
            head_start=head_start,
            on_fatal=self._fatal,
        )
        self.add_mode(self.DEFAULT_MODE, lambda: first)
        self._switches = 0
        controls = first.feed.controls  # the same for every server it may switch to
        add_bindings(self, [b for c in FEED_KEYS if c in controls for b in FEED_KEYS[c]])

    def get_driver_class(self) -> type[Driver]:
        """Textual's terminal driver, but Esc answers after ESCDELAY (esc_driver.py).
        Only in place of Textual's Linux/macOS one (not headless, web or Windows)."""
        driver = super().get_driver_class()
        linux = sys.modules.get("textual.drivers.linux_driver")  # imported if it chose it
        if linux is None or driver is not linux.LinuxDriver:
            # Only Textual's Linux driver is known to take an early screen over in place.
            alt_screen.restore()
            return driver
        from pgtop.ui.esc_driver import PromptEscDriver

        return PromptEscDriver

    def refresh_css(self, animate: bool = True) -> None:
        """Textual's, without re-parsing every stylesheet when nothing it depends on
        changed. Textual calls this whenever a mode's screen is made (the first screen,
        each profile switch): it sets the CSS variables, which empties the parse cache,
        and re-parses every source, so at start-up each one was parsed three times
        (~10 ms of a ~15 ms total, on the way to the first frame). The sources depend
        only on the variables (a theme); sources added since (a new screen's CSS, a
        widget's defaults) are parsed when next applied, through the cache."""
        sheet = self.stylesheet
        variables = self.get_css_variables()  # ~0.6 ms: worked out once for the call
        if variables != sheet._variables:  # a theme change: Textual's way
            super().refresh_css(animate)
            return
        # Instance attributes shadow the three methods for this one call.
        self.get_css_variables = lambda: variables  # type: ignore[method-assign]
        sheet.set_variables = _keep_variables  # type: ignore[method-assign]
        sheet.reparse = _no_reparse  # type: ignore[method-assign]
        try:
            super().refresh_css(animate)
        finally:
            del self.get_css_variables, sheet.set_variables, sheet.reparse

    def _get_dom_base(self) -> Screen[None]:
        """`app.query_one` looks in the server screen watched now (the fleet screen when
        none is). Textual's default is the first screen, which a profile switch removes."""
        if self.server is None:
            assert self.fleet_screen is not None
            return self.fleet_screen
        return self.server

    # -- the fleet ------------------------------------------------------------------------

    def _watch_fleet(self, members: Sequence[tuple[str, Target]]) -> None:
        from pgtop.monitor.fleet import Fleet
        from pgtop.ui.fleet_screen import FleetScreen

        self.fleet = Fleet(list(members), self._member_updated)
        fleet_screen = self.fleet_screen = FleetScreen(
            self.fleet, self.open_member, on_cursor_line=self.fleet_cursor_on
        )
        self.add_mode(self.DEFAULT_MODE, lambda: fleet_screen)
        first = self.fleet.members[0]  # the feed controls are the same for every member
        add_bindings(self, [b for c in FEED_KEYS if c in first.controls for b in FEED_KEYS[c]])

    def on_mount(self) -> None:
        if self.fleet is not None:
            self.fleet.start(lambda work, group: self.run_worker(work, group=group,
                                                                exit_on_error=False))  # fmt: skip

    def _member_updated(self, name: str, update: Update) -> None:
        """From a member's worker: its fleet line, and its screen when it is on it."""
        if self.fleet_screen is not None:
            self.fleet_screen.member_updated(name)
        screen = self.member_screens.get(name)
        focused = self.fleet.focused if self.fleet is not None else None
        if screen is not None and focused is not None and focused.name == name:
            screen.post_message(FeedUpdated(update))

    def open_member(self, name: str) -> None:
        self.run_worker(self._open_member(name), group="fleet-switch")

    async def _open_member(self, name: str) -> None:
        """The member's usual screen, at once from what its feed already has; it polls
        in full from now on (Fleet.focus), the others by summary. Switches run one after
        another (`]` pressed fast): one cut short would leave `server` and the mode apart."""
        async with self._fleet_switching:
            await self._switch_to_member(name)

    async def _switch_to_member(self, name: str) -> None:
        assert self.fleet is not None
        member = self.fleet.focus(name)
        assert member is not None
        screen = self._member_screen(name)
        if name in self._unvisited:
            self._unvisited.remove(name)
        if member.state.snapshot() is None:  # a summary until its first full poll
            screen.sessions.table.empty_message = summary_words(member.status.summary)
            screen.sessions.table.refresh()
        self.server = screen
        await self._show_mode(screen, f"member:{name}")
        if self.fleet_screen is not None:
            self.fleet_screen.table.move_to(name)  # esc comes back to this server's line
        self._build_ahead_soon(self._neighbours(name))

    def _member_screen(self, name: str) -> ServerScreen:
        """The member's screen, made (with its mode) the first time it is asked for."""
        screen = self.member_screens.get(name)
        if screen is None:
            assert self.fleet is not None
            member = self.fleet.member(name)
            made = screen = ServerScreen(member.target, member=member)
            # Styled as it mounts, with the stylesheet as it is now: Textual would otherwise
            # see a screen never refreshed and re-parse all CSS and restyle every screen
            # built so far, twice (App._init_mode and switch_mode): ~150 ms by the tenth.
            made._css_update_count = self._css_update_count
            self.member_screens[name] = made
            self.add_mode(f"member:{name}", lambda: made)
        return screen

    def _step_from(self, name: str, step: int) -> str | None:
        """The server `step` lines from `name` in the fleet's order (] is 1, [ is -1);
        None when `name` is not listed there or is alone."""
        order = self.fleet_screen.order() if self.fleet_screen is not None else []
        if name not in order or len(order) < 2:
            return None
        return order[(order.index(name) + step) % len(order)]

    def _neighbours(self, name: str) -> list[str]:
        """The servers ] and [ go to from `name`'s screen."""
        steps = [self._step_from(name, 1), self._step_from(name, -1)]
        return list(dict.fromkeys(n for n in steps if n is not None))

    def fleet_cursor_on(self, name: str) -> None:
        """The fleet's cursor is on `name`'s line (fleet_screen.py): Enter is next."""
        if self.server is None:
            self._build_ahead_soon([name])

    def _build_ahead_soon(self, names: list[str]) -> None:
        """Once the keys rest, build the screens of `names` off screen (composed and
        styled), so that going to them only lays them out and draws them. Building one
        on the key that shows it took ~60 ms, most of a switch."""
        wanted = [n for n in names if not self._built_or_building(n)]
        if wanted == self._ahead_wanted:
            return  # the same ones, already due
        if self._ahead_timer is not None:
            self._ahead_timer.stop()
        self._ahead_wanted = wanted
        self._ahead_timer = self.set_timer(BUILD_AHEAD_S, self._build_ahead) if wanted else None

    def _is_built(self, name: str) -> bool:
        screen = self.member_screens.get(name)
        return screen is not None and screen.is_running

    def _built_or_building(self, name: str) -> bool:
        """Built, or built ahead (`_unvisited` holds it from before its mount is awaited):
        a second build-ahead during that await must not register it again, or list it
        twice and later drop its mode twice."""
        return name in self._unvisited or self._is_built(name)

    async def _build_ahead(self) -> None:
        wanted, self._ahead_wanted, self._ahead_timer = self._ahead_wanted, [], None
        if self._fleet_switching.locked():  # a switch runs: it asks again when done
            return
        mounting = []
        for name in wanted:
            if not self._built_or_building(name):
                # What App._init_mode does first on a switch: register the screen, which
                # composes and mounts it; it is not shown, its mode is not current.
                mounting.append(self._get_screen(self._member_screen(name))[1])
                self._unvisited.append(name)
        for mounted in mounting:
            await mounted
        async with self._fleet_switching:  # no switch to a screen being dropped
            while len(self._unvisited) > UNVISITED_MAX:  # the cursor went over many lines
                await self._drop_member_screen(self._unvisited[0])

    async def _drop_member_screen(self, name: str) -> None:
        """A screen built ahead and never shown: closed, and built again if asked for."""
        self._unvisited.remove(name)
        screen = self.member_screens.pop(name)
        await self.remove_mode(f"member:{name}")
        await screen.remove()
        await screen.close()

    def _show_mode(self, screen: Screen[None], mode: str) -> AwaitMount:
        """switch_mode; a screen already built is drawn at once (see delay_update), and
        whole: its first frame would otherwise hold only what changed since it was last
        on the terminal, drawn over the screen that was (the whole one came a frame
        later, ~15 ms)."""
        built = self._showing_built_screen = screen.is_running
        if built:
            compositor = screen._compositor
            compositor._dirty_regions.add(compositor.size.region)
        try:
            return self.switch_mode(mode)
        finally:
            self._showing_built_screen = False

    def delay_update(self, delay: float = 0.05) -> None:
        """Textual's switch_mode holds the screen 50 ms to hide a new screen being built:
        none is when the screen was built already, so it is drawn at once."""
        if not self._showing_built_screen:
            super().delay_update(delay)

    async def action_fleet_back(self) -> None:
        """esc on a member's screen (with nothing to clear there): the fleet's lines."""
        if self.fleet is None:
            return
        async with self._fleet_switching:
            self.fleet.focus(None)
            self.server = None
            assert self.fleet_screen is not None
            await self._show_mode(self.fleet_screen, self.DEFAULT_MODE)
        if self.fleet_screen is not None:
            self.fleet_screen.redraw()

    def action_fleet_step(self, step: int) -> None:
        """] and [: the next or previous server in the fleet's lines, without going back."""
        if self.fleet is None or self.fleet.focused is None:
            return
        name = self._step_from(self.fleet.focused.name, step)
        self.open_member(name if name is not None else self.fleet.neighbour(step).name)

    def _fatal(self, reason: str) -> None:
        self.exit_message = reason
        self.exit()

    def action_feed(self, control: str, *args: object) -> None:
        if self.server is not None:
            self.server.feed_control(control, *args)
        elif self.fleet is not None:  # on the fleet's lines: every member
            for member in self.fleet.members:
                getattr(member, control)(*args)
            if self.fleet_screen is not None:
                self.fleet_screen.redraw()

    def action_replay_jump(self) -> None:
        if self.server is not None:
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
        server = self.server
        if server is not None and server.feed.has_server and not server.in_fleet:
            # a recording has no connection to save; a fleet member has its profile
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
        if self.fleet is not None:
            for screen in self.member_screens.values():
                await screen.close()
            await self.fleet.close()
        elif self.server is not None:
            await self.server.close()
        if self.recorder is not None:
            await asyncio.to_thread(self.recorder.close)
