"""The `--demo` environment without the TUI: real servers, real workload, one Monitor.

It must give every pane something to show (three databases and roles, active and
idle-in-transaction sessions, a lock chain, queued pooler clients, limits near full) and
leave nothing behind: no server process, no temp dir.
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import os
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import asyncpg
import psutil
import pytest

from pgtop.collect.monitor import Monitor
from pgtop.collect.replay import load_recording
from pgtop.demo import DemoEnvironment
from pgtop.demo.schema import DATABASES, ROLES
from pgtop.demo.site import DemoSite
from pgtop.model.records import Snapshot
from pgtop.sandbox import find_pgbouncer, find_postgres_bindir
from pgtop.ui.app import PgTopApp
from pgtop.ui.widgets.sessions_table import SessionsTable

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "ui"))
from live import notifications, until

from support.terminal import run_in_terminal

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
    """Running, not a zombie: a server killed after its parent died waits for init to
    reap it, which this machine's init does when it gets to it."""
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def _gone_soon(pids: list[int], seconds: float = 5.0) -> list[int]:
    deadline = time.monotonic() + seconds
    while (alive := [pid for pid in pids if _alive(pid)]) and time.monotonic() < deadline:
        time.sleep(0.1)
    return alive


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


# -- safety: a password on every door, nothing left after SIGKILL, the user's state untouched


def _refused(**kwargs: object) -> str:
    async def attempt() -> str:
        try:
            conn = await asyncpg.connect(timeout=10, **kwargs)  # type: ignore[arg-type]
        except Exception as exc:  # what the server answered
            return str(exc)
        await conn.close()
        return ""

    return asyncio.run(attempt())


@pytest.mark.timeout(60)
def test_the_demo_refuses_connections_without_its_password(tmp_path: Path) -> None:
    _need("PostgreSQL", find_postgres_bindir())
    _need("PgBouncer", find_pgbouncer())
    with DemoEnvironment(workload=False, quiet=True) as env:
        assert env.cluster is not None and env.bouncer is not None and env.root is not None
        tcp = {"host": env.cluster.host, "port": env.cluster.port, "database": "postgres"}
        # PgBouncer checks the password itself, before it opens a server connection.
        bouncer = {"host": env.bouncer.host, "port": env.bouncer.port, "database": "shop"}
        socket_dir = {"host": str(env.root), "port": env.cluster.port, "database": "postgres"}
        for where in (tcp, bouncer, socket_dir):
            for user in ("postgres", *ROLES):
                for password in ("", "guess"):
                    why = _refused(user=user, password=password, **where)
                    assert "authentication failed" in why, (where, user, why)
        # With the password, pgtop's own target works (a PostgreSQL and a PgBouncer poll).
        snap = asyncio.run(_one_poll(env))
        assert snap.pooler_error is None and snap.server.current_user == "postgres"


async def _one_poll(env: DemoEnvironment) -> Snapshot:
    monitor = Monitor(env.target())
    await monitor.connect()
    try:
        return await monitor.poll()
    finally:
        await monitor.close()


_START_AND_WAIT = """
import sys, time
from pgtop.demo import DemoEnvironment
env = DemoEnvironment(workload=False, quiet=True).start()
print(env.root, *env.server_pids(), flush=True)
time.sleep(120)
"""


def _fleet() -> DemoSite:
    from pgtop.demo.fleet import DemoFleet

    return DemoFleet()


@pytest.mark.timeout(90)
@pytest.mark.parametrize(
    "next_demo",
    [lambda: DemoEnvironment(pooler=False, workload=False), _fleet],
    ids=["demo", "fleet"],
)
def test_a_sigkilled_demo_is_swept_at_the_next_start(next_demo: Callable[[], DemoSite]) -> None:
    _need("PostgreSQL", find_postgres_bindir())
    _need("PgBouncer", find_pgbouncer())
    child = subprocess.Popen(
        [sys.executable, "-c", _START_AND_WAIT], stdout=subprocess.PIPE, text=True
    )
    assert child.stdout is not None
    root_text, *pids = child.stdout.readline().split()
    root = Path(root_text)
    assert root.is_dir() and len(pids) == 2
    child.send_signal(signal.SIGKILL)
    child.wait()
    assert root.is_dir()  # what a SIGKILL leaves behind
    err = io.StringIO()
    with contextlib.redirect_stderr(err), next_demo():
        assert not root.exists(), "the dead demo's directory is still there"
    assert f"removed {root}" in err.getvalue()
    assert not _gone_soon([int(pid) for pid in pids])
    # Closed right after it started: its load must stop too, not spin on dead servers.
    deadline = time.monotonic() + 15
    while [t for t in threading.enumerate() if t.name == "pgtop-demo-fleet" and t.is_alive()]:
        assert time.monotonic() < deadline, "the demo's load outlived the demo"
        time.sleep(0.2)


