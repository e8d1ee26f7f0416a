"""SVG snapshots of every pane and the confirmation, from fixed data, at 80x24 and 160x48.

The app is fed a hand-built snapshot instead of polling, so the pictures are stable;
`pytest --snapshot-update` rewrites them after an intended change of look.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator

import pytest
from sample import fixed_app

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
        if pilot.app.pg_snapshot is not None:
            break
        await pilot.pause(0.05)
    await pilot.pause()


@pytest.mark.parametrize("size", SIZES)
@pytest.mark.parametrize(
    "keys",
    [(), ("2",), ("3",), ("4",), ("k",)],
    ids=["sessions", "databases", "limits", "pooler", "confirm"],
)
def test_layout(snap_compare, size: str, keys: tuple[str, ...]) -> None:  # type: ignore[no-untyped-def]
    async def run_before(pilot) -> None:  # type: ignore[no-untyped-def]
        await _wait_for_data(pilot)
        for key in keys:
            await pilot.press(key)
        await pilot.pause()

    assert snap_compare(fixed_app(), terminal_size=SIZES[size], run_before=run_before)
