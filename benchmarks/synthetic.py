"""A synthetic pgtop recording of many sessions, for the --sessions 10000 path: no real
backends, so it measures the client only. Written with pgtop's own RecordingWriter
(collect/record.py, model/codec.py), one frame a second; each second about `change`
of the sessions change state (new state, query and timestamps), the rest stay as they
were, as on a busy server. write_recording() is the only writer of the file. Stateless.
"""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from pathlib import Path

from pgtop.collect.record import RecordingWriter
from pgtop.model.records import (
    ConnLimit,
    DatabaseStat,
    Limits,
    ServerInfo,
    Session,
    Setting,
    Snapshot,
    StateCounts,
)

FIRST_PID = 100_000
DATABASES = ("shop", "billing", "analytics", "auth")
USERS = ("app", "web", "report", "etl", "api")
APPS = ("web", "batch", "reports", "etl", "api", "cron")
QUERIES = (
    "SELECT * FROM orders WHERE customer_id = $1 ORDER BY created_at DESC LIMIT 50",
    "UPDATE accounts SET balance = balance - $1 WHERE id = $2",
    "INSERT INTO events (kind, payload, at) VALUES ($1, $2, now())",
    "SELECT count(*) FROM sessions s JOIN users u ON u.id = s.user_id WHERE u.active",
    "DELETE FROM cart_items WHERE cart_id = $1 AND sku = ANY($2)",
    "WITH recent AS (SELECT * FROM metrics WHERE at > now() - interval '5 min') "
    "SELECT host, avg(value) FROM recent GROUP BY host",
)


def _session(pid: int, rng: random.Random, now: datetime, started: datetime) -> Session:
    """A session in a random state, as of `now` (its state just changed)."""
    r = rng.random()
    query = rng.choice(QUERIES) + f" /* {pid} */"
    base = {
        "pid": pid,
        "backend_start": started,
        "database": DATABASES[pid % len(DATABASES)],
        "user": USERS[pid % len(USERS)],
        "application": APPS[pid % len(APPS)],
        "client_addr": f"10.0.{pid // 250 % 250}.{pid % 250}",
        "client_port": 30000 + pid % 30000,
        "backend_type": "client backend",
        "state_change": now,
        "query": query,
    }
    ago = timedelta(seconds=rng.uniform(0, 30))
    if r < 0.60:  # idle
        return Session(
            **base,
            state="idle",
            wait_event_type="Client",
            wait_event="ClientRead",
            xact_start=None,
            query_start=now - ago,
        )
    if r < 0.70:  # idle in transaction
        return Session(
            **base,
            state="idle in transaction",
            wait_event_type="Client",
            wait_event="ClientRead",
            xact_start=now - ago,
            query_start=now,
            backend_xid=str(700_000 + pid),
        )
    if r < 0.74:  # waiting on a lock held by the first session of its hundred
        holder = FIRST_PID + (pid - FIRST_PID) // 100 * 100
        return Session(
            **base,
            state="active",
            wait_event_type="Lock",
            wait_event="relation",
            xact_start=now,
            query_start=now,
            blocked_by=(holder,) if holder != pid else (),
        )
    return Session(
        **base,
        state="active",
        wait_event_type=None,
        wait_event=None,
        xact_start=now,
        query_start=now,
    )


def _counts(sessions: list[Session]) -> tuple[DatabaseStat, ...]:
    by_db: dict[str, list[int]] = {db: [0, 0, 0, 0, 0] for db in DATABASES}
    for s in sessions:
        c = by_db[s.database or DATABASES[0]]
        c[{"active": 0, "idle": 1, "idle in transaction": 2}.get(s.state or "", 3)] += 1
        c[4] += s.wait_event_type == "Lock"
    return tuple(
        DatabaseStat(
            db,
            -1,
            True,
            StateCounts(
                active=c[0],
                idle=c[1],
                idle_in_transaction=c[2],
                other=c[3],
                waiting_on_lock=c[4],
                total=sum(c[:4]),
            ),
            1_000_000,
            1_000,
        )
        for db, c in by_db.items()
    )


def write_recording(
    path: Path, sessions: int, frames: int, change: float = 0.05, seed: int = 21
) -> None:
    """`frames` frames one second apart, of `sessions` sessions, `change` of them changing
    each second."""
    rng = random.Random(seed)
    t0 = datetime.now(UTC).replace(microsecond=0)
    started = t0 - timedelta(hours=2)
    live = [
        _session(FIRST_PID + i, rng, t0 - timedelta(seconds=rng.uniform(0, 600)), started)
        for i in range(sessions)
    ]
    limits = Limits(
        max_connections=sessions + 100,
        superuser_reserved_connections=3,
        reserved_connections=None,
        client_connections=sessions,
        roles=tuple(ConnLimit(u, -1, sessions // len(USERS)) for u in USERS),
        databases=tuple(ConnLimit(d, -1, sessions // len(DATABASES)) for d in DATABASES),
        settings=(
            Setting("max_connections", str(sessions + 100), None, "configuration file", False),
        ),
    )
    writer = RecordingWriter(path)
    try:
        for k in range(frames):
            now = t0 + timedelta(seconds=k)
            if k:
                for i in rng.sample(range(sessions), int(sessions * change)):
                    live[i] = _session(FIRST_PID + i, rng, now, started)
            server = ServerInfo(
                "15.18",
                150018,
                "synthetic:5432",
                started,
                False,
                now,
                max_connections=sessions + 100,
                current_user="postgres",
            )
            writer.write(Snapshot(server, tuple(live), _counts(live), limits))
    finally:
        writer.close()


def pids(sessions: int) -> set[str]:
    return {str(FIRST_PID + i) for i in range(sessions)}
