"""Connections per database, user, application or client host, by state.

`K` here terminates every client session of the database under the cursor: the pane
asks its server screen with a SignalSessions message (ui/acting.py runs it).

A stock DataTable is enough here: tens of rows, not thousands (see docs/design.md).
"""

from __future__ import annotations

from rich.cells import cell_len
from rich.text import Text
from textual.binding import Binding
from textual.events import Resize
from textual.widgets import DataTable

from pgtop.model.capacity import usage
from pgtop.model.derive import GROUPINGS, Rates, counts_by
from pgtop.model.format import one_line
from pgtop.model.records import DatabaseStat, Snapshot, StateCounts
from pgtop.ui.acting import SignalSessions, act_bindings, read_only_rule, say_read_only
from pgtop.ui.widgets.cells import cursor_key, fit_widths, label, num, pct

GROUPING_ORDER = ("database", "user", "application", "client")
# Column key -> header. Headers are short so the name keeps room at 80 columns.
COUNT_COLUMNS = {
    "total": "total",
    "active": "active",
    "idle": "idle",
    "idle_tx": "idle-tx",
    "aborted": "abort",
    "lock": "lock",
    "other": "other",
}
LIMIT_COLUMNS = {"limit": "limit", "used": "use%"}
_FALLBACK_WIDTH = 80  # before the first layout, when size is still 0


def _count_cells(c: StateCounts) -> dict[str, Text]:
    return {
        "total": num(c.total, style="bold"),
        "active": num(c.active),
        "idle": num(c.idle),
        # Open transactions hold locks and snapshots; aborted ones are a bug in the client.
        "idle_tx": num(c.idle_in_transaction, "yellow" if c.idle_in_transaction else ""),
        "aborted": num(
            c.idle_in_transaction_aborted, "red" if c.idle_in_transaction_aborted else ""
        ),
        "lock": num(c.waiting_on_lock, "bold red" if c.waiting_on_lock else ""),
        "other": num(c.other),
    }


def _limit_cells(c: StateCounts, stat: DatabaseStat | None) -> dict[str, Text]:
    if stat is None or stat.connlimit < 0:
        return {"limit": Text("—", style="dim", justify="right"), "used": Text("")}
    return {
        "limit": num(stat.connlimit, dim_zero=False),
        "used": pct(usage(c.total, stat.connlimit)),
    }


