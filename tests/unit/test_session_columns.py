"""What the sessions table's cells say and which columns a width gets (pure)."""

from __future__ import annotations

from builders import NOW, ago, session
from rich.cells import cell_len

from pgtop.ui.widgets.session_columns import cell_texts, cut_address, fit_columns


def _labels(width: int, host: bool = False) -> list[str]:
    return [c.label for c in fit_columns(width, host)]


def _cells(s, width: int) -> dict[str, str]:  # type: ignore[no-untyped-def]
    columns = fit_columns(width)
    return dict(zip((c.key for c in columns), cell_texts(s, NOW, columns, width), strict=True))


LOCK_WAITER = session(
    7,
    "active",
    xact_start=ago(540),
    query_start=ago(540),
    wait_event_type="Lock",
    wait_event="transactionid",
    blocked_by=(3,),
)


def test_a_lock_waiter_reads_waiting_and_shows_its_wait_at_80_columns() -> None:
    cells = _cells(LOCK_WAITER, 79)  # 80 columns less the scrollbar
    assert cells["state"] == "waiting"
    assert cells["wait"] == "Lock:xid"
    assert _cells(session(8, "active"), 79)["state"] == "active"


def test_80_columns_show_state_age_wait_and_who_before_anything_else() -> None:
    assert _labels(79) == ["PID", "XACT", "AGE", "STATE", "WAIT", "USER", "QUERY"]
    # Asking for host figures must not push out who the session is (it did: USER went).
    with_host = _labels(79, host=True)
    assert {"STATE", "AGE", "WAIT", "USER", "CPU%"} <= set(with_host)


def test_a_column_is_never_shown_while_a_more_important_one_is_not() -> None:
    order = ["PID", "STATE", "AGE", "WAIT", "USER", "XACT", "DATABASE", "BLOCKED BY", "APP"]
    for width in range(60, 220):
        shown = set(_labels(width))
        kept = [label in shown for label in order]
        assert kept == sorted(kept, reverse=True), (width, shown)


def test_the_query_keeps_room_at_every_width() -> None:
    for width in (60, 79, 99, 119, 159, 199):
        for host in (False, True):
            fixed = sum(c.width + 1 for c in fit_columns(width, host) if c.width)
            assert width - fixed >= 24, (width, host)


def test_the_client_column_is_wide_enough_for_a_pooled_ipv4_client_when_there_is_room() -> None:
    client = next(c for c in fit_columns(199) if c.key == "client")
    assert client.width >= cell_len("⇄ 255.255.255.255:65535")


def test_a_cut_address_keeps_its_port_and_a_whole_last_part_of_the_host() -> None:
    assert cut_address("⇄ 127.0.0.1:58670", 23) == "⇄ 127.0.0.1:58670"
    assert cut_address("⇄ 127.0.0.1:58670", 16) == "⇄127.0.0.1:58670"
    # Never "⇄…7.0.0.1:58670", which reads as the address 7.0.0.1.
    assert cut_address("⇄ 127.0.0.1:58670", 15) == "⇄…0.0.1:58670"
    assert cut_address("192.168.100.200:54321", 15) == "…100.200:54321"
    assert cut_address("2001:db8::8a2e:370:7334:5432", 15) == "…370:7334:5432"
    assert cut_address("local", 15) == "local"
    assert cut_address("⇄ 127.0.0.1:\x1b[2J", 12).count("\x1b") == 0


def test_background_processes_are_named_whole_not_cut_silently() -> None:
    launcher = session(9, None, backend_type="autovacuum launcher", query="", database=None)
    cells = _cells(launcher, 79)
    assert cells["state"] == "autovac…"  # cut with an ellipsis, not "autovacu"
    assert cells["query"] == "autovacuum launcher"
    walwriter = _cells(session(10, None, backend_type="walwriter", query=""), 79)
    assert walwriter["state"] == "walwrit…" and walwriter["query"] == "walwriter"


def test_only_columns_marked_ticking_move_with_the_clock() -> None:
    """The table keeps the other cells of an unchanged session between redraws and works
    out only the ticking ones again: a column that moves with the clock must say so, or
    its cell would freeze on screen."""
    from datetime import timedelta

    from pgtop.ui.widgets.session_columns import COLUMNS

    s = session(9, "idle in transaction", xact_start=ago(50), backend_start=ago(4000))
    later = NOW + timedelta(seconds=125)
    for width in (80, 200, 400):
        columns = fit_columns(width)
        before = cell_texts(s, NOW, columns, width)
        after = cell_texts(s, later, columns, width)
        moved = {c.key for c, a, b in zip(columns, before, after, strict=True) if a != b}
        assert moved == {c.key for c in columns if c.ticks}
    assert {c.key for c in COLUMNS if c.ticks} == {"xact_age", "age", "backend_age"}
