"""Which fleet columns fit a width, and what a narrow status cell says."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from pgtop.model.fleet_line import FleetLine
from pgtop.ui.widgets.fleet_columns import fit_columns, row_text, status_text

NOW = datetime(2026, 12, 2, 12, 0, tzinfo=UTC)


def line(name: str = "billing-primary", status: str = "live", **kw: object) -> FleetLine:
    figures: dict[str, object] = dict(
        env="prod", colour="red", reason="", since=NOW - timedelta(seconds=185),
        version="18.1", used=90, slots=97, used_pct=92.8, level="warn", active=12,
        idle_in_transaction=3, waiting=1, oldest_xact_s=400.0, tps=1234.5,
        pool_waiting=7, pool_longest_wait_s=12.0,
    )  # fmt: skip
    figures.update(kw)
    return FleetLine(name=name, status=status, **figures)  # type: ignore[arg-type]


LINES = [line(), line("legacy", "refused: bad password", reason="password authentication failed")]


@pytest.mark.parametrize("width", [80, 100, 120, 160, 200])
def test_columns_fill_the_width_and_never_pass_it(width: int) -> None:
    cols = fit_columns(width, LINES)
    assert sum(c.width for c in cols) + len(cols) - 1 <= width
    for fleet_line in LINES:
        assert row_text(cols, fleet_line, NOW).cell_len <= width


def test_80_columns_keep_what_matters_most_and_200_show_everything() -> None:
    narrow = [c.key for c in fit_columns(80, LINES)]
    assert narrow[:3] == ["name", "env", "status"]
    assert {"used", "waiting", "xact", "pool_wait"} <= set(narrow)
    assert "reason" not in narrow and "version" not in narrow
    wide = [c.key for c in fit_columns(200, LINES)]
    assert set(narrow) < set(wide) and {"reason", "version", "slots", "pool_longest"} <= set(wide)


def test_a_narrow_status_says_the_refusal_short_and_since_when() -> None:
    refused = LINES[1]
    assert status_text(refused, NOW, 17).plain == "bad password 3m05s"
    assert status_text(refused, NOW, 30).plain == "refused: bad password 3m05s"
    assert status_text(line(), NOW, 17).plain == "live"  # a live server has no "since"
