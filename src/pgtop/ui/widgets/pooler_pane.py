"""PgBouncer pools: who waits for a server connection, and for how long.

SHOW POOLS' cl_active counts idle linked clients too (docs/reference/pgbouncer-console.md), so
the columns keep PgBouncer's own meaning instead of pretending to know who is busy.

With a server to act on, the pane (and the pool detail screen it opens) has the PgBouncer
command keys for the selected database (ui/acting.py POOLER_KEYS); it posts a
PoolerCommand, which its server screen's Acting confirms, sends and audits. A database a
command left paused or disabled says so on its pools' lines.
"""

from __future__ import annotations

from typing import Self

from rich.cells import cell_len
from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.coordinate import Coordinate
from textual.events import Resize
from textual.message import Message
from textual.widget import Widget
from textual.widgets import DataTable, Static
from textual.widgets.data_table import CellDoesNotExist

from pgtop.collect.errors import CollectError
from pgtop.collect.monitor import PoolerGroup
from pgtop.model.derive import Rates
from pgtop.model.format import age, one_line
from pgtop.model.pooler_records import Pool, PoolerSnapshot
from pgtop.model.pooler_state import database_states
from pgtop.model.records import Snapshot
from pgtop.ui.acting import (
    PoolerCommand,
    act_bindings,
    console_command,
    pooler_bindings,
    read_only_rule,
    say_read_only,
)
from pgtop.ui.screens.pool_detail import PoolDetailScreen
from pgtop.ui.widgets.cells import config_value, cursor_key, fit_widths, label, num

NO_POOLER = (
    "No pooler watched. Start pgtop with --pooler URI, e.g. "
    "--pooler postgresql://USER@HOST:6432/pgbouncer, where USER is listed in PgBouncer's "
    "stats_users (read-only SHOW commands) or admin_users."
)
# Column key -> header; "c." = clients, "s." = servers, as in SHOW POOLS.
POOL_COLUMNS = {
    "cl_active": "c.act",
    "cl_waiting": "c.wait",
    "sv_active": "s.act",
    "sv_idle": "s.idle",
    "sv_used": "s.used",
    "maxwait": "maxwait",
    "mode": "mode",
}
SHORT_MODES = {"session": "sess", "transaction": "txn", "statement": "stmt"}
CONFIG_KEYS = (
    "max_client_conn",
    "default_pool_size",
    "reserve_pool_size",
    "query_wait_timeout",
    "pool_mode",
)
_WIDE = 110  # below this, pool modes are abbreviated so names keep their room
_SEP = ("  ·  ", "dim")


def pool_key(database: str, user: str) -> str:
    # A unit separator cannot appear in a name PgBouncer would print.
    return f"{database}\x1f{user}"


def _rate(value: float | None, unit: str) -> Text:
    """A rate, or a dash until two polls gave one; `unit` stays when it names the figure
    ("— xact/s"), not when it measures it ("avg wait —", never "n/a ms")."""
    if value is None:
        return Text.assemble(("—", "dim"), "" if unit == "ms" else f" {unit}")
    return Text(f"{value:,.1f} {unit}")


def summary_text(pooler: PoolerSnapshot, rates: Rates | None) -> Text:
    r = rates or Rates(0.0, None, None, None)
    return Text.assemble(
        ("PgBouncer ", "bold"),
        (one_line(pooler.version), "bold"),
        " at ",
        one_line(pooler.address),
        _SEP,
        f"clients {pooler.clients}",
        _SEP,
        f"servers {pooler.servers}",
        "\n",  # rates on a line of their own, so a narrow screen never splits one
        _rate(r.pooler_transactions, "xact/s"),
        _SEP,
        _rate(r.pooler_queries, "queries/s"),
        _SEP,
        "avg wait ",
        _rate(r.pooler_avg_wait_ms, "ms"),
    )


def pooler_processes(node: Widget) -> tuple[PoolerSnapshot | CollectError, ...]:
    """Each PgBouncer process's own figures when the screen's feed polls several (a
    PoolerGroup: issue 17); () for one process, a recording or no pooler."""
    feed = getattr(node.screen, "feed", None)
    group = getattr(feed, "pooler", None)
    return group.processes if isinstance(group, PoolerGroup) else ()


def process_lines(processes: tuple[PoolerSnapshot | CollectError, ...]) -> list[Text]:
    """A line per process when there are several: its address, clients, servers and the
    clients waiting there (the pools above are their sum), or why it did not answer."""
    if len(processes) < 2:
        return []
    out = []
    for i, p in enumerate(processes, 1):
        t = Text(f"process {i} ", "dim")
        if isinstance(p, CollectError):
            t.append(one_line(p.message), "red")
        else:
            waiting = sum(pool.cl_waiting for pool in p.pools)
            t.append_text(Text.assemble(
                one_line(p.address), _SEP, f"clients {p.clients}", _SEP,
                f"servers {p.servers}", _SEP,
                (f"waiting {waiting}", "bold red" if waiting else ""),
            ))  # fmt: skip
        out.append(t)
    return out


