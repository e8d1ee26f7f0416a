"""The limits pane's content as rich renderables: a verdict summary and two sections.

All numbers come from pgtop.model.capacity; this module only lays them out. Every piece of
server text goes in as a rich `Text`, never as a markup string, so "[bold]" in a name
shows literally.
"""

from __future__ import annotations

from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text

from pgtop.model.capacity import (
    CapacityBudget,
    QueueCheck,
    capacity_budget,
    config_int,
    human_setting,
    limit_rows,
    queue_check,
    usage,
)
from pgtop.model.format import age, one_line
from pgtop.model.pooler_records import POOLER_LIMIT_KEYS, PoolerSnapshot
from pgtop.model.records import Limits, Snapshot
from pgtop.ui.widgets.cells import LEVEL_STYLE, config_value, label, num, pct

NO_POOLER = "no pooler watched — start pgtop with --pooler postgresql://USER@HOST:6432/pgbouncer"
EXHAUST = "the pooler could exhaust PostgreSQL"
# Shown in the connection block above, so not repeated among the settings.
_COUNT_SETTINGS = {"max_connections", "superuser_reserved_connections", "reserved_connections"}
# The pooler's limits on connections, in the collector's order: max_client_conn is drawn
# first with its use; the timeouts after query_wait_timeout limit time, not connections.
POOLER_KEYS = POOLER_LIMIT_KEYS[1 : POOLER_LIMIT_KEYS.index("query_wait_timeout") + 1]


def _heading(*parts: str | Text | tuple[str, str]) -> Text:
    return Text.assemble(*parts, style="bold")


def _grid() -> Table:
    grid = Table.grid(padding=(0, 1))
    grid.add_column(style="dim", no_wrap=True)
    grid.add_column(no_wrap=True, overflow="ellipsis")
    return grid


def _table(*headers: str) -> Table:
    table = Table(box=None, padding=(0, 1), pad_edge=False, header_style="bold")
    for h in headers:
        right = h in {"limit", "now", "%", "pool", "reserve", "max"}
        table.add_column(h, justify="right" if right else "left", no_wrap=True, overflow="ellipsis")
    return table


def postgres_section(snapshot: Snapshot) -> RenderableType:
    lim = snapshot.limits
    grid = _grid()
    grid.add_row("max_connections", str(lim.max_connections))
    grid.add_row("superuser_reserved_connections", str(lim.superuser_reserved_connections))
    reserved = lim.reserved_connections
    grid.add_row(
        "reserved_connections",
        Text("n/a (PostgreSQL < 16)", style="dim") if reserved is None else Text(str(reserved)),
    )
    slots = usage(lim.client_connections, lim.available_to_ordinary_roles)
    grid.add_row("slots for ordinary roles", str(slots.limit))
    grid.add_row(
        "client connections in use",
        Text.assemble(str(slots.used), "  (", pct(slots), ")", style=LEVEL_STYLE[slots.level]),
    )
    parts: list[RenderableType] = [
        _heading("PostgreSQL ", one_line(snapshot.server.host)),
        grid,
        Text(""),
        _own_limits(lim),
        Text(""),
        _settings(lim),
    ]
    return Group(*parts)


def _own_limits(lim: Limits) -> RenderableType:
    rows = limit_rows(lim)
    if not rows:
        return Text("No role or database has its own connection limit.", style="dim")
    table = _table("limit on", "name", "limit", "now", "%")
    for r in rows:
        style = LEVEL_STYLE[r.usage.level]
        table.add_row(
            r.kind,
            label(r.name, style=style),
            num(r.usage.limit, dim_zero=False),
            num(r.usage.used),
            pct(r.usage),
        )
    return table


def _settings(lim: Limits) -> RenderableType:
    table = _table("setting", "value", "source")
    for s in lim.settings:
        if s.name in _COUNT_SETTINGS:
            continue
        source = label(s.source, style="dim")
        if s.pending_restart:
            # Under the source, not in a column of its own: 80 columns have no room for it.
            source = Text.assemble(source, "\n", ("restart required", "bold yellow"))
        table.add_row(label(s.name), label(human_setting(s)), source)
    return table


