"""Pick a saved profile to switch to, or name the current connection to save it."""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Input, Label, OptionList
from textual.widgets.option_list import Option

from pgtop.model.format import one_line
from pgtop.profiles import Profile, ProfileError
from pgtop.profiles.schema import check_name

_MODAL_CSS = """
{name} {{ align: center middle; }}
{name} > Vertical {{
    width: 70; max-width: 100%; height: auto; max-height: 80%;
    border: round $accent; background: $surface; padding: 0 1;
}}
{name} Label {{ text-style: bold; margin-bottom: 1; }}
{name} #profile-error {{ color: $error; text-style: none; }}
"""


class ProfilePicker(ModalScreen[str | None]):
    """Lists profiles; enter switches to the highlighted one, escape keeps the current."""

    BINDINGS = [Binding("escape", "dismiss(None)", "Cancel")]
    DEFAULT_CSS = _MODAL_CSS.format(name="ProfilePicker")

    def __init__(self, profiles: dict[str, Profile], current: str | None) -> None:
        super().__init__()
        self.profiles = profiles
        self.current = current

    def compose(self) -> ComposeResult:
        options = []
        for name, profile in self.profiles.items():
            label = Text(one_line(name, 20).ljust(21), "bold")
            label.append(one_line(profile.describe(), 40))
            if profile.read_only:
                label.append("  read-only", "dim")
            if name == self.current:
                label.append("  (current)", "green")
            options.append(Option(label, id=name))
        with Vertical():
            yield Label("Switch to profile (enter) — esc to stay")
            yield OptionList(*options, id="profile-list")

    def on_mount(self) -> None:
        names = list(self.profiles)
        option_list = self.query_one(OptionList)
        if self.current in names:
            option_list.highlighted = names.index(self.current)
        option_list.focus()

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        self.dismiss(event.option.id)


class SaveProfileScreen(ModalScreen[str | None]):
    """Asks for a name; the caller saves (never the password) and reports."""

    BINDINGS = [Binding("escape", "dismiss(None)", "Cancel")]
    DEFAULT_CSS = _MODAL_CSS.format(name="SaveProfileScreen")

    def __init__(self, suggestion: str = "") -> None:
        super().__init__()
        self.suggestion = suggestion

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Label("Save the current connection as profile (no password is saved)")
            yield Input(value=self.suggestion, placeholder="profile name", id="profile-name")
            yield Label("", id="profile-error")

    def on_input_submitted(self, event: Input.Submitted) -> None:
        name = event.value.strip()
        try:
            if not name:
                raise ProfileError("a profile needs a name")
            check_name(name)
        except ProfileError as exc:  # say it here and let the user fix the name
            self.query_one("#profile-error", Label).update(Text(one_line(str(exc))))
            return
        self.dismiss(name)