@pytest.mark.timeout(90)
def test_a_stale_demo_whose_servers_still_run_is_stopped_and_removed() -> None:
    """The servers die with pgtop (PR_SET_PDEATHSIG), but not everywhere and not always:
    a demo dir whose owner is gone while its servers run gets them stopped."""
    _need("PostgreSQL", find_postgres_bindir())
    _need("PgBouncer", find_pgbouncer())
    gone = subprocess.Popen(["true"])
    gone.wait()
    with DemoEnvironment(workload=False, quiet=True) as stale:
        assert stale.root is not None
        root, pids = stale.root, stale.server_pids()
        (root / "pgtop.owner").write_text(f"{gone.pid} 1.0\n")  # as if its pgtop had died
        with DemoEnvironment(pooler=False, workload=False, quiet=True):
            assert not root.exists()
            assert not _gone_soon(pids)


async def test_the_demo_keeps_the_users_audit_log_and_profiles_untouched(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _need("PostgreSQL", find_postgres_bindir())
    real_state, real_config = tmp_path / "state", tmp_path / "config" / "profiles.toml"
    monkeypatch.setenv("PGTOP_STATE_DIR", str(real_state))
    monkeypatch.setenv("PGTOP_CONFIG", str(real_config))
    env = DemoEnvironment(pooler=False, workload=False, quiet=True)
    await asyncio.to_thread(env.start)
    try:
        assert env.cluster is not None and env.root is not None
        victim = await asyncpg.connect(**env.cluster.dsn_kwargs())  # type: ignore[arg-type]
        pid = victim.get_server_pid()
        sleeping = asyncio.ensure_future(victim.execute("SELECT pg_sleep(60)"))
        app = PgTopApp(env.target(refresh=0.5))
        async with app.run_test(size=(120, 40)) as pilot:
            table = app.query_one(SessionsTable)
            await until(pilot, lambda: table.move_cursor_to_pid(pid), "the sleeping session")
            await pilot.press("c", "y")
            demo_log = env.root / "state" / "audit.log"
            await until(pilot, demo_log.exists, "the demo's audit entry")
            await pilot.press("ctrl+p")
            await pilot.press(*"Save current connection")
            await pilot.press("enter")
            await pilot.press(*"demo-ports", "enter")
            await until(
                pilot, lambda: any("saved profile" in n for n in notifications(app)), "save"
            )
        with contextlib.suppress(Exception):
            await sleeping
        await victim.close()
        assert (env.root / "config.toml").exists()  # saved where the demo ends
    finally:
        await asyncio.to_thread(env.close)
    assert not real_state.exists() and not real_config.exists()
    assert os.environ["PGTOP_STATE_DIR"] == str(real_state)  # given back at the end


@pytest.mark.timeout(90)
def test_the_demo_records_when_asked(tmp_path: Path) -> None:
    """`--demo --record FILE` wrote nothing before; now the file outlives the demo and
    replays. An unwritable FILE is refused before any server starts."""
    _need("PostgreSQL", find_postgres_bindir())
    env = {**os.environ, "PGTOP_CONFIG": str(tmp_path / "profiles.toml"), "TERM": "xterm"}
    recording = tmp_path / "demo.pgtop"
    code, out = run_in_terminal(
        ["--demo", "--record", str(recording)], env, [(b"app_user", b"q")], timeout=60
    )
    assert code == 0, out[-400:]
    frames = load_recording(recording)
    assert len(frames.times) >= 1
    last = frames.snapshot(len(frames.times) - 1)
    assert any(s.user == "app_user" for s in last.sessions)  # what was on screen at q

    recording.unlink()
    recording.symlink_to(tmp_path / "elsewhere")
    code, out = run_in_terminal(["--demo", "--record", str(recording)], env, [], timeout=20)
    assert code == 2 and "symbolic link" in out and "ready in" not in out, out
