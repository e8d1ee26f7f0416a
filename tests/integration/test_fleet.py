"""The fleet against real servers: four PostgreSQL (15 and 18 mixed when 18 is there)
and two PgBouncer processes in front of one of them.

One server is stopped and started again, one refuses the password, and pgtop's own
backend on another is SIGSTOPped: the other members keep refreshing on time, the broken
member's status says why, and a server that stays down is retried less and less often.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any

from pgtop.collect.monitor import postgres_collector
from pgtop.collect.summary import SummaryCollector
from pgtop.model.fleet_line import fleet_lines
from pgtop.monitor.fleet import BAD_PASSWORD, LIVE, RECONNECTING, UNREACHABLE, Fleet
from pgtop.sandbox import PgInstall
from pgtop.target import ConnSettings, Target
from support import MONITOR, PgBouncerServer, PostgresServer, SessionFactory

REFRESH = 0.5


def clean_env(home: Path, **extra: str) -> dict[str, str]:
    """No PG* of the developer's shell, HOME in a temp dir (as test_cli_once.py)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PG")}
    env.update(HOME=str(home), XDG_CONFIG_HOME=str(home / ".config"), **extra)
    return env


def run_pgtop(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "pgtop", *args], capture_output=True,
                          text=True, timeout=60, env=env, stdin=subprocess.DEVNULL)  # fmt: skip


def target_of(server: PostgresServer, *, password: str = MONITOR.password, **kw: Any) -> Target:
    params = {"host": server.host, "port": str(server.port), "user": MONITOR.name,
              "dbname": "postgres", "password": password}  # fmt: skip
    return Target(postgres=ConnSettings(params), refresh=REFRESH, connect_timeout=2.0, **kw)


class Running:
    """A fleet's workers as asyncio tasks (the app runs them as Textual workers)."""

    def __init__(self, fleet: Fleet) -> None:
        self.fleet = fleet
        self.tasks: list[asyncio.Task[None]] = []

    def spawn(self, coro: Coroutine[Any, Any, None], group: str) -> object:
        task = asyncio.ensure_future(coro)
        self.tasks.append(task)
        return task

    async def __aenter__(self) -> Fleet:
        self.fleet.start(self.spawn)
        return self.fleet

    async def __aexit__(self, *exc: object) -> None:
        for task in self.tasks:
            task.cancel()
        await asyncio.gather(*self.tasks, return_exceptions=True)
        await self.fleet.close()


async def wait_for(check: Callable[[], bool], timeout: float, what: str) -> float:
    start = time.monotonic()
    while not check():
        if time.monotonic() - start > timeout:
            raise AssertionError(f"not within {timeout:g} s: {what}")
        await asyncio.sleep(0.05)
    return time.monotonic() - start


def installs_mixed(pg_installs: list[PgInstall]) -> list[PgInstall]:
    """Four installs, alternating every major found (15 and 18 when both are there)."""
    return [pg_installs[i % len(pg_installs)] for i in range(4)]


