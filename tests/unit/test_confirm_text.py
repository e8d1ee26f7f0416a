"""What a many-session confirmation lists: every target a line, capped, then the summary."""

from __future__ import annotations

from builders import session
from rich.cells import cell_len

from pgtop.ui.confirm_text import describe_many, describe_one


def test_each_target_gets_a_line_with_what_tells_it_apart() -> None:
    targets = [
        session(101, "active", user="alice", database="shop", application="web", query="UPDATE a"),
        session(102, "idle in transaction", user="bob", database="crm", application="cron"),
    ]
    lines = str(describe_many(targets, {101: 3}, width=70)).splitlines()
    first, second = lines[0].split(), lines[1].split()
    assert first[:5] == ["101", "alice", "shop", "web", "active"]
    assert "blocks 3" in lines[0] and "UPDATE a" in lines[0]
    assert second[:5] == ["102", "bob", "crm", "cron", "idle-tx"]
    assert "blocks" not in lines[1]
    assert all(cell_len(line) <= 70 for line in lines[:2])
    summary = "\n".join(lines)
    assert "by user" in summary and "alice 1" in summary and "bob 1" in summary


def test_a_long_list_is_capped_with_how_many_more() -> None:
    targets = [session(1000 + i, "idle") for i in range(30)]
    lines = str(describe_many(targets, limit=8)).splitlines()
    listed = [line for line in lines if line.strip().split(" ")[0].isdigit()]
    assert [int(line.split()[0]) for line in listed] == list(range(1000, 1007))
    assert "… and 23 more" in lines
    assert any("idle 30" in line for line in lines)  # the summary still counts all


def test_one_session_that_blocks_others_says_blocks_n() -> None:
    text = str(describe_one(session(7, "idle in transaction"), blocks=4))
    assert "blocks 4" in text
    assert "blocks" not in str(describe_one(session(7, "idle")))


def test_terminating_a_database_names_its_sessions_in_good_english() -> None:
    from pgtop.ui.acting import Acting

    one = Acting._title("terminate", [session(10)], False, "shop")
    many = Acting._title("terminate", [session(10), session(11)], False, "shop")
    assert one == "Terminate the only client session of database shop?"
    assert many == "Terminate all 2 client sessions of database shop?"
