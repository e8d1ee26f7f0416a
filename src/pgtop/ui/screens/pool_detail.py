"""One PgBouncer pool up close: its clients (who waits, for how long) and its backends.

Opened by Enter on a pool row of the pooler pane, fed every poll by that pane. Enter on a
client that holds a server connection (or on the server connection itself) closes this
screen with the backend's pid; the pooler pane then asks its server screen to select that
session and inspect it.

With a server to act on, the PgBouncer command keys work here too, on this pool's
database, and `k` kills the selected client (KILL_CLIENT, PgBouncer 1.24+): each is a
PoolerCommand handed to `act` (the pooler pane posts it to its server screen's Acting).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Static

from pgtop.model.format import age, one_line, plural
from pgtop.model.pooler_join import (
    PoolMembers,
    client_state,
    missing_notes,
    pool_members,
)
from pgtop.model.pooler_records import PoolerClient, PoolerServer
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
from pgtop.ui.widgets.cells import cursor_key

CLIENT_COLUMNS = ("state", "client", "application", "waited", "connected", "backend")
SERVER_COLUMNS = ("state", "backend", "pgbouncer end", "application", "client", "connected")
STATE_STYLES = {"waiting": "bold white on red", "active": "bold green", "idle": "dim"}
APP_MISSING = Text("n/a", "dim")  # this PgBouncer does not send application_name


def _since(then: datetime | None, now: datetime) -> str:
    return "" if then is None else age(max(0.0, (now - then).total_seconds()))


def _app(name: str | None) -> Text:
    return APP_MISSING if name is None else Text(one_line(name, 32))


def _row_key(ptr: str, ident: int | None) -> str:
    # ptr is unique at one moment but reused after a disconnect; 1.24's id never is, so it
    # keeps the cursor on the same connection across polls.
    return f"id:{ident}" if ident is not None else f"ptr:{ptr}"


def client_cells(c: PoolerClient, members: PoolMembers, now: datetime) -> tuple[Text, ...]:
    state = client_state(c)
    waiting = state == "waiting"
    pid = members.backend_of_client.get(c.ptr)
    return (
        Text(state, STATE_STYLES.get(state, "")),
        Text(one_line(c.address)),
        _app(c.application_name),
        Text(age(c.wait_s) if waiting else "", "bold red" if waiting else "", justify="right"),
        Text(_since(c.connect_time, now), justify="right"),
        Text("" if pid is None else str(pid), justify="right"),
    )


def server_cells(s: PoolerServer, members: PoolMembers, now: datetime) -> tuple[Text, ...]:
    pid = members.pid_of_server.get(s.ptr)
    if pid is not None:
        backend = Text(str(pid), justify="right")
    elif s.remote_pid:
        # Not found on this server at PgBouncer's address: show what PgBouncer says, marked.
        backend = Text(f"{s.remote_pid}?", "dim", justify="right")
    else:
        backend = Text("", justify="right")
    holder = members.client_by_ptr.get(s.link) if s.link else None
    end = f"{s.local_addr}:{s.local_port}" if s.local_addr and s.local_port else ""
    return (
        Text(s.state, "bold green" if s.state == "active" else ""),
        backend,
        Text(one_line(end)),
        _app(s.application_name),
        Text(one_line(holder.address) if holder and holder.link == s.ptr else ""),
        Text(_since(s.connect_time, now), justify="right"),
    )


class PoolDetailScreen(Screen[int | None]):
    """Dismissed with the pid of the backend to inspect, or None."""

    BINDINGS = [
        Binding("escape,q", "dismiss(None)", "Back", id="pool-back"),
        Binding("enter", "open_backend", "Go to backend", id="pool-backend", priority=True),
    ]

    DEFAULT_CSS = """
    PoolDetailScreen #pool-title { background: $panel; text-style: bold; padding: 0 1; }
    PoolDetailScreen #pool-notes { padding: 0 1; color: $warning; }
    PoolDetailScreen .pool-label { padding: 0 1; margin-top: 1; text-style: bold; }
    PoolDetailScreen #pool-clients { height: 2fr; }
    PoolDetailScreen #pool-servers { height: 1fr; }
    """

    def __init__(
        self,
        database: str,
        user: str,
        snapshot: Snapshot,
        *,
        act: Callable[[PoolerCommand], object] | None = None,
        has_server: bool = False,
        read_only: bool = True,
    ) -> None:
        super().__init__()
        self.act = act
        self.read_only = read_only
        act_bindings(self, pooler_bindings(kill_client=True), has_server=has_server and bool(act))
        self.database = database
        self.user = user
        self.snapshot = snapshot
        self.members = PoolMembers((), (), {}, {}, {})
        self._client_ptr: dict[str, str] = {}  # row key -> ptr, for the current rows
        self._server_ptr: dict[str, str] = {}

    def compose(self) -> ComposeResult:
        yield Static(id="pool-title")
        yield Static(id="pool-notes")
        yield Static("clients", id="pool-clients-label", classes="pool-label")
        yield DataTable(id="pool-clients", cursor_type="row")
        yield Static("server connections (backends)", id="pool-servers-label", classes="pool-label")
        yield DataTable(id="pool-servers", cursor_type="row")
        yield Footer()

    def on_mount(self) -> None:
        for table_id, columns in (
            ("#pool-clients", CLIENT_COLUMNS),
            ("#pool-servers", SERVER_COLUMNS),
        ):
            table = self.query_one(table_id, DataTable)
            for name in columns:
                table.add_column(name, key=name)
        self._draw()  # is_mounted is not yet True here, so not through update_snapshot
        self.query_one("#pool-clients", DataTable).focus()

    # -- drawing ------------------------------------------------------------------------

    def update_snapshot(self, snapshot: Snapshot) -> None:
        self.snapshot = snapshot
        if self.is_mounted:  # else on_mount draws it: the tables do not exist yet
            self._draw()

    def _draw(self) -> None:
        snapshot = self.snapshot
        pooler = snapshot.pooler
        self.members = pool_members(snapshot, self.database, self.user)
        m = self.members
        states = [client_state(c) for c in m.clients]
        title = Text(one_line(f"pool {self.database}/{self.user}"), "bold")
        pool = next(
            (
                p
                for p in (pooler.pools if pooler else ())
                if (p.database, p.user) == (self.database, self.user)
            ),
            None,
        )
        if pool is not None:
            title.append(f"  ·  {pool.pool_mode} mode")
        state = database_states(pooler).get(self.database)
        if state:
            title.append("  ")
            title.append(state, "bold black on yellow")
        if pooler is None:
            title.append("  — pooler not answering", "bold red")
        elif snapshot.pooler_error:
            title.append("  — stale: " + one_line(snapshot.pooler_error, 60), "bold red")
        self.query_one("#pool-title", Static).update(title)
        # The counts head their own tables: the title stays one line at 80 columns.
        self.query_one("#pool-clients-label", Static).update(
            f"{plural(len(m.clients), 'client')}: {states.count('active')} active, "
            f"{states.count('waiting')} waiting, {states.count('idle')} idle"
        )
        self.query_one("#pool-servers-label", Static).update(
            f"{plural(len(m.servers), 'server connection')} (backends)"
        )
        notes = self._notes()
        widget = self.query_one("#pool-notes", Static)
        widget.update(notes)
        widget.display = bool(notes.plain)  # an empty note would still take its lines
        now = pooler.polled_at if pooler else snapshot.server.snapshot_time
        self._client_ptr = self._fill(
            self.query_one("#pool-clients", DataTable),
            [(_row_key(c.ptr, c.id), c.ptr, client_cells(c, m, now)) for c in m.clients],
        )
        self._server_ptr = self._fill(
            self.query_one("#pool-servers", DataTable),
            [(_row_key(s.ptr, s.id), s.ptr, server_cells(s, m, now)) for s in m.servers],
        )

    def _notes(self) -> Text:
        pooler = self.snapshot.pooler
        notes = missing_notes(pooler) if pooler else []
        unconfirmed = [
            s
            for s in self.members.servers
            if s.remote_pid and s.ptr not in self.members.pid_of_server
        ]
        if unconfirmed:
            notes.append(
                "pid? = PgBouncer's remote_pid, not a backend of this server at PgBouncer's "
                "address (another pooler or proxy in between, or a different server)"
            )
        if self.snapshot.pooler_error:
            notes.append("pooler poll failed: links are not shown while it is stale")
        return Text("\n".join(notes))

    @staticmethod
    def _fill(
        table: DataTable[Text], rows: list[tuple[str, str, tuple[Text, ...]]]
    ) -> dict[str, str]:
        """Show `rows` (key, ptr, cells); only changed cells are redrawn, the cursor stays."""
        keep = cursor_key(table)
        keys = [k for k, _, _ in rows]
        if [r.key.value for r in table.ordered_rows] == keys:
            for key, _, cells in rows:
                for column, value in zip(table.columns, cells, strict=True):
                    if table.get_cell(key, column) != value:
                        table.update_cell(key, column, value)
        else:
            table.clear()
            for key, _, cells in rows:
                table.add_row(*cells, key=key)
            if keep is not None and keep in keys:
                table.move_cursor(row=keys.index(keep), animate=False)
        return {key: ptr for key, ptr, _ in rows}

    # -- acting -------------------------------------------------------------------------

    def action_open_backend(self) -> None:
        focused = self.focused
        if not isinstance(focused, DataTable):
            return
        key = cursor_key(focused)
        if key is None:
            return
        if focused.id == "pool-servers":
            pid = self.members.pid_of_server.get(self._server_ptr.get(key, ""))
            if pid is None:
                self.notify("no backend of this server matches that connection", timeout=3)
                return
            self.dismiss(pid)
            return
        ptr = self._client_ptr.get(key, "")
        pid = self.members.backend_of_client.get(ptr)
        if pid is not None:
            self.dismiss(pid)
            return
        client = next((c for c in self.members.clients if c.ptr == ptr), None)
        state = client_state(client) if client else "gone"
        reason = {
            "waiting": "this client waits for a server connection: it holds no backend yet",
            "idle": "this client holds no server connection now",
            "gone": "this client disconnected",
        }.get(state, "its server connection matches no backend of this server")
        self.notify(reason, timeout=3)

    # -- PgBouncer commands -------------------------------------------------------------

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        return read_only_rule(action, self.read_only)

    def action_read_only_notice(self) -> None:
        say_read_only(self)

    def _send(self, request: PoolerCommand) -> None:
        if self.act is not None:
            self.act(request)

    def action_pooler(self, word: str) -> None:
        self._send(PoolerCommand(console_command(word), self.database))

    def action_pooler_kill_client(self) -> None:
        """KILL_CLIENT on the client under the cursor; Acting says which version it needs
        when this PgBouncer has none."""
        table = self.query_one("#pool-clients", DataTable)
        key = cursor_key(table)
        ptr = self._client_ptr.get(key, "") if key is not None else ""
        client = next((c for c in self.members.clients if c.ptr == ptr), None)
        if client is None and not self.members.clients:
            self.notify("this pool has no client to kill", severity="warning")
            return
        self._send(PoolerCommand("KILL_CLIENT", self.database, client))
