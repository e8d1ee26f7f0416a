"""PgBouncer commands without a PgBouncer: quoting for the admin console, versions, the
one-line summary, and the state the commands leave on a database (pure)."""

from __future__ import annotations

import pytest
from builders import pool, pooler

from pgtop.collect.pooler_commands import (
    BadConsoleName,
    CommandResult,
    command_text,
    console_word,
    kills_one_client,
    summary,
    version_tuple,
)
from pgtop.model.pooler_state import database_reach, database_states
from pgtop.model.pooler_sum import sum_poolers
from pgtop.ui.widgets.header_parts import pooler_states_part
from support.records import replace


def test_names_are_one_double_quoted_word_with_quotes_doubled() -> None:
    assert console_word("shop") == '"shop"'
    assert console_word('a"b') == '"a""b"'
    assert console_word("Shop Main; RESUME") == '"Shop Main; RESUME"'
    assert command_text("PAUSE", "shop") == 'PAUSE "shop"'
    assert command_text("KILL_CLIENT", 17) == "KILL_CLIENT 17"


@pytest.mark.parametrize("name", ["", "a\nb", "tab\there", "nul\x00", "x" * 62, "é" * 31])
def test_names_the_console_cannot_take_are_refused(name: str) -> None:
    with pytest.raises(BadConsoleName):
        console_word(name)


def test_the_longest_name_that_fits_the_consoles_buffer() -> None:
    assert len(console_word("x" * 61)) == 63  # + NUL = admin.c's 64 bytes


def test_kill_client_needs_a_number() -> None:
    with pytest.raises(BadConsoleName):
        command_text("KILL_CLIENT", "1; KILL shop")


def test_versions() -> None:
    assert version_tuple("1.18.0") == (1, 18, 0)
    assert version_tuple("PgBouncer 1.24.1") == (1, 24, 1)
    assert version_tuple("unknown") == ()
    assert not kills_one_client("1.18.0") and not kills_one_client("1.23.1")
    assert kills_one_client("1.24.0") and kills_one_client("1.25.1")
    assert not kills_one_client("unknown")


def _result(process: str, outcome: str, detail: str = "") -> CommandResult:
    return CommandResult(process, "PAUSE", "shop", outcome, detail)  # type: ignore[arg-type]


def test_summary_of_one_process_and_of_several() -> None:
    assert summary([_result("h:1", "done")]) == ("PAUSE shop: done", True)
    text, ok = summary([_result("h:1", "refused", "admin access needed")])
    assert text == "PAUSE shop: refused — admin access needed" and not ok
    both = [_result("h:1", "done"), _result("h:2", "done")]
    assert summary(both) == ("PAUSE shop: 2 of 2 PgBouncer processes took it", True)
    half = [_result("h:1", "done"), _result("h:2", "not sent", "connection refused")]
    text, ok = summary(half)
    assert text.startswith("PAUSE shop: 1 of 2 PgBouncer processes took it — h:2 not sent")
    assert not ok


def test_paused_and_disabled_databases_and_the_header_part() -> None:
    snap = pooler((pool("shop", active=2, waiting=1, idle=1), pool("app")))
    assert database_states(snap) == {}
    assert pooler_states_part({}, group=3) is None
    dbs = (
        replace(snap.databases[0], paused=True),
        replace(snap.databases[1], paused=True, disabled=True),
    )
    held = replace(snap, databases=dbs)
    assert database_states(held) == {"shop": "PAUSED", "app": "PAUSED DISABLED"}
    part = pooler_states_part(database_states(held), group=3)
    assert part is not None and part.keep == 0  # never dropped from the header
    assert part.text.plain == "pooler: shop PAUSED, app PAUSED DISABLED"
    reach = database_reach(held, "shop")
    assert (reach.clients, reach.servers, reach.waiting) == (3, 3, 1)


def test_a_pause_on_any_one_process_shows_on_the_sum() -> None:
    one = pooler((pool("shop"),))
    paused = replace(one, databases=(replace(one.databases[0], paused=True),))
    assert database_states(sum_poolers([one, paused])) == {"shop": "PAUSED"}
    assert database_states(sum_poolers([one, one])) == {}
