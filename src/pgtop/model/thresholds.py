"""`Thresholds`: when a finding is raised (model/findings), as defaults or a profile's
`[findings]` table (profiles/schema.py checks it).

Apart from the findings themselves so that what only carries thresholds (a `Target`, the
command line) starts without importing the findings' machinery (start-up time).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import NamedTuple


class Thresholds(NamedTuple):
    """When a finding is raised. Seconds (`_s`), counts, percentages, transactions."""

    # pooler queue: a client waiting this long; critical past queue_critical_s, or when
    # query_wait_timeout drops the oldest within queue_timeout_left_s
    queue_wait_s: float = 1.0
    queue_critical_s: float = 10.0
    queue_timeout_left_s: float = 30.0
    slow_query_s: float = 1.0  # an active query this old counts as slow in a held pool
    # ordinary slots in use, percent
    server_warning_pct: float = 80.0
    server_critical_pct: float = 95.0
    growth_minutes: float = 5.0  # growth is told over this many minutes (with history)
    # a role's or database's CONNECTION LIMIT: close from this percent (limits >= 5)
    limit_warning_pct: float = 80.0
    # storm: at least storm_min_new backends younger than storm_window_s, and (with
    # history) storm_factor times the usual rate
    storm_window_s: float = 10.0
    storm_min_new: int = 50
    storm_factor: float = 5.0
    # idle in transaction: past idle_in_transaction_s; critical past the second, or blocking
    idle_in_transaction_s: float = 60.0
    idle_in_transaction_critical_s: float = 600.0
    # old snapshot: an xmin held this long and this many transactions old
    old_snapshot_s: float = 600.0
    old_snapshot_xids: int = 10_000
    old_snapshot_critical_xids: int = 10_000_000
    # lock pile-up: a waiter waiting this long; critical with this many behind a root
    lock_wait_s: float = 5.0
    lock_pileup_critical: int = 10
    # leak: this many sessions of one application idle past leak_idle_s
    leak_sessions: int = 20
    leak_idle_s: float = 900.0


DEFAULT_THRESHOLDS = Thresholds()
THRESHOLD_NAMES = Thresholds._fields


def thresholds_from(values: Mapping[str, object]) -> Thresholds:
    """Thresholds with `values` over the defaults; ValueError (one line) for a bad key or
    value. Counts take integers; the rest any non-negative number."""
    changes: dict[str, float | int] = {}
    for key, value in values.items():
        if key not in Thresholds._field_defaults:
            raise ValueError(f"unknown findings threshold {key!r}")
        if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
            raise ValueError(f"findings threshold {key!r} must be a non-negative number")
        if isinstance(Thresholds._field_defaults[key], int):  # a count
            if value != int(value):
                raise ValueError(f"findings threshold {key!r} must be a whole number")
            value = int(value)
        changes[key] = value
    return DEFAULT_THRESHOLDS._replace(**changes)
