"""The header's four lines, drawn from a HeaderState: server facts, connection use
against the limit, states, rates, trends, findings and the view. Textual-free: the
header widget (header.py) draws them, and so does the early screen (early_screen.py)
before Textual is imported. Text from the server goes in as `Text`, never markup.
Each line is fitted to the width by dropping its least important items whole
(header_parts.py), so a number is never cut.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from rich.text import Text

from pgtop.model.derive import client_summary, uptime
from pgtop.model.format import age, one_line, percent
from pgtop.model.history import History
from pgtop.model.pooler_state import database_states
from pgtop.model.view import SessionView, sort_label
from pgtop.monitor.frame import Frame
from pgtop.target import Target
from pgtop.ui.widgets.env_label import env_label
from pgtop.ui.widgets.header_parts import Part, fit_parts, pooler_states_part

if TYPE_CHECKING:
    from pgtop.model.findings import Finding
    from pgtop.model.host import HostStats


@dataclass
class HeaderState:
    """What the header draws. `frame` is the server's latest (published by its server
    screen, drawn on arrival); the rest is that screen's view of it. Writers: the sessions
    pane (view_parts, filter_text, prompt, prompt_error), the HostSampler (host), the
    server screen (notes, the trends it hands over from its MonitorState)."""

    frame: Frame = field(default_factory=Frame)
    filter_text: str = ""
    # What the sessions pane shows (count, sort order, toggles), each with its Part.keep.
    view_parts: list[tuple[str, int]] = field(default_factory=list)
    prompt: str | None = None  # the filter being typed, while the prompt is open
    host: HostStats | None = None  # only when pgtop runs on the database host
    prompt_error: str = ""
    notes: list[str] = field(default_factory=list)
    connections: History = field(default_factory=History)
    tps: History = field(default_factory=History)
    profile: str = ""  # the saved profile in use, if any
    env: str = ""  # the profile's environment label, in `env_colour` (a fleet's line too)
    env_colour: str | None = None
    read_only: bool = False
    replaying: bool = False  # the status then carries the frame's time itself

    @classmethod
    def for_target(cls, target: Target, *, filter_text: str = "") -> HeaderState:
        """A fresh header for `target`; a filter that still applies stays shown."""
        return cls(
            frame=Frame(refresh=target.refresh),
            filter_text=filter_text,
            profile=target.profile_name or "",
            env=target.env or "",
            env_colour=target.colour,
            read_only=target.read_only,
        )


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


def view_parts(
    view: SessionView, shown: int, total: int, *, tree: bool = False, marked: int = 0
) -> list[tuple[str, int]]:
    """What the sessions pane shows (`tree`: the lock tree; `marked`: sessions marked),
    for HeaderState.view_parts: each item with how long the header keeps it."""
    parts = [(f"{shown} of {total} shown", 2)]
    parts.append(("lock tree", 1) if tree else (sort_label(view), 3))
    if view.hide_idle:
        parts.append(("idle hidden", 1))
    if view.only_waiting_or_blocking:
        parts.append(("waiting/blocking only", 1))
    if view.show_system:
        parts.append(("+background", 2))
    if marked:
        parts.append((f"{marked} marked", 0))  # about to be acted on: always shown
    return parts


def header_lines(state: HeaderState, width: int) -> list[Text]:
    """The four lines as they read now, fitted to `width` (the content width)."""
    return [
        fit_parts(_line_server(state), width),
        fit_parts(_line_connections(state), width),
        fit_parts(_line_rates(state), width),
        _line_notes(state, width),
    ]


def _line_server(st: HeaderState) -> list[Part]:
    snap = st.frame.snapshot
    parts = []
    if st.profile:
        badge = Text(f" {one_line(st.profile, 24)} ", "bold reverse")
        parts.append(Part(badge, keep=2, group=1))
    if st.env:
        parts.append(Part(env_label(st.env, st.env_colour), group=1))
    if snap is None:
        parts.append(Part(Text("PostgreSQL", "bold"), group=1))
    else:
        srv = snap.server
        parts.append(Part(Text(f"PostgreSQL {srv.version}", "bold"), group=1))
        parts.append(Part(Text(one_line(srv.host)), keep=3, group=1, shrink=12))
        if srv.in_recovery:
            parts.append(Part(Text("standby", "bold cyan"), group=1))
        parts.append(Part(Text(f"up {age(uptime(srv))}"), keep=5, group=1))
    parts.append(
        Part(Text(f"● {st.frame.status}", STATUS_STYLES.get(st.frame.status, "bold")), group=2)
    )
    if st.frame.reason:
        parts.append(Part(Text(f"({one_line(st.frame.reason)})", "red"), group=2, shrink=12))
    if st.frame.last_good is not None and st.frame.status == "reconnecting":
        stale = f"stale: data from {st.frame.last_good.astimezone():%H:%M:%S}"
        parts.append(Part(Text(stale, "bold red"), group=3))
    if st.read_only:
        parts.append(Part(Text("read-only", "bold yellow"), keep=1, group=4))
    parts.append(Part(Text(f"every {every(st.frame.refresh)}"), keep=4, group=5))
    if st.frame.last_good is not None and st.frame.status != "reconnecting" and not st.replaying:
        at = Text(f"at {st.frame.last_good.astimezone():%H:%M:%S}", "dim")
        parts.append(Part(at, keep=6, group=6))
    return parts


def _line_connections(st: HeaderState) -> list[Part]:
    snap = st.frame.snapshot
    if snap is None:
        return []
    lim = snap.limits
    avail = lim.available_to_ordinary_roles
    pct = percent(lim.client_connections, avail)
    use = Text(f"{lim.client_connections}/{avail} ").append(f"{pct:.0f}%", usage_style(pct))
    parts = [Part(Text("conns")), Part(bar(pct, 10), keep=6), Part(use)]
    summary = client_summary(snap.sessions)
    c = summary.counts
    tx = "yellow" if c.idle_in_transaction else ""
    parts += [
        Part(Text(f"{c.active} act", "green"), keep=3, group=1),
        Part(Text(f"{c.idle} idle"), keep=4, group=1),
        Part(Text(f"{c.idle_in_transaction} idle-tx", tx), keep=2, group=1),
    ]
    if c.idle_in_transaction_aborted:
        text = Text(f"{c.idle_in_transaction_aborted} abort-tx", "red")
        parts.append(Part(text, keep=2, group=1))
    lock = "bold red" if c.waiting_on_lock else ""
    parts.append(Part(Text(f"{c.waiting_on_lock} lock", lock), group=1))
    if c.other and not snap.server.can_see_all:
        # States of other users' sessions are hidden: say so rather than undercount.
        parts.append(Part(Text(f"{c.other} hidden", "bold yellow"), keep=1, group=1))
    oldest = summary.oldest_xact_start
    if oldest is not None:
        seconds = (snap.server.snapshot_time - oldest).total_seconds()
        parts.append(Part(Text(f"oldest xact {age(seconds)}"), keep=1, group=2))
    return parts


def _line_rates(st: HeaderState) -> list[Part]:
    if st.frame.snapshot is None:
        return []
    tps = st.frame.rates.transactions if st.frame.rates else None
    parts = [
        Part(Text("tps ").append("n/a" if tps is None else f"{tps:.0f}", "bold")),
        Part(Text(st.tps.sparkline(16), "cyan"), keep=5),
    ]
    top = float(st.frame.snapshot.limits.available_to_ordinary_roles)
    conns = Text("conns ").append(st.connections.sparkline(16, top), "cyan")
    parts.append(Part(conns, keep=6, group=1))
    pooler = st.frame.snapshot.pooler
    if pooler is not None:
        waiting = sum(p.cl_waiting for p in pooler.pools)
        active = sum(p.cl_active for p in pooler.pools)
        longest = max((p.maxwait for p in pooler.pools), default=0.0)
        parts.append(Part(Text("pooler"), group=2))
        parts.append(Part(Text(f"{active} act"), keep=3, group=2))
        parts.append(Part(Text(f"{waiting} wait", "bold red" if waiting else ""), group=2))
        if waiting:
            parts.append(Part(Text(f"max {age(longest)}", "red"), keep=1, group=2))
        held = pooler_states_part(database_states(pooler), group=3)
        if held is not None:
            parts.append(held)
    elif st.frame.snapshot.pooler_error:
        parts.append(Part(Text("pooler: unreachable", "red"), group=2))
    return parts


def _line_notes(st: HeaderState, width: int) -> Text:
    parts = []
    snap = st.frame.snapshot
    if snap is not None and not snap.server.can_see_all:
        user = one_line(snap.server.current_user)
        limited = f"limited view: GRANT pg_monitor TO {user} to see all sessions "
        parts.append(Part(Text(limited, "bold black on yellow"), shrink=24))
    if st.prompt is not None:
        t = fit_parts(parts, width)
        if parts:
            t.append(" ")
        t.append("/ ", "bold reverse")
        t.append(one_line(st.prompt), "bold")
        t.append("▏", "blink bold")
        if st.prompt_error:
            t.append("  " + one_line(st.prompt_error), "bold red")
        else:
            t.append("  enter: done · esc: clear · db: user: app: state: dur>30s", "dim")
        return t
    parts += finding_parts(st.frame.findings)
    if st.host is not None:
        h = st.host
        mem, disk = h.mem_used_percent, h.disk_used_percent
        parts += [
            Part(Text(f"host load {h.load[0]:.2f}"), keep=4, group=1),
            Part(Text(f"mem {mem:.0f}%", usage_style(mem)), keep=4, group=1),
            Part(Text(f"disk {disk:.0f}%", usage_style(disk)), keep=4, group=1),
        ]
    if st.filter_text:
        text = Text("filter: ", "bold").append(one_line(st.filter_text), "cyan")
        parts.append(Part(text, group=2, shrink=16))
    for text, keep in st.view_parts:
        parts.append(Part(Text(text, "dim"), keep=keep, group=3, joiner=" · "))
    for i, note in enumerate(st.notes):
        parts.append(Part(Text(one_line(note), "dim"), keep=1, group=4 + i, shrink=12))
    return fit_parts(parts, width)


FINDING_STYLES = {"critical": "bold red", "warning": "bold yellow"}


def finding_parts(findings: tuple[Finding, ...]) -> list[Part]:
    """The worst finding's headline, coloured by its severity, first on the notes line and
    kept to the last (only cut, never dropped); how many more, while there is room."""
    if not findings:  # the first frame has none yet: the findings are not imported then
        return []
    from pgtop.model.findings import worst

    top = worst(findings)
    if top is None:
        return []
    style = FINDING_STYLES.get(top.severity, "bold")
    parts = [Part(Text(f"▲ {one_line(top.headline, 60)}", style), group=-1, shrink=20)]
    more = sum(1 for f in findings[1:] if f.severity != "info")
    if more:
        # The tab's badge counts them too: this goes before the view's own items.
        parts.append(Part(Text(f"+{more} more (5)", "dim"), keep=5, group=-1))
    return parts


def every(seconds: float) -> str:
    """The refresh interval as people say it: 1s, 2.5s (a replay's median is 1.00216)."""
    return f"{round(seconds, 1):g}s"
