"""Inspect one session: its whole query, every field, its locks, who blocks it and whom it blocks.

It draws each frame its server screen publishes while it is open, so what it shows stays live;
when the session ends the screen says so and keeps the last view, dimmed. The session is
held by its identity (pid, backend_start): a new backend that gets the same pid is never
shown here nor acted on from here.
"""

from __future__ import annotations

from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.message import Message
from textual.message_pump import MessagePump
from textual.screen import Screen
from textual.signal import Signal
from textual.widgets import Footer, Static

from pgtop.model.derive import session_ages
from pgtop.model.format import age, one_line, visible
from pgtop.model.identity import same_session
from pgtop.model.locks import blockers_unknown, waiters_behind
from pgtop.model.pooler_records import PoolerLink
from pgtop.model.records import Session, Snapshot
from pgtop.monitor.feed import Feed
from pgtop.monitor.frame import Frame
from pgtop.ui.acting import SignalSessions, act_bindings, read_only_rule, say_read_only
from pgtop.ui.widgets.related_sessions import RelatedSessions

FORMAT_LIMIT = 20_000  # reformatting a huge query would stall the UI; show it as sent


def _without_whitespace(text: str) -> str:
    return "".join(text.split())


def readable_query(query: str) -> str:
    """The query reindented for reading; control characters made visible per line.

    Only whitespace changes: no keyword case (sqlparse's keyword list holds `day`, `user`,
    `name`, which are identifiers as often), and any other change shows the query as sent.
    """
    text = query
    if len(query) <= FORMAT_LIMIT:
        try:
            import sqlparse

            text = sqlparse.format(query, reindent=True)
        except Exception:  # a parser hiccup must not hide the query
            text = query
        if _without_whitespace(text) != _without_whitespace(query):
            text = query
    lines = text.expandtabs(4).splitlines() or [""]
    return "\n".join(visible(line) for line in lines)


def pooler_text(link: PoolerLink, snap: Snapshot) -> str:
    """Where a backend that PgBouncer opened really comes from, in one line."""
    pool = f"{link.pool_database}/{link.pool_user}"
    mode = next(
        (
            p.pool_mode
            for p in (snap.pooler.pools if snap.pooler else ())
            if p.database == link.pool_database and p.user == link.pool_user
        ),
        "",
    )
    text = f"via PgBouncer pool {pool}" + (f" ({mode} mode)" if mode else "")
    c = link.client
    if c is None:
        return f"{text}; no client holds it now (server {link.server_state})"
    if c.application_name is None:
        version = snap.pooler.version if snap.pooler else "?"
        app = f"app n/a: PgBouncer {version} lacks application_name in SHOW CLIENTS"
    else:
        app = f"app {c.application_name or '(none)'}"
    # In transaction or statement pooling the link lasts one transaction at most.
    when = "linked now" if mode in ("", "session") else "linked at this poll"
    return f"{text}; client {c.address} {app} ({when})"


def was_truncated(query: str, track_size: int) -> bool:
    # The server keeps at most track_activity_query_size - 1 bytes of the text.
    return len(query.encode()) >= track_size - 1