class DatabasesPane(DataTable[Text]):
    """Client connections grouped by database (default), user, application or client."""

    BINDINGS = [Binding("g", "regroup", "Group by")]
    DEFAULT_CSS = """
    DatabasesPane {
        height: 1fr;
        border: none;
        border-top: solid $primary;
        border-title-align: left;
    }
    """

    def __init__(
        self,
        grouping: str = "database",
        *,
        name: str | None = None,
        id: str | None = None,
        classes: str | None = None,
        has_server: bool = False,
        read_only: bool = True,
    ) -> None:
        """`has_server`: the feed has a server to act on (`K`); `read_only`: it may not."""
        super().__init__(cursor_type="row", name=name, id=id, classes=classes)
        self.read_only = read_only
        kill = Binding("K", "terminate_database", "Kill all in db", show=False, id="terminate-db")
        act_bindings(self, [kill], has_server=has_server)
        if grouping not in GROUPINGS:
            raise ValueError(f"unknown grouping {grouping!r}")
        self.grouping = grouping
        self._snapshot: Snapshot | None = None
        self._layout: tuple[object, ...] = ()
        self.border_title = f"Connections by {grouping}"

    # -- the interface every pane offers -------------------------------------------------
    def update_snapshot(self, snapshot: Snapshot, rates: Rates | None) -> None:
        del rates  # counts only; rates belong to the header
        self._snapshot = snapshot
        if self.is_mounted:  # else on_mount draws it: the table needs a running app
            self._render_groups()

    def on_mount(self) -> None:
        self._render_groups()

    def selected_database(self) -> str | None:
        """The database under the cursor when grouping by database, else None."""
        if self.grouping != "database":
            return None
        return cursor_key(self) or None

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        return read_only_rule(action, self.read_only)

    def action_terminate_database(self) -> None:
        name = self.selected_database()
        snap = self._snapshot
        if name is None or snap is None:
            self.notify(
                "select a database in the Databases pane (grouped by database)", severity="warning"
            )
            return
        targets = [s for s in snap.sessions if s.is_client and s.database == name]
        self.post_message(SignalSessions("terminate", targets, database=name))

    def action_read_only_notice(self) -> None:
        say_read_only(self)

    def action_regroup(self) -> None:
        i = GROUPING_ORDER.index(self.grouping)
        self.grouping = GROUPING_ORDER[(i + 1) % len(GROUPING_ORDER)]
        self.border_title = f"Connections by {self.grouping}"
        self._layout = ()  # new columns: rebuild
        self._render_groups()

    def on_resize(self, event: Resize) -> None:
        del event
        if self._snapshot is not None:
            self._render_groups()

    # -- drawing --------------------------------------------------------------------------
    def _groups(self, snapshot: Snapshot) -> list[tuple[str, StateCounts]]:
        counts = counts_by(snapshot.sessions, GROUPINGS[self.grouping])
        if self.grouping == "database":
            # A database nobody uses is still a database the DBA wants to see.
            for db in snapshot.databases:
                counts.setdefault(db.name, StateCounts())
        # The group hogging connections first; names break ties so rows do not jump.
        return sorted(counts.items(), key=lambda kv: (-kv[1].total, kv[0]))

    def _render_groups(self) -> None:
        snapshot = self._snapshot
        if snapshot is None:
            return
        groups = self._groups(snapshot)
        stats = {d.name: d for d in snapshot.databases}
        rows: dict[str, dict[str, Text]] = {}
        for key, c in groups:
            cells = _count_cells(c)
            if self.grouping == "database":
                cells |= _limit_cells(c, stats.get(key))
            rows[key] = cells
        headers = COUNT_COLUMNS | (LIMIT_COLUMNS if self.grouping == "database" else {})
        widths = {
            k: max([len(h), *(v[k].cell_len for v in rows.values())]) for k, h in headers.items()
        }
        natural = max([len(self.grouping), *(cell_len(one_line(k)) for k in rows)])
        name_width = fit_widths([natural], self._name_room(widths, len(rows)))[0]
        layout = (self.grouping, name_width, tuple(widths.values()))
        for key, cells in rows.items():
            allowed = stats[key].allow_connections if key in stats else True
            cells["name"] = label(key, name_width, "" if allowed else "dim")

        keep = cursor_key(self)
        if layout != self._layout:
            self._layout = layout
            self.clear(columns=True)
            self.add_column(Text(self.grouping), width=name_width, key="name")
            for k, h in headers.items():
                self.add_column(Text(h, justify="right"), width=widths[k], key=k)
        current = [r.key.value for r in self.ordered_rows]
        if self.columns and sorted(current) == sorted(rows):  # type: ignore[type-var]
            # Same groups: change only the cells, so the table does not flicker or scroll.
            for key, cells in rows.items():
                for col, value in cells.items():
                    if self.get_cell(key, col) != value:  # redraw only what changed
                        self.update_cell(key, col, value)
            if current != list(rows):
                self.sort("total", "name", key=lambda v: (-int(v[0].plain), v[1].plain))
        else:
            self.clear()
            for key, cells in rows.items():
                self.add_row(cells["name"], *(cells[k] for k in headers), key=key)
        if keep is not None and keep in rows:
            self.move_cursor(row=self.get_row_index(keep), animate=False)

    def _name_room(self, widths: dict[str, int], nrows: int) -> int:
        total = self.size.width or _FALLBACK_WIDTH
        padding = 2 * self.cell_padding
        used = sum(w + padding for w in widths.values()) + padding
        if nrows > max(1, self.size.height - 1):  # a vertical scrollbar will take room
            used += self.styles.scrollbar_size_vertical
        return total - used