async def test_broken_members_never_hold_up_the_others(
    pg_installs: list[PgInstall],
    make_postgres: Callable[..., PostgresServer],
    make_pgbouncer: Callable[..., PgBouncerServer],
) -> None:
    installs = installs_mixed(pg_installs)
    servers = [make_postgres(i.bindir) for i in installs]
    pooled, stuck, restarted, refusing = servers
    bouncers = [make_pgbouncer(pooled), make_pgbouncer(pooled)]
    fleet = Fleet([
        ("pooled", target_of(pooled, pooler=bouncers[0].stats_dsn(),
                             poolers=(bouncers[1].stats_dsn(),), env="prod")),
        ("stuck", target_of(stuck)),
        ("restarted", target_of(restarted)),
        ("refusing", target_of(refusing, password="not-the-password")),
    ])  # fmt: skip
    pooled_m, stuck_m, restarted_m, refusing_m = fleet.members
    healthy = [pooled_m, restarted_m]

    def frames() -> list[int]:
        return [m.status.frames for m in healthy]

    async with Running(fleet):
        await wait_for(lambda: all(m.status.status == LIVE for m in fleet.members[:3]), 10,
                       "three servers live")  # fmt: skip
        await wait_for(lambda: refusing_m.status.status == BAD_PASSWORD, 10, "refused")
        assert "password" in refusing_m.status.reason
        versions = {m.name: m.status.summary.version for m in fleet.members[:3]}  # type: ignore[union-attr]
        assert {v.split(".")[0] for v in versions.values()} == {str(i.major) for i in installs}

        # Two PgBouncer processes, one client through each: their pools add up.
        import asyncpg

        clients = [await asyncpg.connect(b.client_dsn()) for b in bouncers]
        try:
            for client in clients:
                await client.fetchval("SELECT 1")
            await wait_for(
                lambda: (
                    pooled_m.status.pooler is not None
                    and sum(p.cl_active for p in pooled_m.status.pooler.pools) == 2
                ),
                10,
                "pools of both processes summed",
            )
            assert len(pooled_m.pooler.processes) == 2  # type: ignore[union-attr]
            # Off screen the pooler costs SHOW POOLS alone: no client list is read.
            assert pooled_m.status.pooler.client_list == ()  # type: ignore[union-attr]
            assert pooled_m.state.pooler_snapshot is None
            fleet.focus("pooled")  # on screen: everything, both processes' clients
            await wait_for(
                lambda: (
                    pooled_m.state.pooler_snapshot is not None
                    and len(pooled_m.state.pooler_snapshot.client_list) == 2
                ),
                5,
                "the focused member's full pooler snapshot",
            )
            fleet.focus(None)
        finally:
            for client in clients:
                await client.close()

        # pgtop's own backend on `stuck` stops answering: the others go on refreshing.
        pid = stuck_m.postgres.own_pids[0]
        os.kill(pid, signal.SIGSTOP)
        try:
            before, started = frames(), time.monotonic()
            await wait_for(lambda: stuck_m.status.status == RECONNECTING, 15, "stuck noticed")
            elapsed = time.monotonic() - started
            assert "no answer" in stuck_m.status.reason
            # Every healthy member kept its pace meanwhile (a tick per REFRESH, with slack).
            for b, a in zip(before, frames(), strict=True):
                assert a - b >= elapsed / REFRESH * 0.6, (before, frames(), elapsed)
        finally:
            os.kill(pid, signal.SIGCONT)
        # A new connection (a new backend) brings it back.
        await wait_for(lambda: stuck_m.status.status == LIVE, 15, "stuck member back")

        # A server that goes away is retried less and less often, and its line says why.
        await asyncio.to_thread(restarted.stop)
        await wait_for(lambda: restarted_m.status.status == UNREACHABLE, 10, "down noticed")
        down_since = time.monotonic()
        before = frames()[0]
        await asyncio.sleep(8)
        # Every tick would be 16 tries in 8 s; doubling from 0.5 s is 0.5+1+2+4: about 5.
        assert 2 <= restarted_m.status.failures <= 6, restarted_m.status.failures
        assert restarted_m.status.retry_in is not None and restarted_m.status.retry_in >= 4
        assert frames()[0] - before >= 8 / REFRESH * 0.6  # the others did not wait for it
        lines = {line.name: line for line in fleet_lines(fleet.views())}
        assert lines["restarted"].down and "refused" in lines["restarted"].reason
        assert lines["refusing"].status == BAD_PASSWORD
        worst_two = {line.name for line in fleet_lines(fleet.views())[:2]}
        assert worst_two == {"refusing", "restarted"}  # down lines come first
        await asyncio.to_thread(restarted.start)
        waited = await wait_for(lambda: restarted_m.status.status == LIVE, 40, "back up")
        assert time.monotonic() - down_since + waited < 70


async def test_focused_member_reads_sessions_the_others_one_statement_a_tick(
    make_postgres: Callable[..., PostgresServer],
) -> None:
    quiet, other = make_postgres(), make_postgres()
    fleet = Fleet([("quiet", target_of(quiet)), ("other", target_of(other))])
    quiet_m, other_m = fleet.members
    async with Running(fleet):
        await wait_for(lambda: quiet_m.status.frames >= 2, 10, "first summaries")
        assert quiet_m.state.pg_snapshot is None  # in the background: no session list
        first = quiet_m.status.summary
        ticks = 16
        await wait_for(lambda: quiet_m.status.frames >= 2 + ticks, 20, "more summaries")
        last = quiet_m.status.summary
        assert first is not None and last is not None
        # On a server nobody else uses, each tick is one statement, so one transaction;
        # a full poll is two or three. Statistics are flushed lazily, so the connection's
        # own set-up (two) may land in the window too: a few over, never double.
        done = last.transactions - first.transactions
        polls = quiet_m.status.frames - 2
        assert polls - 3 <= done <= polls + 4, (done, polls)

        focused = fleet.focus("quiet")
        assert focused is quiet_m
        await wait_for(lambda: quiet_m.state.pg_snapshot is not None, 3, "sessions at once")
        assert other_m.state.pg_snapshot is None and quiet_m.status.status == LIVE
        assert fleet.neighbour(1) is other_m and fleet.neighbour(-1) is other_m


