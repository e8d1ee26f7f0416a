"""The header: server facts, connection use against the limit, states, rates, trends.

It is a fixed-height widget whose `render` reads the app's state: refreshing it repaints
four lines without a layout pass. Text from the server goes in as `Text`, never markup.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from rich.console import Group
from rich.text import Text
from textual.widget import Widget

from pgtop.model.derive import Rates, count_states, uptime
from pgtop.model.format import age, one_line, percent
from pgtop.model.history import History
from pgtop.model.host import HostStats
from pgtop.model.records import Snapshot


@dataclass
class HeaderState:
    snapshot: Snapshot | None = None
    rates: Rates | None = None
    status: str = "connecting"  # live, paused, reconnecting, connecting
    reason: str = ""  # why not live
    last_good: datetime | None = None
    refresh: float = 2.0
    filter_text: str = ""
    view_text: str = ""  # sort order and toggles of the sessions pane
    prompt: str | None = None  # the filter being typed, while the prompt is open
    host: HostStats | None = None  # only when pgtop runs on the database host
    prompt_error: str = ""
    notes: list[str] = field(default_factory=list)
    connections: History = field(default_factory=History)
    tps: History = field(default_factory=History)


def usage_style(pct: float) -> str:
    return "bold red" if pct >= 95 else "bold yellow" if pct >= 80 else "green"


def bar(pct: float, width: int) -> Text:
    filled = min(width, round(pct / 100 * width))
    return Text.assemble(("█" * filled, usage_style(pct)), ("░" * (width - filled), "dim"))


STATUS_STYLES = {
    "live": "bold green",
    "paused": "bold yellow",
    "reconnecting": "bold red",
    "connecting": "bold yellow",
    "stale": "bold red",
}


class StatusHeader(Widget):
    DEFAULT_CSS = """
    StatusHeader { height: 4; padding: 0 1; background: $panel; }
    """

    def __init__(self, state: HeaderState, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.state = state

    def render(self) -> Group:
        lines = [self._line_server(), self._line_connections(), self._line_rates()]
        lines.append(self._line_notes())
        for line in lines:
            line.no_wrap = True
            line.overflow = "ellipsis"
        return Group(*lines)

    def _line_server(self) -> Text:
        st = self.state
        snap = st.snapshot
        t = Text()
        if snap is None:
            t.append("PostgreSQL ", "bold")
        else:
            srv = snap.server
            t.append(f"PostgreSQL {srv.version}", "bold")
            t.append(f" {one_line(srv.host)}")
            if srv.in_recovery:
                t.append(" standby", "bold cyan")
            t.append(f" up {age(uptime(srv))}")
        t.append("  ")
        t.append(f"● {st.status}", STATUS_STYLES.get(st.status, "bold"))
        if st.reason:
            t.append(f" ({one_line(st.reason)})", "red")
        if st.last_good is not None and st.status == "reconnecting":
            t.append(f"  stale: data from {st.last_good.astimezone():%H:%M:%S}", "bold red")
        t.append(f"  every {st.refresh:g}s")
        if st.last_good is not None and st.status != "reconnecting":
            t.append(f"  at {st.last_good.astimezone():%H:%M:%S}", "dim")
        return t

    def _line_connections(self) -> Text:
        snap = self.state.snapshot
        t = Text()
        if snap is None:
            return t
        lim = snap.limits
        avail = lim.available_to_ordinary_roles
        pct = percent(lim.client_connections, avail)
        t.append("conns ")
        t.append_text(bar(pct, 10))
        t.append(f" {lim.client_connections}/{avail} ")
        t.append(f"{pct:.0f}%", usage_style(pct))
        c = count_states(snap.sessions)
        t.append("  ")
        t.append(f"{c.active} act", "green")
        t.append(f" {c.idle} idle")
        t.append(f" {c.idle_in_transaction} idle-tx", "yellow" if c.idle_in_transaction else "")
        if c.idle_in_transaction_aborted:
            t.append(f" {c.idle_in_transaction_aborted} abort-tx", "red")
        t.append(f" {c.waiting_on_lock} lock", "bold red" if c.waiting_on_lock else "")
        if c.other and not snap.server.can_see_all:
            # States of other users' sessions are hidden: say so rather than undercount.
            t.append(f" {c.other} hidden", "bold yellow")
        oldest = min(
            (s.xact_start for s in snap.sessions if s.xact_start is not None and s.is_client),
            default=None,
        )
        if oldest is not None:
            t.append(f"  oldest xact {age((snap.server.snapshot_time - oldest).total_seconds())}")
        return t

    def _line_rates(self) -> Text:
        st = self.state
        t = Text()
        if st.snapshot is None:
            return t
        tps = st.rates.transactions if st.rates else None
        t.append("tps ")
        t.append("n/a" if tps is None else f"{tps:.0f}", "bold")
        t.append(" " + st.tps.sparkline(16), "cyan")
        t.append("  conns ")
        top = float(st.snapshot.limits.available_to_ordinary_roles)
        t.append(st.connections.sparkline(16, top), "cyan")
        pooler = st.snapshot.pooler
        if pooler is not None:
            waiting = sum(p.cl_waiting for p in pooler.pools)
            active = sum(p.cl_active for p in pooler.pools)
            longest = max((p.maxwait for p in pooler.pools), default=0.0)
            t.append("  pooler ")
            t.append(f"{active} act")
            t.append(f" {waiting} wait", "bold red" if waiting else "")
            if waiting:
                t.append(f" max {age(longest)}", "red")
        elif st.snapshot.pooler_error:
            t.append("  pooler: unreachable", "red")
        return t

    def _line_notes(self) -> Text:
        st = self.state
        t = Text()
        snap = st.snapshot
        if snap is not None and not snap.server.can_see_all:
            user = one_line(snap.server.current_user)
            t.append(
                f"limited view: GRANT pg_monitor TO {user} to see all sessions ",
                "bold black on yellow",
            )
            t.append(" ")
        if st.prompt is not None:
            t.append("/ ", "bold reverse")
            t.append(one_line(st.prompt), "bold")
            t.append("▏", "blink bold")
            if st.prompt_error:
                t.append("  " + one_line(st.prompt_error), "bold red")
            else:
                t.append("  enter: done · esc: clear · db: user: app: state: dur>30s", "dim")
            return t
        if st.host is not None:
            h = st.host
            t.append(f"host load {h.load[0]:.2f}")
            t.append(f" mem {h.mem_used_percent:.0f}%", usage_style(h.mem_used_percent))
            t.append(f" disk {h.disk_used_percent:.0f}%", usage_style(h.disk_used_percent))
            t.append("  ")
        if st.filter_text:
            t.append("filter: ", "bold")
            t.append(one_line(st.filter_text), "cyan")
            t.append("  ")
        if st.view_text:
            t.append(st.view_text, "dim")
            t.append("  ")
        for note in st.notes:
            t.append(one_line(note), "dim")
            t.append("  ")
        return t
