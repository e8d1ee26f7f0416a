"""Small constructors for records in pure unit tests."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from pgtop.model.records import Session

NOW = datetime(2026, 11, 25, 12, 0, 0, tzinfo=UTC)


def ago(seconds: float) -> datetime:
    return NOW - timedelta(seconds=seconds)


def session(pid: int, state: str | None = "idle", **fields: Any) -> Session:
    base: dict[str, Any] = {
        "pid": pid,
        "backend_start": ago(3600),
        "database": "shop",
        "user": "app",
        "application": "web",
        "client_addr": "10.0.0.5",
        "client_port": 40000 + pid % 1000,
        "backend_type": "client backend",
        "state": state,
        "wait_event_type": "Client" if state == "idle" else None,
        "wait_event": "ClientRead" if state == "idle" else None,
        "xact_start": None,
        "query_start": ago(60),
        "state_change": ago(30),
        "query": "select 1",
    }
    base.update(fields)
    return Session(**base)
