"""Switching to a saved profile, and saving the current connection as one.

A mixin for PgTopApp: switching stops the feed (its workers and connections) and builds
a new one, with a new MonitorState, for the profile's server; nothing of the old target
is kept.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING

from pgtop.ui.widgets.header import HeaderState, StatusHeader
from pgtop.ui.widgets.sessions_table import SessionsTable

if TYPE_CHECKING:
    from pgtop.profiles import Profile
    from pgtop.target import Target
    from pgtop.ui.app import PgTopApp

    _Base = PgTopApp
else:
    _Base = object


class ProfileActions(_Base):
    """Mixed into PgTopApp."""

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

        self.push_screen(ProfilePicker(saved, self.target.profile_name), callback=chosen)

    async def switch_to_profile(self, profile: Profile) -> None:
        """Stop the workers, close connections, and watch the profile's server instead."""
        from pgtop.profiles import ProfileError, profile_to_target

        locked = self.target.read_only_locked  # --read-only outlives every switch
        target = profile_to_target(profile, read_only=True if locked else None).replace(
            connect_timeout=self.target.connect_timeout, read_only_locked=locked
        )
        if target.password_command and "password" not in target.postgres.params:
            try:
                target = self._run_password_command(target)
            except ProfileError as exc:
                self.notify(str(exc), severity="error", timeout=8)
                return
        await self._stop_polling()
        self.target = target
        self.password = None
        self.header_state = HeaderState.for_target(target, filter_text=self.filter_text)
        self.query_one(StatusHeader).state = self.header_state
        table = self.query_one(SessionsTable)
        table.marked.clear()  # marks name sessions of the old server
        table.set_rows([], datetime.now(UTC))
        self.reset_host()
        self._make_feed()
        self._start_feed()
        self.refresh_bindings()  # read-only may differ between profiles
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

    async def _stop_polling(self) -> None:
        if self._runner is not None:
            await self._runner.close()
            self._runner = None
        await self._stop_feed()

    def action_save_profile(self) -> None:
        from pgtop.ui.screens.profiles import SaveProfileScreen

        def named(name: str | None) -> None:
            if name is not None:
                self._save_profile(name)

        self.push_screen(SaveProfileScreen(self.target.profile_name or ""), callback=named)

    def _save_profile(self, name: str) -> None:
        from pgtop.profiles import Profile, ProfileError, save_profile

        t = self.target
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
        self.target = t.replace(profile_name=name)
        self.notify(f"saved profile {name!r}")
