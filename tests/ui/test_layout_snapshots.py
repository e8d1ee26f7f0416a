"""SVG snapshots of every pane and the confirmation, from fixed data, at 80x24 and 160x48.

The app is fed a hand-built snapshot instead of polling, so the pictures are stable;
`pytest --snapshot-update` rewrites them after an intended change of look.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from datetime import timedelta

import pytest
from sample import NOW, fixed_app, sample_snapshot

from pgtop.model.records import IDLE_IN_TRANSACTION, Session, Snapshot
from support.records import replace

SIZES = {"80x24": (80, 24), "160x48": (160, 48)}


@pytest.fixture(autouse=True)
def utc_clock() -> Iterator[None]:
    """The header prints times in local time: pin it so the pictures do not drift."""
    old = os.environ.get("TZ")
    os.environ["TZ"] = "UTC"
    time.tzset()
    yield
    if old is None:
        del os.environ["TZ"]
    else:
        os.environ["TZ"] = old
    time.tzset()


async def _wait_for_data(pilot) -> None:  # type: ignore[no-untyped-def]
    for _ in range(50):
        if pilot.app.server.state.pg_snapshot is not None:
            break
        await pilot.pause(0.05)
    await pilot.pause()


@pytest.mark.parametrize("size", SIZES)
@pytest.mark.parametrize(
    "keys",
    [(), ("2",), ("3",), ("4",), ("5",), ("k",)],
    ids=["sessions", "databases", "limits", "pooler", "findings", "confirm"],
)
def test_layout(snap_compare, size: str, keys: tuple[str, ...]) -> None:  # type: ignore[no-untyped-def]
    async def run_before(pilot) -> None:  # type: ignore[no-untyped-def]
        await _wait_for_data(pilot)
        for key in keys:
            await pilot.press(key)
        await pilot.pause()

    assert snap_compare(fixed_app(), terminal_size=SIZES[size], run_before=run_before)


def lock_tree_snapshot() -> Snapshot:
    """The sample plus a three-level chain (A blocks B, B blocks C and D), an old root
    with one waiter, and a waiter whose blocker pgtop does not list (a prepared xact)."""
    base = sample_snapshot()
    template = next(s for s in base.sessions if s.pid == 104)  # a lock waiter

    def at(pid: int, minutes: float, *blocked_by: int, query: str) -> Session:
        start = NOW - timedelta(minutes=minutes)
        return replace(
            template,
            pid=pid,
            blocked_by=blocked_by,
            xact_start=start,
            query_start=start,
            state_change=start,
            query=query,
        )

    root = replace(
        at(301, 10, query="UPDATE accounts SET balance = balance - 10 WHERE id = 1"),
        state=IDLE_IN_TRANSACTION,
        wait_event_type="Client",
        wait_event="ClientRead",
    )
    chain = (
        root,
        at(302, 9, 301, query="UPDATE accounts SET balance = 0 WHERE id = 1"),
        at(303, 8, 302, query="SELECT * FROM accounts WHERE id = 2 FOR UPDATE"),
        at(304, 7, 302, query="DELETE FROM accounts WHERE id = 2"),
        at(305, 1, 0, query="UPDATE invoices SET paid = true WHERE id = 7"),
    )
    return replace(base, sessions=(*base.sessions, *chain))


@pytest.mark.parametrize("size", SIZES)
def test_lock_tree_layout(snap_compare, size: str) -> None:  # type: ignore[no-untyped-def]
    async def run_before(pilot) -> None:  # type: ignore[no-untyped-def]
        await _wait_for_data(pilot)
        await pilot.press("b")
        await pilot.pause()

    assert snap_compare(
        fixed_app(lock_tree_snapshot()), terminal_size=SIZES[size], run_before=run_before
    )
