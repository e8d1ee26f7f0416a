"""What a monitor costs the server: its backends, and its statements' execution time and
calls from pg_stat_statements. Stateless."""

from __future__ import annotations

from environment import BenchEnvironment


def backend_pids(env: BenchEnvironment, role: str) -> list[int]:
    rows = env.sql("SELECT pid FROM pg_stat_activity WHERE usename = %s", (role,))
    return [int(r[0]) for r in rows]


def reset(env: BenchEnvironment) -> None:
    env.sql("SELECT pg_stat_statements_reset()")


def exec_ms_and_calls(env: BenchEnvironment, role: str) -> tuple[float, int]:
    """Since the last reset(): total execution ms and calls of `role`'s statements."""
    rows = env.sql(
        "SELECT coalesce(sum(total_exec_time), 0), coalesce(sum(calls), 0)"
        " FROM pg_stat_statements WHERE userid = (SELECT oid FROM pg_roles"
        " WHERE rolname = %s)",
        (role,),
    )
    return float(rows[0][0]), int(rows[0][1])
