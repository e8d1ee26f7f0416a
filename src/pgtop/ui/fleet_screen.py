"""The fleet screen: one line per server, worst first, sortable and filterable; Enter
opens the server's own screen (the app does that: app.py `open_member`).

Who owns what: the members' data is each MemberFeed's status (monitor/fleet.py, written
by its workers); the app tells this screen which member changed (`member_updated`) and
the screen redraws from every member's view, at most every REDRAW_S, never waiting on
the network. The screen owns its view of the lines: the sort (`sort_key`,
`descending`), the filter and its prompt; the table (widgets/fleet_table.py) owns its
cursor.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from datetime import UTC, datetime

from rich.console import Group
from rich.text import Text
from textual import events
from textual.app import ComposeResult
from textual.binding import ActiveBinding, Binding
from textual.css.query import NoMatches
from textual.screen import Screen
from textual.timer import Timer
from textual.widget import Widget

from pgtop.model.fleet_line import (
    SORT_KEYS,
    FilterError,
    FleetFilter,
    FleetLine,
    fleet_lines,
    parse_fleet_filter,
    sort_lines,
)
from pgtop.model.format import age, one_line, plural
from pgtop.monitor.fleet import Fleet
from pgtop.ui.filter_prompt import FilterPrompt
from pgtop.ui.key_order import in_key_order
from pgtop.ui.widgets.env_label import env_label
from pgtop.ui.widgets.fleet_table import FleetTable
from pgtop.ui.widgets.header_lines import every
from pgtop.ui.widgets.keys_footer import KeysFooter

# Members report one after another: their updates are drawn together, this often at most.
REDRAW_S = 0.5
# Ages ("unreachable 3m05s") tick even when no member reports (a down one backs off).
TICK_S = 1.0
SORT_ORDER = list(SORT_KEYS)  # s / > cycles through them, < back
FILTER_HINT = "enter: done · esc: clear · env:prod status:down name: used>80 xact>5m"


class TextLines(Widget):
    """Fixed lines of text, repainted without a layout pass (a Static's update would
    lay the screen out again: a cursor key would cost that each time)."""

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.lines: tuple[Text, ...] = ()

    def show(self, *lines: Text) -> None:
        if lines != self.lines:
            self.lines = lines
            self.refresh()

    def render(self) -> Group:
        return Group(*self.lines)


class FleetScreen(Screen[None]):
    BINDINGS = [
        Binding("enter", "open_server", "Open", id="open-server"),
        # Priority, as on the server screen: "/env:prod" in one read types, not acts.
        Binding("slash", "fleet_filter", "Filter", id="filter", priority=True),
        Binding("escape", "clear_filter", "Clear filter", show=False, id="clear"),
        Binding("s,greater_than_sign", "sort_step(1)", "Sort", id="sort"),
        Binding("less_than_sign", "sort_step(-1)", "Sort back", show=False, id="sort-back"),
        Binding("r", "sort_reverse", "Reverse", show=False, id="reverse"),
        Binding("0", "sort_default", "Worst first", show=False, id="sort-default"),
    ]
    DEFAULT_CSS = """
    FleetScreen #fleet-header { height: 2; padding: 0 1; background: $panel; }
    FleetScreen #fleet-detail { height: 1; padding: 0 1; background: $panel; }
    """

    def __init__(
        self,
        fleet: Fleet,
        open_member: Callable[[str], object],
        on_cursor_line: Callable[[str], object] | None = None,
    ) -> None:
        """`open_member(name)`: Enter on a line (the app opens that server's screen);
        `on_cursor_line(name)`: the server under the cursor, told at each move and redraw
        (the app builds its screen ahead)."""
        super().__init__()
        self.fleet = fleet
        self.open_member = open_member
        self.on_cursor_line = on_cursor_line
        self.sort_key = "worst"
        self.descending = False  # turned round by r (each key has its natural order)
        self.filter: FleetFilter | None = None
        self.prompt = FilterPrompt()
        self.lines: list[FleetLine] = []  # every member, worst first (before the filter)
        self.table = FleetTable(id="fleet-table", key_handler=self._prompt_key,
                                on_cursor=self._cursor_moved)  # fmt: skip
        self._pending: Timer | None = None
        self.redraws = 0  # how many times the lines were rebuilt (the benchmark reads it)

    def compose(self) -> ComposeResult:
        yield TextLines(id="fleet-header")
        yield self.table
        yield TextLines(id="fleet-detail")
        yield KeysFooter()

    def on_mount(self) -> None:
        self.table.focus()
        self.redraw()
        self.set_interval(TICK_S, self.redraw)

    @property
    def active_bindings(self) -> dict[str, ActiveBinding]:
        """The keys in pgtop's usual order (key_order.py), for the footer and help."""
        return in_key_order(super().active_bindings)

    # -- data -----------------------------------------------------------------------------

    def member_updated(self, name: str) -> None:
        """A member's feed wrote its status: redraw soon, with whoever else reports."""
        if self._pending is None and self.is_running:
            self._pending = self.set_timer(REDRAW_S, self.redraw)

    def redraw(self) -> None:
        self._pending = None
        self.redraws += 1
        now = datetime.now(UTC)
        self.lines = fleet_lines(self.fleet.views())
        shown = self.filter.apply(self.lines) if self.filter else self.lines
        if self.sort_key != "worst" or self.descending:
            shown = sort_lines(shown, self.sort_key, reverse=self.descending)
        self.table.sort_key = self.sort_key
        self.table.sort_descending = self._arrow_down()
        self.table.empty_message = "no server matches the filter" if self.lines else ""
        self.table.set_lines(shown, now)
        self._draw_header()
        self._cursor_moved()

    def _cursor_moved(self) -> None:
        self._draw_detail()
        line = self.table.cursor_line
        if line is not None and self.on_cursor_line is not None:
            self.on_cursor_line(line.name)

    def order(self) -> list[str]:
        """The servers as the lines show them now (] and [ follow this order)."""
        return [line.name for line in self.table.lines]

    def _arrow_down(self) -> bool:
        natural = self.sort_key in {"used", "active", "idle_tx", "waiting", "xact", "tps",
                                    "pool_wait"}  # fmt: skip
        return natural != self.descending

    # -- drawing --------------------------------------------------------------------------

    def _draw_header(self) -> None:
        lines = self.lines
        down = [line for line in lines if line.down]
        first = Text("fleet ", "bold").append(plural(len(lines), "server"))
        if down:
            first.append("  ").append(f"{len(down)} not live", "bold red")
        shown = len(self.table.lines)
        if shown != len(lines):
            first.append(f"  {shown} shown", "cyan")
        label = self.sort_key + (" reversed" if self.descending else "")
        first.append(f"  sort: {label}", "dim")
        if self.fleet.members:  # p, + and - on the fleet act on every member alike
            lead = self.fleet.members[0]
            if lead.paused:
                first.append("  paused", "bold yellow")
            first.append(f"  every {every(lead.pg_poller.interval)}", "dim")
        if self.prompt.open:
            second = Text("/ ", "bold reverse").append(one_line(self.prompt.text), "bold")
            second.append("▏", "blink bold")
            hint = self.prompt.error or FILTER_HINT
            second.append("  " + one_line(hint), "bold red" if self.prompt.error else "dim")
        elif self.filter is not None:
            second = Text("filter: ", "bold").append(one_line(self.filter.text), "cyan")
            second.append("  esc clears", "dim")
        else:
            second = Text("enter opens a server · esc there comes back · ] [ next, previous",
                          "dim")  # fmt: skip
        for t in (first, second):
            t.no_wrap, t.overflow = True, "ellipsis"
        with contextlib.suppress(NoMatches):
            self.query_one("#fleet-header", TextLines).show(first, second)

    def _draw_detail(self) -> None:
        """The server under the cursor, whole: its address and, when down, why."""
        line = self.table.cursor_line
        t = Text(no_wrap=True, overflow="ellipsis")
        if line is not None:
            t.append(one_line(line.name), "bold")
            if line.env:
                t.append(" ").append_text(env_label(line.env, line.colour))
            member = self.fleet.member(line.name)
            if line.down:  # why first: the address may be cut at 80 columns
                since = (datetime.now(UTC) - line.since).total_seconds()
                t.append(f"  {line.status} for {age(max(0.0, since))}", "bold red")
                if line.reason:
                    t.append(f": {one_line(line.reason)}", "red")
                retry = member.status.retry_in
                if retry:
                    t.append(f"  (retry every {age(retry)})", "dim")
            elif line.version:
                t.append(f"  PostgreSQL {line.version}", "dim")
            if member.status.pooler_error:
                t.append(f"  pooler: {one_line(member.status.pooler_error)}", "red")
            t.append(f"  {member.target.postgres.describe()}", "dim")
        with contextlib.suppress(NoMatches):
            self.query_one("#fleet-detail", TextLines).show(t)

    # -- keys -----------------------------------------------------------------------------

    def action_open_server(self) -> None:
        line = self.table.cursor_line
        if line is not None:
            self.open_member(line.name)

    def action_sort_step(self, step: int) -> None:
        at = SORT_ORDER.index(self.sort_key)
        self.sort_key = SORT_ORDER[(at + step) % len(SORT_ORDER)]
        self.descending = False
        self.redraw()

    def action_sort_reverse(self) -> None:
        self.descending = not self.descending
        self.redraw()

    def action_sort_default(self) -> None:
        self.sort_key, self.descending = "worst", False
        self.redraw()

    def action_fleet_filter(self) -> None:
        self.prompt.start(self.filter.text if self.filter else "")
        self._draw_header()

    def action_clear_filter(self) -> None:
        if self.filter is not None:
            self.filter = None
            self.redraw()

    def _prompt_key(self, event: events.Key) -> bool:
        outcome = self.prompt.key(event.key, event.character, event.is_printable)
        if outcome is None:
            return False
        if outcome == "cleared":
            self.filter = None
            self.redraw()
        elif outcome in ("changed", "closed"):
            self._apply_filter(self.prompt.text)
        self._draw_header()
        return True

    def on_paste(self, event: events.Paste) -> None:
        if self.prompt.paste(event.text) is not None:
            self._apply_filter(self.prompt.text)
            self._draw_header()
            event.stop()

    def _apply_filter(self, text: str) -> None:
        try:
            parsed = parse_fleet_filter(text.strip()) if text.strip() else None
        except FilterError as exc:
            self.prompt.error = str(exc)  # the last good filter stays meanwhile
            return
        self.prompt.error = ""
        self.filter = parsed
        self.redraw()