def config_text(config: dict[str, str]) -> Text:
    parts: list[Text | tuple[str, str] | str] = []
    for key in CONFIG_KEYS:
        if parts:
            parts.append(_SEP)
        parts.append((f"{key} ", "dim"))
        parts.append(config_value(config, key))
    return Text.assemble(*parts)


def _pool_cells(p: Pool, short_mode: bool) -> dict[str, Text]:
    waiting = p.cl_waiting > 0
    mode = SHORT_MODES.get(p.pool_mode, p.pool_mode) if short_mode else p.pool_mode
    return {
        "cl_active": num(p.cl_active),
        # Queued clients are the one thing here that hurts users right now.
        "cl_waiting": num(p.cl_waiting, "bold white on red" if waiting else ""),
        "sv_active": num(p.sv_active),
        "sv_idle": num(p.sv_idle),
        "sv_used": num(p.sv_used),
        "maxwait": num(age(p.maxwait) if p.maxwait else "", "bold red" if waiting else ""),
        "mode": label(mode),
    }


def _held_without_pools(pooler: PoolerSnapshot, states: dict[str, str]) -> list[Pool]:
    """A line for each paused or disabled database that has no pool left (KILL drops
    them): the state stays visible, and R or E can be pressed on it."""
    pooled = {p.database for p in pooler.pools}
    modes = {d.name: d.pool_mode or "" for d in pooler.databases}
    return [
        Pool(
            name,
            "",
            0,
            0,
            0,
            0,
            0,
            0,
            0,
            0.0,
            modes.get(name) or pooler.config.get("pool_mode", ""),
        )
        for name in states
        if name not in pooled
    ]


def _database_name(p: Pool, states: dict[str, str], attr: str) -> str:
    name = one_line(getattr(p, attr))
    state = states.get(p.database) if attr == "database" else None
    return f"{name} {state}" if state else name


def _database_label(database: str, states: dict[str, str], width: int) -> Text:
    """The database, then what a command left on it (PAUSED, DISABLED), which is never
    the part cut: a paused pool must read as paused however narrow the screen."""
    state = states.get(database)
    if not state:
        return label(database, width)
    room = max(1, width - len(state) - 1)
    return Text.assemble(label(database, room), " ", (state, "bold black on yellow"))


