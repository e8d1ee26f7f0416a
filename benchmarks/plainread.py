"""The server-cost floor: one plain read of every pg_stat_activity column pgtop needs, once
a second, as role bench_plain, timed by pg_stat_statements like the monitors. Issue 21's
target: pgtop's statements within 1.3x of this at the same load. Stateless."""

from __future__ import annotations

import time

import psycopg
import statements
from environment import BenchEnvironment

# The columns of collect/queries/sessions.sql, without its joins (unchanged idle rows,
# known blockers) and without pg_blocking_pids(): what any monitor must read at least.
PLAIN_READ = """
SELECT pid, backend_start, datname, usename, application_name, host(client_addr),
       client_port, backend_type, state, wait_event_type, wait_event, xact_start,
       query_start, state_change, query, query_id, backend_xid::text
  FROM pg_stat_activity /* bench plain read */
"""
ROLE = "bench_plain"


def plain_read_ms_per_s(env: BenchEnvironment, seconds: float) -> tuple[float, float]:
    """(server exec ms/s, calls/s) of the plain read polled at 1 s for `seconds`."""
    assert env.pg is not None
    with psycopg.connect(env.pg.dsn(user=ROLE, password=""), autocommit=True) as conn:
        conn.execute(PLAIN_READ).fetchall()  # connect and plan outside the window
        statements.reset(env)
        t0 = time.monotonic()
        tick = t0
        while True:
            tick += 1.0
            if tick > t0 + seconds:
                break
            time.sleep(max(0.0, tick - time.monotonic()))
            conn.execute(PLAIN_READ).fetchall()
        window = time.monotonic() - t0
    exec_ms, calls = statements.exec_ms_and_calls(env, ROLE)
    return exec_ms / window, calls / window
