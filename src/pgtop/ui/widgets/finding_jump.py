"""Where Enter on a finding goes: its sessions, filtered, or its pool.

A finding with a sessions filter (the `/` syntax) shows the sessions pane with that
filter and its pids in view; a pool finding without one selects the pool in the Pooler
pane; a lock pile-up shows the lock tree with the cursor on its root blocker. The server
screen calls `jump` (it owns the panes); the sessions pane stays the one writer of its
filter and view (`show_sessions`). findings_pane.jump_text says the same in words.
"""

from __future__ import annotations

from collections.abc import Callable

from pgtop.model.findings import Finding
from pgtop.ui.widgets.pooler_pane import PoolerPane, pool_key
from pgtop.ui.widgets.sessions_pane import SessionsPane


def jump(
    finding: Finding,
    sessions: SessionsPane,
    show_pane: Callable[[str], None],
    pooler: PoolerPane | None,
) -> None:
    if finding.filter is None and finding.pool is not None and pooler is not None:
        show_pane("pooler")
        database, _, user = finding.pool.partition("/")
        table = pooler.table
        key = pool_key(database, user)
        if key in table.rows:
            table.move_cursor(row=table.get_row_index(key), animate=False)
        pooler.notify(f"pool {finding.pool}: enter shows its clients and backends", timeout=4)
        return
    show_pane("sessions")
    tree = finding.kind == "lock_pileup" and finding.filter is None
    missing = sessions.show_sessions(finding.filter or "", finding.pids, tree=tree)
    n = len(finding.pids)
    if not n:
        return
    if missing:
        gone = ", ".join(map(str, missing))
        sessions.notify(f"no longer listed (ended since): pid {gone}", timeout=4)
    elif n > 1 and not tree:
        sessions.notify(f"{n} sessions of the finding: * marks them all, k terminates", timeout=6)
