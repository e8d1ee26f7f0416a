from pgtop.ui.filter_prompt import FilterPrompt


def test_prompt_edits_and_closes() -> None:
    p = FilterPrompt()
    assert p.key("a", "a", True) is None  # closed: not the prompt's key
    p.start("db:")
    assert p.key("s", "s", True) == "changed" and p.text == "db:s"
    assert p.key("backspace", None, False) == "changed" and p.text == "db:"
    assert p.key("down", None, False) is None  # the cursor still moves while typing
    assert p.key("enter", None, False) == "closed" and not p.open and p.text == "db:"


def test_escape_clears_and_paste_is_one_line() -> None:
    p = FilterPrompt()
    p.start("")
    assert p.paste("user:app\nstate:idle-tx") == "changed"
    assert p.text == "user:app state:idle-tx"
    assert p.key("ctrl+w", None, False) == "changed" and p.text == "user:app"
    assert p.key("escape", None, False) == "cleared" and p.text == "" and not p.open
