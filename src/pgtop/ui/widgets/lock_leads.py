"""What the sessions table draws before a query: the lock tree's guides and "blocks N".

In the query cell, not a column of their own, so they show at any width (80 columns too).
"""

from __future__ import annotations

from collections.abc import Sequence

from rich.style import Style

from pgtop.model.locks import blocking_tree, keep_with_ancestors, tree_guides
from pgtop.model.records import Session
from pgtop.ui.widgets.session_columns import DIM_STYLE, LOCK_STYLE, LeadPart

Leads = dict[int, tuple[LeadPart, ...]]
UNKNOWN_STYLE = Style(color="yellow", bold=True)


def lock_lead(
    guide: str = "", blocks: int = 0, blocker_unknown: bool = False
) -> tuple[LeadPart, ...]:
    """The parts drawn before a session's query, each with its style."""
    parts: list[LeadPart] = []
    if guide:
        parts.append((guide, DIM_STYLE))
    if blocker_unknown:
        parts.append(("blocker unknown · ", UNKNOWN_STYLE))
    if blocks:
        parts.append((f"blocks {blocks} · ", LOCK_STYLE))
    return tuple(parts)


def blocker_leads(behind: dict[int, int]) -> Leads:
    """ "blocks N" for every blocker (`behind` is model.locks.waiters_behind)."""
    return {pid: lock_lead(blocks=n) for pid, n in behind.items()}


def lock_tree_rows(
    sessions: Sequence[Session], shown: Sequence[Session], behind: dict[int, int]
) -> tuple[list[Session], Leads]:
    """The lock tree's rows among `shown` (what the filter and toggles let through), and
    their leads. A blocker the filter hides is kept above its waiters: it heads them."""
    tree = keep_with_ancestors(blocking_tree(sessions, behind), {s.pid for s in shown})
    guides = tree_guides([row.depth for row in tree])
    leads = {
        row.session.pid: lock_lead(guide, behind.get(row.session.pid, 0), row.blocker_unknown)
        for row, guide in zip(tree, guides, strict=True)
    }
    return [row.session for row in tree], leads