def pooler_section(snapshot: Snapshot) -> RenderableType:
    pooler = snapshot.pooler
    if pooler is None:
        lines: list[RenderableType] = [_heading("PgBouncer")]
        if snapshot.pooler_error:
            lines.append(Text(one_line(snapshot.pooler_error), style="bold red"))
        else:
            lines.append(Text(NO_POOLER, style="dim"))
        return Group(*lines)
    cfg = pooler.config
    clients = Text.assemble(str(pooler.clients), " clients")
    max_client = config_int(cfg, "max_client_conn")
    if max_client:
        u = usage(pooler.clients, max_client)
        clients = Text.assemble(clients, "  (", pct(u), ")", style=LEVEL_STYLE[u.level])
    grid = _grid()
    grid.add_row(
        "max_client_conn", Text.assemble(config_value(cfg, "max_client_conn"), " vs ", clients)
    )
    for key in POOLER_KEYS:
        grid.add_row(key, config_value(cfg, key))
    budget = capacity_budget(snapshot.limits, pooler)
    return Group(
        _heading("PgBouncer ", one_line(pooler.version), " at ", one_line(pooler.address)),
        *budget_lines(budget),
        Text(""),
        grid,
        Text(""),
        _pooler_databases(pooler),
    )


def budget_lines(b: CapacityBudget) -> list[Text]:
    """How the budget is made up; the verdict itself is in `summary_text`."""
    pools = sum(d.pools for d in b.databases)
    return [
        Text(f"Capacity budget: up to {_possible(b)} server connections ({pools} pools);"),
        Text(
            f"PostgreSQL has {b.pg_available} slots for ordinary roles, {b.others} taken by "
            f"other clients: {b.headroom} left for the pooler."
        ),
    ]


def _possible(b: CapacityBudget) -> str:
    return "unlimited" if b.pooler_possible is None else str(b.pooler_possible)


def verdict_line(b: CapacityBudget) -> Text:
    if b.could_exhaust:
        return Text(
            f"✗ {EXHAUST}: up to {_possible(b)} server connections, {b.headroom} slots left",
            style="bold red",
        )
    return Text(
        f"✓ the pooler fits: up to {_possible(b)} server connections, {b.headroom} slots left",
        style="green",
    )


def summary_text(snapshot: Snapshot) -> Text:
    """The few lines that must be seen without scrolling, even at 80x24."""
    lim = snapshot.limits
    slots = usage(lim.client_connections, lim.available_to_ordinary_roles)
    first = Text.assemble(
        "PostgreSQL ",
        (f"{slots.used}/{slots.limit}", LEVEL_STYLE[slots.level]),
        " ordinary slots (",
        pct(slots),
        ")",
    )
    lines = [first]
    pooler = snapshot.pooler
    if pooler is not None:
        max_client = config_int(pooler.config, "max_client_conn")
        if max_client:
            u = usage(pooler.clients, max_client)
            first.append_text(
                Text.assemble(
                    "  ·  PgBouncer ",
                    (f"{u.used}/{u.limit}", LEVEL_STYLE[u.level]),
                    " clients (",
                    pct(u),
                    ")",
                )
            )
        lines.append(verdict_line(capacity_budget(lim, pooler)))
        lines.append(queue_line(queue_check(pooler)))
    elif snapshot.pooler_error:
        lines.append(
            Text.assemble(
                ("PgBouncer: ", "bold red"), (one_line(snapshot.pooler_error), "bold red")
            )
        )
    return Text("\n").join(lines)


def queue_line(q: QueueCheck) -> Text:
    if not q.waiting or q.longest is None:
        return Text("No client is queued for a server.", style="dim")
    head = f"{q.waiting} client{'s' if q.waiting != 1 else ''} queued, oldest {age(q.longest)}"
    if q.timeout is None:
        return Text(f"{head}; query_wait_timeout n/a.", style="bold dark_orange")
    if q.timeout == 0:
        return Text(f"{head}; query_wait_timeout is off: they wait forever.", style="bold")
    left = q.seconds_left or 0.0
    style = "bold red" if left < 0.25 * q.timeout else "bold dark_orange"
    return Text(
        f"{head}: {left:.0f} s before query_wait_timeout drops the oldest queued client.",
        style=style,
    )


def _pooler_databases(pooler: PoolerSnapshot) -> RenderableType:
    def n(v: int | None) -> Text:
        return Text("n/a", style="dim", justify="right") if v is None else num(v)

    table = _table("database", "pool", "reserve", "max", "now")
    for d in pooler.databases:
        table.add_row(
            label(d.name),
            n(d.pool_size),
            n(d.reserve_pool),
            n(d.max_connections),
            n(d.current_connections),
        )
    return table
