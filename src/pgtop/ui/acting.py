"""Every act on a server goes through here: confirm → guarded signal → audit → notify.

Panes and screens only say what they want done; an `Acting` (one per server screen, its
only writer) runs it. An `Act` is the generic description: what it is, the question the
dialog asks with the targets it lists, how to run it, and how to audit its results (issue
19). `Acting.signal_sessions` builds the Act for cancelling or terminating sessions, over
the action connection it owns (`runner`, made on first use); `Acting.pooler_command` the
Act for a PgBouncer admin command (PAUSE, KILL...), each on a short-lived admin connection
of its own to every PgBouncer process of the server (collect/pooler_commands.py).
The read-only rule for the act keys is `read_only_rule`; act keys exist at all only for a
feed with a server (`act_bindings`).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from rich.text import Text
from textual.binding import Binding
from textual.dom import DOMNode
from textual.message import Message
from textual.screen import Screen

from pgtop.model.format import one_line
from pgtop.model.locks import waiters_behind
from pgtop.model.pooler_state import database_reach
from pgtop.model.records import Session, Snapshot
from pgtop.ui.key_order import add_bindings

if TYPE_CHECKING:
    from pgtop.collect.actions import ActionResult, ActionRunner, Kind
    from pgtop.collect.pooler_commands import Command, CommandResult
    from pgtop.model.pooler_records import PoolerClient, PoolerSnapshot
    from pgtop.monitor.feed import Feed
    from pgtop.target import Target

# PgBouncer admin commands on the selected database: (key, description, binding id,
# command). Upper case, like K in the Databases pane: each acts on a whole database.
POOLER_KEYS: tuple[tuple[str, str, str, Command], ...] = (
    ("P", "Pause db (pooler)", "pooler-pause", "PAUSE"),
    ("R", "Resume db (pooler)", "pooler-resume", "RESUME"),
    ("D", "Disable db (pooler)", "pooler-disable", "DISABLE"),
    ("E", "Enable db (pooler)", "pooler-enable", "ENABLE"),
    ("C", "Reconnect db (pooler)", "pooler-reconnect", "RECONNECT"),
    ("K", "Kill db's clients (pooler)", "pooler-kill", "KILL"),
)
# Every one of them is the action `pooler(COMMAND)` of the node that owns the keys.
POOLER_ACTION = "pooler"
KILL_CLIENT_KEY = ("k", "pooler_kill_client", "Kill client (pooler)", "pooler-kill-client")
# The keys that act, and the stand-in each has on a read-only target.
ACTS = {
    "cancel",
    "terminate",
    "terminate_database",
    "cancel_inspected",
    "terminate_inspected",
    POOLER_ACTION,
    KILL_CLIENT_KEY[1],
}
READ_ONLY_NOTICE = "read_only_notice"


def read_only_rule(action: str, read_only: bool) -> bool:
    """Both sets are bound; exactly one stays alive, so a read-only target has no path
    to a signal, and its keys say "read-only" instead of doing nothing."""
    if action in ACTS:
        return not read_only
    if action == READ_ONLY_NOTICE:
        return read_only
    return True


def act_bindings(node: DOMNode, bindings: Sequence[Binding], *, has_server: bool) -> None:
    """Give `node` its act keys, with their read-only stand-in, when its feed has a
    server to act on (a recording has none: its screen has no act keys at all)."""
    if not has_server:
        return
    keys = ",".join(dict.fromkeys(k for b in bindings for k in b.key.split(",")))
    notice = Binding(keys, READ_ONLY_NOTICE, "read-only", show=False, id="read-only")
    add_bindings(node, [*bindings, notice])


def say_read_only(node: DOMNode) -> None:
    node.notify("read-only: cancel, terminate and pooler commands are disabled", severity="warning")


def pooler_bindings(*, kill_client: bool = False) -> list[Binding]:
    """The pooler command keys (for act_bindings), with KILL_CLIENT where a client can be
    selected (the pool detail screen)."""
    keys = [
        Binding(k, f"{POOLER_ACTION}('{command}')", d, show=False, id=i)
        for k, d, i, command in POOLER_KEYS
    ]
    if kill_client:
        key, action, description, key_id = KILL_CLIENT_KEY
        keys.append(Binding(key, action, description, show=False, id=key_id))
    return keys


def console_command(word: str) -> Command:
    """The console command a `pooler(WORD)` key names (only POOLER_KEYS' own words)."""
    return next(c for *_, c in POOLER_KEYS if c == word)


class SignalSessions(Message):
    """Cancel or terminate these sessions (the records on screen: each carries its
    backend_start to the guarded signal). The server screen hands it to its Acting."""

    def __init__(
        self,
        kind: Kind,
        targets: list[Session],
        *,
        marked: bool = False,
        database: str | None = None,
        done: Callable[[list[Session]], None] | None = None,
    ) -> None:
        super().__init__()
        self.kind = kind
        self.targets = targets
        self.marked = marked
        self.database = database
        self.done = done  # after the signal went out, whatever the outcome (unmark)


class PoolerCommand(Message):
    """Send a PgBouncer admin command for `database` (KILL_CLIENT: for `client`) to every
    PgBouncer process of the server. The server screen hands it to its Acting."""

    def __init__(self, command: Command, database: str, client: PoolerClient | None = None) -> None:
        super().__init__()
        self.command = command
        self.database = database
        self.client = client


R = TypeVar("R")


@dataclass(frozen=True)
class Act(Generic[R]):
    """One act asked for, before it is confirmed; R is what running it gives per target
    (ActionResult per session, CommandResult per PgBouncer process)."""

    what: str  # "cancel", "PAUSE": said when it fails
    title: str  # the confirmation's question
    body: Text  # what it acts on
    run: Callable[[], Awaitable[list[R]]]  # sends it; a result per target
    audit: Callable[[list[R]], str | None]  # logs it; an error to show
    summarize: Callable[[list[R]], tuple[str, str]]  # one line and its severity
    after: Callable[[], None] = field(default=lambda: None)


def summarize_results(results: list[ActionResult]) -> tuple[str, str]:
    """A one-line summary and the notification severity."""
    if len(results) == 1:
        r = results[0]
        return r.line, "information" if r.outcome == "done" else "warning"
    counts = Counter(r.outcome for r in results)
    text = ", ".join(f"{n} {outcome}" for outcome, n in counts.items())
    refused = next((r for r in results if r.outcome == "refused"), None)
    unsent = next((r for r in results if r.outcome in ("unknown", "not sent")), None)
    if refused is not None:
        text += f" — e.g. {refused.detail}"
    elif unsent is not None:
        text += f" — {unsent.detail}"
    kind = results[0].kind if results else "signal"
    return f"{kind}: {text}", "information" if counts["done"] == len(results) else "warning"


class Acting:
    """Runs the acts of one server screen (`screen`), against its target and feed."""

    def __init__(
        self,
        screen: Screen[object],
        target: Target,
        feed: Feed,
        password: str | None,
        snapshot: Callable[[], Snapshot | None],
    ) -> None:
        self.screen = screen
        self.target = target
        self.feed = feed
        self.password = password
        self.snapshot = snapshot
        self.runner: ActionRunner | None = None  # the action connection, made on first use
        self.pooler_busy = False  # a pooler command waits for its answer (this its writer)

    async def close(self) -> None:
        if self.runner is not None:
            await self.runner.close()
            self.runner = None

    def perform(self, act: Act[Any]) -> None:
        """Ask, then run it in a worker: the UI never waits on the network. Every
        question names the server and its environment (a fleet has several)."""
        from pgtop.ui.confirm_text import server_line
        from pgtop.ui.screens.confirm import ConfirmScreen

        def answered(yes: bool | None) -> None:
            if yes:
                self.screen.run_worker(self._run(act), group="actions")

        t = self.target
        body = server_line(t.profile_name, t.env, t.colour) + act.body
        self.screen.app.push_screen(ConfirmScreen(self.on_server(act.title), body),
                                    callback=answered)  # fmt: skip

    async def _run(self, act: Act[Any]) -> None:
        try:
            results = await act.run()
        except Exception as exc:  # reported, never raised into the UI
            self.screen.notify(f"{act.what} failed: {exc}", severity="error")
            return
        summary, severity = act.summarize(results)
        self.screen.notify(summary, severity=severity, timeout=6)  # type: ignore[arg-type]
        error = act.audit(results)
        if error:
            self.screen.notify(error, severity="error")
        act.after()
        self.feed.poll_now()

    # -- cancel and terminate sessions ---------------------------------------------------

    def signal_sessions(self, request: SignalSessions) -> None:
        kind, targets, database = request.kind, request.targets, request.database
        if self.target.read_only:
            say_read_only(self.screen)
            return
        if self.runner is not None and self.runner.busy:
            # Queued behind a signal the server has not answered, it would go out whenever
            # that one ends, long after the user stopped expecting it.
            self.screen.notify(
                f"the last signal still waits for the server's answer "
                f"(at most {self.runner.answer_timeout:g} s): nothing else is sent meanwhile",
                severity="warning",
            )
            return
        postgres = self.feed.postgres
        assert postgres is not None  # act keys exist only for a feed with a server
        own = set(postgres.own_pids)
        targets = [s for s in targets if s.pid not in own]
        if not targets:
            self.screen.notify(f"nothing to {kind}", severity="warning")
            return
        done = request.done

        def after() -> None:
            if done is not None:
                done(targets)

        self.perform(
            Act(
                what=kind,
                title=self._title(kind, targets, request.marked, database),
                body=self._body(targets, database),
                run=lambda: self._signal(kind, targets),
                audit=lambda results: self._audit(targets, results),
                summarize=summarize_results,
                after=after,
            )
        )

    def on_server(self, question: str) -> str:
        """The question naming the server and its environment, when the target has a
        name (a profile, a fleet member): "Terminate this session on db1 (prod)?"."""
        from pgtop.ui.confirm_text import server_words

        where = server_words(self.target.profile_name, self.target.env)
        return f"{question.removesuffix('?')} on {where}?" if where else question

    @staticmethod
    def _title(kind: Kind, targets: list[Session], marked: bool, database: str | None) -> str:
        if database is not None:
            if len(targets) == 1:  # "all 1 client sessions" reads wrong
                return f"Terminate the only client session of database {one_line(database)}?"
            return f"Terminate all {len(targets)} client sessions of database {one_line(database)}?"
        if len(targets) == 1:
            return f"{kind.capitalize()} this {'marked ' if marked else ''}session?"
        return f"{kind.capitalize()} {len(targets)} marked sessions?"

    def _body(self, targets: list[Session], database: str | None) -> Text:
        from pgtop.ui.confirm_text import describe_many, describe_one

        snap = self.snapshot()
        blocks = waiters_behind(snap.sessions) if snap is not None else {}
        if len(targets) == 1 and database is None:
            body = describe_one(targets[0], blocks.get(targets[0].pid, 0))
        else:
            width, height = self.screen.app.size
            # The dialog takes at most 90 % of the screen; its frame, title, buttons, the
            # summary and the guard line need 16 lines, the rest lists the targets.
            body = describe_many(
                targets,
                blocks,
                limit=max(3, min(12, int(height * 0.9) - 16)),
                width=int(width * 0.9) - 6,
            )
        body.append("\nGuarded by backend_start: a session that ended is not touched.", "dim")
        return body

    async def _signal(self, kind: Kind, targets: list[Session]) -> list[ActionResult]:
        from pgtop.collect.actions import ActionRunner

        postgres = self.feed.postgres
        assert postgres is not None
        if self.runner is None:
            self.runner = ActionRunner(
                self.target.postgres,
                password=self.password,
                connect_timeout=self.target.connect_timeout,
            )
        pid = await self.runner.connect()
        postgres.exclude_pid(pid)  # its own backend is never signalled
        return await self.runner.signal(kind, targets, set(postgres.own_pids))

    def _audit(self, targets: list[Session], results: list[ActionResult]) -> str | None:
        from pgtop.audit import record_actions

        postgres = self.feed.postgres
        assert postgres is not None
        return record_actions(postgres.address, targets, results)

    # -- PgBouncer admin commands --------------------------------------------------------

    def pooler_command(self, request: PoolerCommand) -> None:
        from pgtop.collect.pooler_commands import BadConsoleName, command_text

        command, database, client = request.command, request.database, request.client
        if self.target.read_only:
            say_read_only(self.screen)
            return
        if self.pooler_busy:
            self.screen.notify(
                "the last pooler command still waits for PgBouncer's answer: "
                "nothing else is sent meanwhile",
                severity="warning",
            )
            return
        snap = self.snapshot()
        pooler = snap.pooler if snap is not None else None
        consoles = list(self.target.pooler_consoles)
        if pooler is None or not consoles:
            self.screen.notify("no PgBouncer answers: nothing to send it to", severity="warning")
            return
        target: str | int = database
        if command == "KILL_CLIENT":
            picked = self._client_console(client, consoles, pooler.version)
            if isinstance(picked, str):
                self.screen.notify(picked, severity="warning")
                return
            assert client is not None and client.id is not None
            consoles, target = picked, client.id
        try:
            command_text(command, target)
        except BadConsoleName as exc:  # refused here rather than sent as something else
            self.screen.notify(f"{command} not sent: {exc}", severity="warning")
            return
        where = pooler.address if len(consoles) > 1 else consoles_address(consoles)

        async def run() -> list[CommandResult]:
            from pgtop.collect.pooler_commands import run_everywhere

            self.pooler_busy = True
            try:
                return await run_everywhere(
                    consoles, command, target, connect_timeout=self.target.connect_timeout
                )
            finally:
                self.pooler_busy = False

        def audit(results: list[CommandResult]) -> str | None:
            from pgtop.audit import record_pooler_commands

            return record_pooler_commands(where, database, client, results)

        self.perform(
            Act(
                what=command,
                title=pooler_title(command, database, client),
                body=pooler_body(command, database, client, pooler, where, len(consoles)),
                run=run,
                audit=audit,
                summarize=summarize_commands,
            )
        )

    @staticmethod
    def _client_console(
        client: PoolerClient | None, consoles: list[str], version: str
    ) -> list[str] | str:
        """The console that holds `client` (its id is only unique within one process),
        or why KILL_CLIENT cannot be sent."""
        from pgtop.collect.pooler_commands import KILL_CLIENT_SINCE, kills_one_client

        since = ".".join(map(str, KILL_CLIENT_SINCE))
        if not kills_one_client(version):
            return (
                f"killing one client needs PgBouncer {since} or newer (KILL_CLIENT); this is "
                f"{one_line(version) or 'an unknown version'} — K kills the whole database"
            )
        if client is None:
            return "select a client first"
        if client.id is None:
            return f"this PgBouncer sends no client id (SHOW CLIENTS id, {since}+)"
        if len(consoles) == 1:
            return consoles
        # PoolerGroup tags each row's ptr with its process's index (model/pooler_sum.py).
        index, sep, _ = client.ptr.partition(":")
        if not sep or not index.isdigit() or int(index) >= len(consoles):
            return "cannot tell which PgBouncer process holds this client"
        return [consoles[int(index)]]


def consoles_address(consoles: list[str]) -> str:
    from pgtop.collect.pgbouncer import describe_conninfo

    return ", ".join(describe_conninfo(c) for c in consoles)


# What each command does to the database's connections, for the confirmation.
_EFFECTS: dict[str, str] = {
    "PAUSE": "New queries wait; PgBouncer waits for the {servers} server connection(s) to be "
    "released, then closes them. Its {clients} client(s) stay connected, held until RESUME.",
    "RESUME": "Its {clients} client(s) get server connections again.",
    "DISABLE": "New client connections to it are refused; its {clients} connected client(s) stay.",
    "ENABLE": "New client connections to it are accepted again.",
    "RECONNECT": "Each of its {servers} server connection(s) is closed as soon as it is "
    "released and a new one opened; its {clients} client(s) stay.",
    "KILL": "Drops its {clients} client(s) and {servers} server connection(s) at once, "
    "mid-query. PgBouncer then leaves the database paused: R resumes it.",
}


def pooler_title(command: Command, database: str, client: PoolerClient | None) -> str:
    if command == "KILL_CLIENT" and client is not None:
        return f"Kill client {client.id} of database {one_line(database)} on PgBouncer?"
    verbs = {"RECONNECT": "Reconnect the server connections of", "KILL": "Kill all of"}
    verb = verbs.get(command, command.capitalize())
    return f"{verb} database {one_line(database)} on PgBouncer?"


def pooler_body(
    command: Command,
    database: str,
    client: PoolerClient | None,
    pooler: PoolerSnapshot,
    where: str,
    processes: int,
) -> Text:
    reach = database_reach(pooler, database)
    t = Text()
    for label, value in (
        ("pooler", where + (f" ({processes} processes)" if processes > 1 else "")),
        ("database", database),
        ("clients", f"{reach.clients} ({reach.waiting} waiting)"),
        ("servers", str(reach.servers)),
        ("command", f"{command} {client.id if client is not None else one_line(database)}"),
    ):
        t.append(f"{label:<10}", "bold")
        t.append(one_line(value) + "\n")
    t.append("\n")
    if command == "KILL_CLIENT" and client is not None:
        t.append(
            f"Disconnects this one client ({one_line(client.address)}, "
            f"{one_line(client.application_name or 'no application name')}, {client.state}); "
            "the server connection it holds goes back to the pool.\n"
        )
    else:
        t.append(_EFFECTS[command].format(clients=reach.clients, servers=reach.servers) + "\n")
    t.append("Needs a user in PgBouncer's admin_users; stats_users may only look.", "dim")
    return t


def summarize_commands(results: list[CommandResult]) -> tuple[str, str]:
    from pgtop.collect.pooler_commands import summary

    text, everywhere = summary(results)
    return text, "information" if everywhere else "warning"
