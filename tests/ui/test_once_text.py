"""`--once --format text`: the plain summary reads as English (counts agree with nouns)."""

from __future__ import annotations

from sample import sample_snapshot

from pgtop.model.derive import Rates
from pgtop.once import render_text
from support.records import replace

NO_RATES = Rates(interval=1.0, transactions=None, commits=None, rollbacks=None)


def test_pooler_line_counts_agree_with_their_nouns() -> None:
    snap = sample_snapshot()
    assert snap.pooler is not None
    one = replace(snap, pooler=replace(snap.pooler, clients=1, servers=1))
    assert ": 1 client, 1 server" in render_text(one, NO_RATES)
    assert ": 11 clients, 4 servers" in render_text(snap, NO_RATES)