async def test_summary_is_one_statement_with_the_limits_pane_figures(
    make_postgres: Callable[..., PostgresServer],
) -> None:
    server = make_postgres()
    workload = SessionFactory(server)
    try:
        await workload.idle_in_transaction()
        collector = postgres_collector(target_of(server))
        summary = SummaryCollector(collector)
        try:
            got = await summary.poll()
            full = await collector.poll()
        finally:
            await collector.close()
        lim = full.limits
        assert (got.ordinary_slots, got.client_connections) == (
            lim.available_to_ordinary_roles, lim.client_connections)  # fmt: skip
        assert got.idle_in_transaction >= 1 and got.oldest_xact_s is not None
        assert got.version == full.server.version and summary.statements == 1
        # The same transactions total as the full poll's (a few apart: statistics move),
        # so transactions/s does not jump when the server comes on screen.
        from pgtop.model.server_summary import summary_of_snapshot

        assert 0 <= summary_of_snapshot(full).transactions - got.transactions <= 5
    finally:
        await workload.close()


# -- scripts ---------------------------------------------------------------------------


def test_once_with_several_profiles_prints_every_server(
    make_postgres: Callable[..., PostgresServer], tmp_path: Path
) -> None:
    up = make_postgres()
    home = tmp_path / "home"
    home.mkdir()
    config = home / "profiles.toml"

    def profile(name: str, port: int, extra: str = "") -> str:
        return (f'[profiles.{name}]\nhost = "{up.host}"\nport = {port}\nuser = "monitor"\n'
                f'dbname = "postgres"\n{extra}\n')  # fmt: skip

    from pgtop.sandbox import free_port

    config.write_text(
        profile("up", up.port, 'env = "prod"\ngroups = ["a"]')
        + profile("down", free_port(), 'groups = ["a"]')
        + profile("nopw", up.port, 'groups = ["a"]\npassword_command = "exit 3"')
    )
    config.chmod(0o600)
    env = clean_env(home, PGTOP_CONFIG=str(config), PGPASSWORD=MONITOR.password)
    proc = run_pgtop(["--fleet", "a", "--once", "--format", "json", "--refresh", "0.5"], env)
    assert proc.returncode == 0, proc.stderr
    assert "Traceback" not in proc.stderr
    data = json.loads(proc.stdout)
    assert [(d["profile"], d["status"]) for d in data] == [
        ("up", "live"),
        ("down", "unreachable"),
        ("nopw", "no password"),  # its password_command failed: that server alone
    ]
    assert "exited with status 3" in data[2]["error"]
    assert data[0]["env"] == "prod" and data[0]["schema"] == "pgtop.snapshot/1"
    assert "connection refused" in data[1]["error"] and "server" not in data[1]

    text = run_pgtop(["-P", "up", "-P", "down", "--once", "--refresh", "0.5"], env)
    assert text.returncode == 0
    assert "== up [prod]: live ==" in text.stdout and "== down: unreachable ==" in text.stdout
    assert "PostgreSQL " in text.stdout

    nobody = run_pgtop(["-P", "down", "-P", "down", "--fleet", "nope", "--once"], env)
    assert nobody.returncode == 2 and len(nobody.stderr.splitlines()) == 1
    config.write_text(profile("down", free_port()) + profile("gone", free_port()))
    none = run_pgtop(["--fleet", "--once", "--format", "json", "--refresh", "0.5"], env)
    assert none.returncode == 1
    assert [d["status"] for d in json.loads(none.stdout)] == ["unreachable", "unreachable"]