class InspectScreen(Screen[None]):
    BINDINGS = [
        Binding("escape,q", "dismiss", "Back", id="back"),
        Binding("y", "copy_query", "Copy query", id="copy"),
    ]
    ACT_KEYS = [
        Binding("c", "cancel_inspected", "Cancel", id="inspect-cancel"),
        Binding("k", "terminate_inspected", "Terminate", id="inspect-terminate"),
    ]

    DEFAULT_CSS = """
    InspectScreen #inspect-scroll { height: 1fr; padding: 0 1; }
    InspectScreen .section { margin-top: 1; }
    InspectScreen #inspect-title { background: $panel; text-style: bold; padding: 0 1; }
    InspectScreen.-ended #inspect-scroll Static { text-opacity: 55%; }
    """

    class OpenSession(Message):
        """Inspect this session (a blocker or waiter chosen here) on a screen of its own."""

        def __init__(self, pid: int) -> None:
            super().__init__()
            self.pid = pid

    def __init__(
        self,
        pid: int,
        snapshot: Snapshot,
        frames: Signal[Frame],
        feed: Feed,
        server: MessagePump,
        *,
        read_only: bool,
        session: Session | None = None,
    ) -> None:
        """`session` is the one chosen; by default the backend holding `pid` in `snapshot`.
        `frames` and `feed` are the server's; `server` (its screen) takes what this
        screen asks for: a signal, another session to inspect."""
        super().__init__()
        self._frames = frames
        self._feed = feed
        self._server = server
        act_bindings(self, self.ACT_KEYS, has_server=feed.has_server)
        self.pid = pid
        self.read_only = read_only
        self.session: Session | None = session or next(
            (s for s in snapshot.sessions if s.pid == pid), None
        )
        self.snapshot = snapshot
        self.ended = False

    def compose(self) -> ComposeResult:
        yield Static(id="inspect-title")
        with VerticalScroll(id="inspect-scroll"):
            yield Static(id="inspect-query")
            yield Static(id="inspect-fields", classes="section")
            yield Static(id="inspect-blocking", classes="section")
            yield RelatedSessions(id="inspect-related")
            yield Static(id="inspect-locks", classes="section")
        yield Footer()

    def on_mount(self) -> None:
        self._frames.subscribe(self, self._take_frame, immediate=True)
        if self.session is None:
            self.query_one("#inspect-title", Static).update(
                Text(f"session {self.pid} is not on the server", "bold red")
            )
            return
        self._draw(self.session, self.snapshot)

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        return read_only_rule(action, self.read_only)

    def _take_frame(self, frame: Frame) -> None:
        if frame.snapshot is not None and frame.snapshot is not self.snapshot:
            self.update_snapshot(frame.snapshot)

    def _inspected(self, kind: str) -> list[Session] | None:
        """The inspected session, or None (said why) when it ended: never the newcomer
        that may hold its pid now."""
        if self.session is None:
            return []
        if self.ended:
            self.notify(f"session ended: pid {self.pid}, nothing to {kind}", severity="warning")
            return None
        return [self.session]

    def action_cancel_inspected(self) -> None:
        targets = self._inspected("cancel")
        if targets is not None:
            self._server.post_message(SignalSessions("cancel", targets))

    def action_terminate_inspected(self) -> None:
        targets = self._inspected("terminate")
        if targets is not None:
            self._server.post_message(SignalSessions("terminate", targets))

    def action_read_only_notice(self) -> None:
        say_read_only(self)

    def update_snapshot(self, snapshot: Snapshot) -> None:
        if self.session is None or self.ended:
            return  # an ended session stays as last seen; a newcomer's data never shows
        found = next((s for s in snapshot.sessions if s.pid == self.pid), None)
        if found is None or not same_session(found, self.session):
            self.ended = True
            self.add_class("-ended")
            self._draw(self.session, self.snapshot)  # the last data, labelled
            return
        self.session = found
        self.snapshot = snapshot
        self._draw(found, snapshot)

    def _draw(self, s: Session, snap: Snapshot) -> None:
        title = Text(f"pid {s.pid}  ", "bold", no_wrap=True, overflow="ellipsis")
        if self.ended:  # first: the rest of the line may be cut at 80 columns
            seen = snap.server.snapshot_time.astimezone()
            title.append(f"session ended (last seen {seen:%H:%M:%S})  ", "bold red")
        title.append(one_line(f"{s.user or '?'}@{s.database or '?'}"))
        if s.application:
            title.append("  " + one_line(s.application, 40), "cyan")
        self.query_one("#inspect-title", Static).update(title)
        self.query_one("#inspect-query", Static).update(self._query_view(s, snap))
        self.query_one("#inspect-fields", Static).update(self._fields(s, snap))
        self.query_one("#inspect-blocking", Static).update(self._blocking(s, snap))
        self.query_one(RelatedSessions).show(s, snap)
        self.query_one("#inspect-locks", Static).update(self._locks(snap))

    def _query_view(self, s: Session, snap: Snapshot) -> RenderableType:
        parts: list[RenderableType] = []
        if was_truncated(s.query, snap.server.track_activity_query_size):
            parts.append(
                Text(
                    f"query text cut by track_activity_query_size "
                    f"({snap.server.track_activity_query_size} bytes)",
                    "bold yellow",
                )
            )
        if not s.query:
            parts.append(Text("(no query)", "dim"))
        else:
            from rich.syntax import Syntax  # pygments costs ~10 MB: load it on first inspect

            parts.append(Syntax(readable_query(s.query), "sql", word_wrap=True, theme="ansi_dark"))
        return Group(*parts)

    def _fields(self, s: Session, snap: Snapshot) -> Table:
        ages = session_ages(s, snap.server.snapshot_time)
        t = Table.grid(padding=(0, 2))
        t.add_column(style="bold")
        t.add_column()

        def when(label: str, value: object, seconds: float | None) -> None:
            shown = "" if value is None else str(value)
            t.add_row(label, Text(f"{shown}  ({age(seconds)} ago)" if shown else ""))

        rows: list[tuple[str, str]] = [
            ("pid", str(s.pid)),
            ("state", s.state or "?"),
            ("backend type", s.backend_type),
            ("database", s.database or ""),
            ("user", s.user or ""),
            ("application", s.application),
            ("client", s.client),
            *([("pooler", pooler_text(s.pooler, snap))] if s.pooler else []),
            ("wait event", f"{s.wait_event_type or ''} {s.wait_event or ''}".strip()),
            ("query id", "" if s.query_id is None else str(s.query_id)),
            ("backend xid", s.backend_xid or ""),
        ]
        for label, value in rows:
            t.add_row(label, Text(one_line(value)))
        when("backend start", s.backend_start, ages.backend)
        when("xact start", s.xact_start, ages.xact)
        when("query start", s.query_start, ages.query)
        when("state change", s.state_change, ages.state)
        return t

    def _blocking(self, s: Session, snap: Snapshot) -> Text:
        waiters = [o.pid for o in snap.sessions if s.pid in o.blocked_by]
        t = Text()
        t.append("blocked by: ", "bold")
        if blockers_unknown(s):
            t.append("unknown: the server hides this session's wait from this role", "yellow")
        else:
            blockers = ", ".join(map(str, s.blocked_by))
            t.append(blockers or "nobody", "bold red" if blockers else "")
        t.append("\nblocks:     ", "bold")
        t.append(", ".join(map(str, waiters)) or "nobody", "bold red" if waiters else "")
        behind = waiters_behind(snap.sessions).get(s.pid, 0)
        if behind > len(waiters):
            t.append(f" ({behind} sessions wait behind it in all)", "bold red")
        if s.blocked_by or waiters:
            t.append("\ntab, then enter or a click: inspect one of them", "dim")
        return t

    def on_related_sessions_chosen(self, message: RelatedSessions.Chosen) -> None:
        self._server.post_message(self.OpenSession(message.pid))

    def _locks(self, snap: Snapshot) -> RenderableType:
        if snap.inspected_pid != self.pid:
            return Text(f"locks: {self._locks_unread()}", "dim")
        if not snap.inspected_locks:
            return Text("locks: none", "dim")
        t = Table(title="locks", title_justify="left", expand=False, show_edge=False)
        for col in ("granted", "type", "mode", "relation", "detail"):
            t.add_column(col)
        for lock in snap.inspected_locks:
            t.add_row(
                Text("yes" if lock.granted else "WAITING", "" if lock.granted else "bold red"),
                Text(lock.locktype),
                Text(lock.mode),
                Text(one_line(lock.relation or "")),
                Text(one_line(lock.detail)),
            )
        return t

    def _locks_unread(self) -> str:
        """Why the snapshot holds no locks of this session: they come with the next poll,
        which a pause holds back and a recording never had."""
        if not self._feed.has_server:
            return "not recorded"
        if self._feed.paused:
            return "not read while paused (p resumes)"
        return "loading…"

    def action_copy_query(self) -> None:
        if self.session is None:
            return
        # Textual sends OSC 52, which terminals (and tmux) pass over SSH.
        self.app.copy_to_clipboard(self.session.query)
        self.notify(f"copied {len(self.session.query)} characters (OSC 52)")
