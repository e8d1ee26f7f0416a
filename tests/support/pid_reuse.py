"""Forcing PostgreSQL to give a new backend the pid of one that just ended.

Linux hands out the pid after /proc/sys/kernel/ns_last_pid (writable by root) to the next
process created in the namespace; the postmaster forks a backend per connection, so
writing `pid - 1` right before connecting usually gives the new backend `pid`. Other
processes race for pids (a thread the event loop starts, an autovacuum worker), so it is
retried. Used to prove that nothing keyed by pid alone follows the pid to a newcomer.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Awaitable, Callable
from pathlib import Path

import asyncpg

NS_LAST_PID = Path("/proc/sys/kernel/ns_last_pid")


class PidReuseUnavailable(RuntimeError):
    """The pid could not be forced (not root, or always taken by another process)."""


def can_force_pids() -> bool:
    return NS_LAST_PID.exists() and os.access(NS_LAST_PID, os.W_OK) and os.geteuid() == 0


async def wait_gone(admin: asyncpg.Connection, pid: int, timeout: float = 10.0) -> None:
    """Until the old backend has exited (its pid is free only once it is reaped)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while await admin.fetchval("SELECT EXISTS (SELECT FROM pg_stat_activity WHERE pid = $1)", pid):
        if loop.time() > deadline:
            raise TimeoutError(f"backend {pid} still listed after {timeout:g} s")
        await asyncio.sleep(0.02)
    # pg_stat_activity forgets a backend a little before the process is reaped.
    while Path(f"/proc/{pid}").exists():
        if loop.time() > deadline:
            raise TimeoutError(f"process {pid} still exists after {timeout:g} s")
        await asyncio.sleep(0.02)


async def connect_with_pid(
    pid: int, connect: Callable[[], Awaitable[asyncpg.Connection]], attempts: int = 60
) -> asyncpg.Connection:
    """A new connection whose backend has `pid` (which must be free by now).

    `connect` opens one connection (e.g. SessionFactory.connect, which tracks it for
    cleanup); misses are closed again.
    """
    if not can_force_pids():
        raise PidReuseUnavailable("forcing a pid needs root (/proc/sys/kernel/ns_last_pid)")
    for _ in range(attempts):
        if Path(f"/proc/{pid}").exists():  # taken by someone else meanwhile: give up
            break
        NS_LAST_PID.write_text(str(pid - 1))
        conn = await connect()
        if await conn.fetchval("SELECT pg_backend_pid()") == pid:
            return conn
        await conn.close()
    raise PidReuseUnavailable(f"could not get pid {pid} for a new backend in {attempts} tries")
