"""The Findings pane (key 5): what the last poll means, worst first, and where to go.

It draws the findings of the last frame its server screen published (`take_frame`;
model/findings derives them, monitor/state.py once per frame); it holds nothing but
those and the list's cursor, which follows its finding from frame to frame. A
finding that no longer holds is gone from the next frame, so from the list. Enter posts
`FindingsPane.Jump` with the finding; the server screen takes it there (finding_jump.py).
Below the list, the highlighted finding's evidence and what to do about it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import ClassVar, Self

from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.message import Message
from textual.widgets import OptionList, Static
from textual.widgets.option_list import Option

from pgtop.model.findings import Finding
from pgtop.model.format import age, one_line
from pgtop.monitor.frame import Frame

SEVERITY_STYLES = {
    "critical": "bold white on red",
    "warning": "bold black on yellow",
    "info": "bold",
}
SEVERITY_COLOURS = {"critical": "bold red", "warning": "bold yellow", "info": "dim"}
SEVERITY_LABELS = {"critical": "CRITICAL", "warning": "WARNING", "info": "INFO"}
KIND_NAMES = {
    "pooler_queue": "pooler queue",
    "server_full": "server full",
    "limit_reached": "limit reached",
    "lock_pileup": "lock pile-up",
    "idle_in_transaction": "idle in transaction",
    "connection_storm": "connection storm",
    "old_snapshot": "old snapshot",
    "leak": "leak",
}
CALM = "No findings: no queue at the pooler, no full server, nothing piles up."
NO_DATA = "Waiting for the first poll…"
BADGE_WIDTH = 10  # " CRITICAL "
LIST_EVIDENCE = 4  # figures each list entry shows; the detail below shows them all


def finding_key(f: Finding) -> str:
    """What identifies a finding from one frame to the next (its numbers change)."""
    one = str(f.pids[0]) if f.pids and f.pool is None and f.filter is None else ""
    return "\x1f".join((f.kind, f.pool or "", f.filter or "", one))


def evidence_text(evidence: Mapping[str, float | int], limit: int | None = None) -> str:
    """ "waiting 3 · longest wait 12s · pool size 20": seconds as ages, names as words."""
    parts = []
    for name, value in list(evidence.items())[:limit]:
        if name.endswith("per_s"):  # a rate: new backends per second
            words, shown = name.removesuffix("per_s") + "rate", f"{value:g}/s"
        elif name.startswith("seconds_"):
            words, shown = name.removeprefix("seconds_"), age(float(value))
        elif name.endswith("_s"):
            words, shown = name.removesuffix("_s"), age(float(value))
        elif name == "percent":
            words, shown = name, f"{value:.0f} %"
        else:
            words, shown = name, f"{value:g}" if isinstance(value, float) else str(value)
        parts.append(f"{words.replace('_', ' ')} {shown}")
    return " · ".join(parts)


def jump_text(f: Finding) -> str:
    """What Enter does with `f` (finding_jump.py decides the same way)."""
    if f.filter:
        n = len(f.pids)
        which = f"its {n} session{'s' if n != 1 else ''}" if n else "its sessions"
        return f"⏎ shows {which} (filter {one_line(f.filter)}); * marks all, k terminates"
    if f.pool:
        return f"⏎ selects pool {one_line(f.pool)} in the Pooler pane"
    if f.pids:
        tree = " in the lock tree" if f.kind == "lock_pileup" else ""
        return f"⏎ goes to pid {f.pids[0]}{tree}"
    return ""


def entry(f: Finding) -> Table:
    """One list entry: the severity badge, then the sentence and its first figures,
    wrapped beside the badge so the next badge stands out."""
    badge = Text(f" {SEVERITY_LABELS.get(f.severity, f.severity)} ", SEVERITY_STYLES[f.severity])
    t = Text(f"{KIND_NAMES.get(f.kind, f.kind)}: ", SEVERITY_COLOURS[f.severity])
    t.append(one_line(f.summary, 400))
    figures = evidence_text(f.evidence, LIST_EVIDENCE)
    if figures:
        t.append("\n" + figures, "dim")
    grid = Table.grid(padding=(0, 1), expand=True)
    grid.add_column(width=BADGE_WIDTH)
    grid.add_column(ratio=1)
    grid.add_row(badge, t)
    return grid


def detail_text(f: Finding | None) -> Text:
    if f is None:
        return Text("")
    t = Text()
    jump = jump_text(f)
    if jump:
        t.append(jump + "\n", "bold cyan")
    if f.action:
        t.append("What to do: ", "bold").append(one_line(f.action, 400) + "\n")
    figures = evidence_text(f.evidence)
    if figures:
        t.append("Evidence: ", "bold").append(figures, "dim")
    t.rstrip()
    return t


class FindingsList(OptionList, inherit_bindings=False):
    """The list; Enter goes to the finding's sessions or pool (its own description, for
    the footer, help and palette, rather than OptionList's "Select")."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("enter", "select", "Go to sessions/pool", id="finding-jump"),
        Binding("up", "cursor_up", "Up", show=False),
        Binding("down", "cursor_down", "Down", show=False),
        Binding("home", "first", "First", show=False),
        Binding("end", "last", "Last", show=False),
        Binding("pageup", "page_up", "Page up", show=False),
        Binding("pagedown", "page_down", "Page down", show=False),
    ]


