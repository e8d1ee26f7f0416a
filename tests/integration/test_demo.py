"""The `--demo` environment without the TUI: real servers, real workload, one Monitor.

It must give every pane something to show (three databases and roles, active and
idle-in-transaction sessions, a lock chain, queued pooler clients, limits near full) and
leave nothing behind: no server process, no temp dir.
"""

from __future__ import annotations

import asyncio
import os
import time
from collections import Counter
from dataclasses import dataclass, field

import pytest

from pgtop.collect.monitor import Monitor
from pgtop.demo import DemoEnvironment
from pgtop.demo.procs import find_pgbouncer, find_postgres_bindir
from pgtop.demo.schema import DATABASES, ROLES
from pgtop.model.records import Snapshot

IN_CI = os.environ.get("CI") == "true"
WATCH_FOR = 12.0  # seconds of polling before giving up on a sight


def _need(what: str, found: object) -> None:
    if found is None:
        if IN_CI:
            pytest.fail(f"{what} not found: the demo test needs it in CI")
        pytest.skip(f"{what} not found")


@dataclass
class Seen:
    """What the polls showed, each flag set by at least one snapshot."""

    databases: set[str] = field(default_factory=set)
    roles: set[str] = field(default_factory=set)
    active: bool = False
    idle_in_transaction: bool = False
    lock_chain: bool = False  # >= 2 sessions waiting on a lock, blocked_by set
    pool_waiting: bool = False
    role_near_limit: bool = False
    db_near_limit: bool = False
    backend_pids: set[int] = field(default_factory=set)

    def add(self, snap: Snapshot) -> None:
        clients = [s for s in snap.sessions if s.backend_type == "client backend"]
        self.backend_pids.update(s.pid for s in clients)
        self.databases.update(s.database for s in clients if s.database in DATABASES)
        self.roles.update(s.user for s in clients if s.user in ROLES)
        states = Counter(s.state for s in clients)
        self.active |= states["active"] > 0
        self.idle_in_transaction |= states["idle in transaction"] > 0
        waiting = [s for s in clients if s.wait_event_type == "Lock" and s.blocked_by]
        self.lock_chain |= len(waiting) >= 2
        if snap.pooler is not None:
            self.pool_waiting |= any(p.cl_waiting > 0 for p in snap.pooler.pools)
        # "Near" = at most two sessions short of the limit.
        self.role_near_limit |= any(0 < r.limit <= r.current + 2 for r in snap.limits.roles)
        self.db_near_limit |= any(0 < d.limit <= d.current + 2 for d in snap.limits.databases)

    def complete(self) -> bool:
        return (
            len(self.databases) == 3
            and len(self.roles) == 3
            and self.active
            and self.idle_in_transaction
            and self.lock_chain
            and self.pool_waiting
            and self.role_near_limit
            and self.db_near_limit
        )


async def watch(env: DemoEnvironment) -> Seen:
    seen = Seen()
    monitor = Monitor(env.target(refresh=0.5))
    await monitor.connect()
    try:
        deadline = time.monotonic() + WATCH_FOR
        while True:
            snap = await monitor.poll()
            assert snap.pooler_error is None, snap.pooler_error
            seen.add(snap)
            if seen.complete() or time.monotonic() > deadline:
                return seen
            await asyncio.sleep(0.5)
    finally:
        await monitor.close()


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # exists, owned by another user
        return True
    return True


@pytest.mark.timeout(60)
def test_demo_gives_every_pane_something_and_leaves_nothing_behind() -> None:
    _need("PostgreSQL", find_postgres_bindir())
    _need("PgBouncer", find_pgbouncer())
    started = time.monotonic()
    with DemoEnvironment(quiet=True) as env:
        assert env.started_in < 10, f"start-up took {env.started_in:.1f} s"
        assert env.wait_for_workload(15), env.workload and env.workload.error
        server_pids = env.server_pids()
        assert len(server_pids) == 2  # postmaster and PgBouncer
        root = env.root
        assert root is not None and root.is_dir()
        seen = asyncio.run(watch(env))

    assert seen.databases == set(DATABASES)
    assert seen.roles == set(ROLES)
    assert seen.active and seen.idle_in_transaction
    assert seen.lock_chain, "no two sessions waiting on a lock with blocked_by set"
    assert seen.pool_waiting, "no PgBouncer pool had a waiting client"
    assert seen.role_near_limit and seen.db_near_limit

    # Teardown: every server process and backend gone, the temp dir removed.
    assert not root.exists()
    left = [pid for pid in [*server_pids, *seen.backend_pids] if _alive(pid)]
    assert not left, f"processes left running: {left}"
    assert time.monotonic() - started < 30
