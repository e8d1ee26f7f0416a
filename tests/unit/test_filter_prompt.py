from pgtop.ui.filter_prompt import FilterPrompt


def test_prompt_edits_and_closes() -> None:
    p = FilterPrompt()
    assert p.key("a", "a", True) is None  # closed: not the prompt's key
    p.start("")
    p.paste("db:")
    assert p.key("s", "s", True) == "changed" and p.text == "db:s"
    assert p.key("backspace", None, False) == "changed" and p.text == "db:"
    assert p.key("down", None, False) is None  # the cursor still moves while typing
    assert p.key("enter", None, False) == "closed" and not p.open and p.text == "db:"


def test_escape_clears_and_paste_is_one_line() -> None:
    p = FilterPrompt()
    p.start("")
    assert p.paste("user:app\nstate:idle-tx") == "changed"
    assert p.text == "user:app state:idle-tx"
    assert p.key("ctrl+w", None, False) == "changed" and p.text == "user:app "
    assert p.key("escape", None, False) == "cleared" and p.text == "" and not p.open


def test_reopened_prompt_starts_a_new_term() -> None:
    """Issue 15 #8: reopening on `dur>1s` and typing `-user:x` gave `dur>1s-user:x`."""
    p = FilterPrompt()
    p.start("")
    assert p.text == ""
    p.start("dur>1s")
    assert p.text == "dur>1s "
    for ch in "-user:monitor":
        p.key(ch, ch, True)
    assert p.text == "dur>1s -user:monitor"


def test_enter_refuses_an_invalid_filter_and_says_so() -> None:
    p = FilterPrompt()
    p.start("")
    p.error = "unknown filter field 'x'"  # set by the app after each change
    assert p.key("enter", None, False) == "refused"
    assert p.open and p.error == "not applied: unknown filter field 'x'"
    assert p.key("enter", None, False) == "refused"
    assert p.error == "not applied: unknown filter field 'x'"  # said once
    p.error = ""
    assert p.key("enter", None, False) == "closed" and not p.open


def test_ctrl_w_keeps_the_space_before_the_word() -> None:
    p = FilterPrompt()
    p.start("db:shop user:app")
    assert p.key("ctrl+w", None, False) == "changed" and p.text == "db:shop "
    assert p.key("ctrl+w", None, False) == "changed" and p.text == ""