async def test_a_fleet_scrapes_as_one_exposition_with_each_servers_findings(
    primary_pg: PostgresServer, primary_workload: SessionFactory, tmp_path: Path
) -> None:
    """`--once --format openmetrics` and `--headless --metrics-listen` with several
    profiles: one `server` label per profile, a down one as pg_up 0, and the findings
    each server's own thresholds raise."""
    from prometheus_client.openmetrics.parser import text_string_to_metric_families

    from pgtop.sandbox import free_port

    await primary_workload.idle_in_transaction(application_name="fleet-om-tx")
    home = tmp_path / "home"
    home.mkdir()
    config = home / "profiles.toml"
    config.write_text(
        f'[profiles.up]\nhost = "{primary_pg.host}"\nport = {primary_pg.port}\n'
        'user = "monitor"\ndbname = "postgres"\ngroups = ["om"]\n'
        "[profiles.up.findings]\nidle_in_transaction_s = 0.1\n"
        f'[profiles.down]\nhost = "127.0.0.1"\nport = {free_port()}\nuser = "monitor"\n'
        'groups = ["om"]\n'
    )
    config.chmod(0o600)
    env = clean_env(home, PGTOP_CONFIG=str(config), PGPASSWORD=MONITOR.password)

    def read(text: str) -> dict[str, list[Any]]:
        out: dict[str, list[Any]] = {}
        for family in text_string_to_metric_families(text):
            out.setdefault(family.name, []).extend(family.samples)
        return out

    args = ["--fleet", "om", "--once", "--format", "openmetrics", "--refresh", "0.5"]
    proc = await asyncio.to_thread(run_pgtop, args, env)
    assert proc.returncode == 0, proc.stderr
    fams = read(proc.stdout)
    assert {s.labels["server"]: s.value for s in fams["pg_up"]} == {"up": 1, "down": 0}
    found = [s for s in fams["pgtop_findings"] if s.labels["server"] == "up"]
    assert ("idle_in_transaction", 1) in {(s.labels["kind"], s.value) for s in found}

    port = free_port()
    service = subprocess.Popen(
        [sys.executable, "-m", "pgtop", "--fleet", "om", "--headless", "--metrics-listen",
         f"127.0.0.1:{port}", "--refresh", "0.5"],
        env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )  # fmt: skip
    try:
        import urllib.request

        def scrape() -> str:
            url = f"http://127.0.0.1:{port}/metrics"
            accept = {"Accept": "application/openmetrics-text; version=1.0.0"}
            with urllib.request.urlopen(
                urllib.request.Request(url, headers=accept), timeout=2
            ) as r:
                return r.read().decode()

        async def scraped_both() -> dict[str, list[Any]]:
            deadline = time.monotonic() + 20
            while True:
                try:
                    got = read(await asyncio.to_thread(scrape))
                    kinds = {s.labels["kind"] for s in got.get("pgtop_findings", [])}
                    if "idle_in_transaction" in kinds:
                        return got
                except OSError:
                    pass
                assert time.monotonic() < deadline, "the headless fleet never served both"
                await asyncio.sleep(0.3)

        served = await scraped_both()
        assert {s.labels["server"]: s.value for s in served["pg_up"]} == {"up": 1, "down": 0}
    finally:
        service.send_signal(signal.SIGTERM)
        _, err = service.communicate(timeout=20)
    assert service.returncode == 0, err
    assert b"Traceback" not in err


# -- the demo's fleet ------------------------------------------------------------------


async def test_demo_fleet_has_a_healthy_a_crowded_and_a_queued_server() -> None:
    from pgtop.demo.fleet import DemoFleet
    from support import find_pgbouncer

    demo = await asyncio.to_thread(DemoFleet(quiet=True).start)
    try:
        assert await asyncio.to_thread(demo.ready.wait, 30), "the demo's load did not start"
        fleet = Fleet(demo.members(refresh=REFRESH))
        async with Running(fleet):

            def lines() -> dict[str, Any]:
                return {line.name: line for line in fleet_lines(fleet.views())}

            def settled() -> bool:
                got = lines()
                queued = got["queued"].pool_waiting
                return all(not line.down for line in got.values()) and (
                    find_pgbouncer() is None or (queued is not None and queued >= 3)
                )

            await wait_for(settled, 20, "three live lines, clients queued")
            got = lines()
            assert got["crowded"].used_pct is not None and got["crowded"].used_pct >= 90
            assert got["crowded"].level in ("warn", "crit") and got["crowded"].env == "prod"
            assert got["healthy"].level == "ok" and got["healthy"].used_pct < 50  # type: ignore[operator]
            assert [line.name for line in fleet_lines(fleet.views())][-1] == "healthy"
    finally:
        await asyncio.to_thread(demo.close)
    assert demo.root is None
    # Its load thread ended with it: a thread left querying stopped servers burnt a core
    # for the rest of the test run.
    import threading

    assert not [t for t in threading.enumerate() if t.name == "pgtop-demo-fleet"]