class FindingsPane(Vertical):
    """The findings of the last frame, worst first, and the highlighted one's detail."""

    class Jump(Message):
        """Show this finding's sessions (or pool): the server screen takes it there."""

        def __init__(self, finding: Finding) -> None:
            super().__init__()
            self.finding = finding

    DEFAULT_CSS = """
    FindingsPane { height: 1fr; border: none; border-top: solid $primary; }
    FindingsPane > #findings-calm { height: auto; padding: 0 1; }
    FindingsPane > #findings-list { height: 1fr; border: none; padding: 0; }
    FindingsPane > #findings-detail {
        height: auto; max-height: 7; padding: 0 1; border-top: solid $primary-darken-2;
    }
    FindingsPane.-none > #findings-list, FindingsPane.-none > #findings-detail {
        display: none;
    }
    FindingsPane.-some > #findings-calm { display: none; }
    """

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.border_title = "Findings"
        self.findings: tuple[Finding, ...] = ()  # of the last frame drawn, worst first
        self._frame: Frame | None = None
        self._keys: list[str] = []

    def compose(self) -> ComposeResult:
        yield Static(Text(NO_DATA, "dim"), id="findings-calm")
        yield FindingsList(id="findings-list")
        yield Static(id="findings-detail")

    @property
    def options(self) -> FindingsList:
        return self.query_one(FindingsList)

    def focus(self, scroll_visible: bool = True) -> Self:
        """Key 5 focuses the list, so Enter and the arrows work on it at once."""
        if self.is_mounted:
            self.options.focus(scroll_visible)
            return self
        return super().focus(scroll_visible)

    def on_mount(self) -> None:
        self.set_class(True, "-none")
        if self._frame is not None:
            self._draw(self._frame)

    def take_frame(self, frame: Frame) -> None:
        self._frame = frame
        if self.is_mounted:
            self._draw(frame)

    @property
    def highlighted(self) -> Finding | None:
        i = self.options.highlighted
        return self.findings[i] if i is not None and 0 <= i < len(self.findings) else None

    def _draw(self, frame: Frame) -> None:
        found = frame.findings
        calm = self.query_one("#findings-calm", Static)
        if frame.snapshot is None:
            calm.update(Text(NO_DATA, "dim"))
        elif not found:
            calm.update(Text.assemble(("✓ ", "bold green"), (CALM, "green")))
        self.set_class(not found, "-none")
        self.set_class(bool(found), "-some")
        options = self.options
        was = options.highlighted
        keep = self._keys[was] if was is not None and was < len(self._keys) else None
        keys = []
        for f in found:
            key = finding_key(f)
            while key in keys:  # two alike (never expected): both listed
                key += "+"
            keys.append(key)
        self.findings, self._keys = found, keys
        options.set_options(Option(entry(f), id=k) for f, k in zip(found, keys, strict=True))
        if found:
            # The cursor stays on its finding; when that one went, at the same place.
            index = keys.index(keep) if keep in keys else min(was or 0, len(found) - 1)
            options.highlighted = index
        self._show_detail()

    def _show_detail(self) -> None:
        self.query_one("#findings-detail", Static).update(detail_text(self.highlighted))

    def on_option_list_option_highlighted(self, event: OptionList.OptionHighlighted) -> None:
        event.stop()
        self._show_detail()

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        event.stop()
        finding = self.highlighted
        if finding is not None:
            self.post_message(self.Jump(finding))
