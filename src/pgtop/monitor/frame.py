"""A `Frame`: what one server's screen shows at one moment, frozen.

Its MonitorState builds one at each change (monitor/state.py, its only maker); the
screen publishes it once to whatever draws it (the header, via a Textual signal).
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, NamedTuple

from pgtop.model.derive import Rates
from pgtop.model.records import Snapshot

if TYPE_CHECKING:  # imported at the first derivation (MonitorState.hold_findings)
    from pgtop.model.findings import Finding


class Frame(NamedTuple):
    snapshot: Snapshot | None = None  # PostgreSQL's, with the pooler's data joined
    rates: Rates | None = None
    status: str = "connecting"  # live, paused, reconnecting, or a replay position
    reason: str = ""  # why not live
    last_good: datetime | None = None  # what the data is as of, by the server
    refresh: float = 2.0  # seconds between polls (a recording's median interval)
    # What the snapshot means, worst first (model/findings); () before the first data.
    findings: tuple[Finding, ...] = ()