class PoolerPane(Vertical):
    """Summary, config limits and one row per PgBouncer pool (database, user).

    Enter on a pool opens PoolDetailScreen; the backend picked there comes back to the app
    as a ShowBackend message.
    """

    class ShowBackend(Message):
        """Select this backend in the sessions pane and inspect it."""

        def __init__(self, pid: int) -> None:
            super().__init__()
            self.pid = pid

    DEFAULT_CSS = """
    PoolerPane { height: 1fr; border: none; border-top: solid $primary; }
    PoolerPane > Static { height: auto; padding: 0 1; }
    PoolerPane > #pooler-message { display: none; }
    PoolerPane.-message > #pooler-message { display: block; }
    PoolerPane.-error > #pooler-message { color: $error; text-style: bold; }
    PoolerPane.-absent > #pooler-summary, PoolerPane.-absent > #pooler-config,
    PoolerPane.-absent > DataTable { display: none; }
    PoolerPane > DataTable { height: 1fr; }
    PoolerPane.-stale > DataTable, PoolerPane.-stale > #pooler-summary,
    PoolerPane.-stale > #pooler-config { text-opacity: 50%; }
    """

    def __init__(
        self,
        *,
        name: str | None = None,
        id: str | None = None,
        classes: str | None = None,
        has_server: bool = False,
        read_only: bool = True,
    ) -> None:
        """`has_server`: the feed has a pooler to act on (P, R, D, E, C, K); `read_only`:
        it may not."""
        super().__init__(name=name, id=id, classes=classes)
        self.has_server = has_server
        self.read_only = read_only
        act_bindings(self, pooler_bindings(), has_server=has_server)
        self.border_title = "PgBouncer pools"
        self._pooler: PoolerSnapshot | None = None  # last good one, kept through errors
        self._rates: Rates | None = None
        self._layout: tuple[object, ...] = ()
        self._latest: tuple[Snapshot, Rates | None] | None = None
        self._detail: PoolDetailScreen | None = None  # the one this pane opened, while open

    def compose(self) -> ComposeResult:
        yield Static(id="pooler-message")
        yield Static(id="pooler-summary")
        yield Static(id="pooler-config")
        yield DataTable(id="pooler-pools", cursor_type="row")

    @property
    def table(self) -> DataTable[Text]:
        return self.query_one("#pooler-pools", DataTable)

    def update_snapshot(self, snapshot: Snapshot, rates: Rates | None) -> None:
        self._latest = (snapshot, rates)
        if self.is_mounted:  # else on_mount draws it: the children do not exist yet
            self._draw(snapshot, rates)
        # The app keeps feeding this pane while the detail screen covers it: pass it on.
        if self._detail is not None and self._detail.is_attached:
            self._detail.update_snapshot(snapshot)

    def focus(self, scroll_visible: bool = True) -> Self:
        """Focusing the pane (key 4) focuses its pools table, so Enter opens a pool rather
        than falling through to the app's Inspect of the hidden sessions cursor."""
        if self.is_mounted:
            self.table.focus(scroll_visible)
            return self
        return super().focus(scroll_visible)

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        event.stop()
        if self._latest is None or event.row_key.value is None:
            return
        database, _, user = event.row_key.value.partition("\x1f")
        self._detail = PoolDetailScreen(
            database,
            user,
            self._latest[0],
            act=self.post_message,
            has_server=self.has_server,
            read_only=self.read_only,
        )
        self.app.push_screen(self._detail, callback=self._detail_closed)

    # -- PgBouncer commands on the selected database ------------------------------------

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        return read_only_rule(action, self.read_only)

    def selected_database(self) -> str | None:
        if not self.is_mounted:
            return None
        key = cursor_key(self.table)
        return key.partition("\x1f")[0] if key else None

    def action_pooler(self, word: str) -> None:
        database = self.selected_database()
        if database is None:
            self.notify("select a pool first", severity="warning")
            return
        self.post_message(PoolerCommand(console_command(word), database))

    def action_read_only_notice(self) -> None:
        say_read_only(self)

    def _detail_closed(self, pid: int | None) -> None:
        self._detail = None
        if pid is not None:
            self.post_message(self.ShowBackend(pid))

    def on_mount(self) -> None:
        if self._latest is not None:
            self._draw(*self._latest)

    def _draw(self, snapshot: Snapshot, rates: Rates | None) -> None:
        message = self.query_one("#pooler-message", Static)
        error = snapshot.pooler_error
        if snapshot.pooler is not None:
            self._pooler, self._rates = snapshot.pooler, rates
        elif not error:
            self._pooler = None  # no pooler configured (any more): nothing to keep
        if error:
            message.update(Text.assemble("PgBouncer: ", one_line(error)))
        elif snapshot.pooler is None:
            message.update(Text(NO_POOLER))
        self.set_class(bool(error), "-error")
        self.set_class(snapshot.pooler is None, "-message")
        # After an error the last pools stay on screen, dimmed, so the DBA keeps context.
        self.set_class(snapshot.pooler is None and self._pooler is not None, "-stale")
        self.set_class(self._pooler is None, "-absent")
        self._render_pools()

    def on_resize(self, event: Resize) -> None:
        del event
        self._render_pools()

    def _render_pools(self) -> None:
        pooler = self._pooler
        if pooler is None:
            return
        summary = summary_text(pooler, self._rates)
        for line in process_lines(pooler_processes(self)):
            summary.append("\n").append_text(line)
        self.query_one("#pooler-summary", Static).update(summary)
        self.query_one("#pooler-config", Static).update(config_text(pooler.config))
        table = self.table
        width = table.size.width or self.size.width or 80
        short = width < _WIDE
        states = database_states(pooler)
        rows = {
            pool_key(p.database, p.user): (p, _pool_cells(p, short))
            for p in (*pooler.pools, *_held_without_pools(pooler, states))
        }
        widths = {
            k: max([len(h), *(c[k].cell_len for _, c in rows.values())])
            for k, h in POOL_COLUMNS.items()
        }
        pad = 2 * table.cell_padding
        if len(rows) > max(1, table.size.height - 1):
            width -= table.styles.scrollbar_size_vertical
        room = width - sum(w + pad for w in widths.values()) - 2 * pad
        natural = [
            max([len(head), *(cell_len(_database_name(p, states, attr)) for p, _ in rows.values())])
            for head, attr in (("database", "database"), ("user", "user"))
        ]
        db_w, user_w = fit_widths(natural, room)
        layout = (db_w, user_w, tuple(widths.values()), tuple(states.items()))
        keep = cursor_key(table)
        if layout != self._layout:
            self._layout = layout
            table.clear(columns=True)
            table.add_column(Text("database"), width=db_w, key="database")
            table.add_column(Text("user"), width=user_w, key="user")
            for k, h in POOL_COLUMNS.items():
                justify = "left" if k == "mode" else "right"
                table.add_column(Text(h, justify=justify), width=widths[k], key=k)
        current = [r.key.value for r in table.ordered_rows]
        if table.columns and current == list(rows):
            for key, (_, cells) in rows.items():
                for col, value in cells.items():
                    if table.get_cell(key, col) != value:  # redraw only what changed
                        table.update_cell(key, col, value)
        else:
            table.clear()
            for key, (p, cells) in rows.items():
                table.add_row(
                    _database_label(p.database, states, db_w),
                    label(p.user, user_w),
                    *cells.values(),
                    key=key,
                )
        if keep is not None and keep in rows:
            table.move_cursor(row=table.get_row_index(keep), animate=False)

        try:
            return table.coordinate_to_cell_key(Coordinate(table.cursor_row, 0)).row_key.value
        except CellDoesNotExist:
            return None
