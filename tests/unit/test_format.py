from rich.cells import cell_len

from pgtop.model.format import age, one_line, plural, truncate, visible


def test_escape_sequences_become_visible_and_harmless() -> None:
    text = "select 1 \x1b[2J\x1b]0;pwned\x07 \x9b31m"
    shown = visible(text)
    assert "\x1b" not in shown and "\x07" not in shown and "\x9b" not in shown
    assert "␛[2J" in shown and "\\x9b" in shown


def test_bidi_override_is_shown_not_obeyed() -> None:
    assert "\u202e" not in visible("abc\u202edef")
    assert "<U+202E>" in visible("abc\u202edef")


def test_one_line_collapses_whitespace_and_cuts_with_ellipsis() -> None:
    assert one_line("select *\n\tfrom   t\r\n where x") == "select * from t where x"
    assert one_line("select * from orders", 10) == "select * …"


def test_truncate_counts_wide_characters_as_two_cells() -> None:
    cut = truncate("数据库数据库数据库", 7)
    assert cell_len(cut) <= 7 and cut.endswith("…")


def test_markup_is_left_as_text() -> None:
    assert one_line("[bold red]x[/]") == "[bold red]x[/]"


def test_age_formats() -> None:
    assert age(None) == ""
    assert age(3.25) == "3.2s"
    assert age(59) == "59s"
    assert age(725) == "12m05s"
    assert age(3 * 3600 + 7 * 60) == "3h07m"
    assert age(2 * 86400 + 4 * 3600) == "2d04h"


def test_one_line_of_a_huge_query_shows_its_head() -> None:
    assert one_line("select " + "x" * 1_000_000, 12) == "select xxxx…"
    assert one_line(" " * 5000 + "select 1", 20) == "select 1"


def test_line_separators_tags_and_arabic_letter_mark_are_shown_not_passed_through() -> None:
    # U+2028/2029 break lines in some terminals; tag characters hide text; U+061C
    # reorders it: each appears as its code point, like the other invisible controls.
    hidden_tag_text = "".join(chr(0xE0000 + ord(c)) for c in "rm -rf")
    shown = one_line(f"a\u2028b\u2029c\u061cd\U000e0001{hidden_tag_text}\U000e007f")
    assert shown.startswith("a<U+2028>b<U+2029>c<U+061C>d<U+E0001><U+E0072><U+E006D>")
    assert shown.endswith("<U+E007F>")
    assert not any(ch in shown for ch in "\u2028\u2029\u061c") and max(map(ord, shown)) < 0x2400


def test_ordinary_text_and_emoji_are_left_alone() -> None:
    text = "select 'naïve 数据 🐘 👩‍💻'"  # the ZWJ in the emoji sequence stays
    assert visible(text) == text


def test_counts_agree_with_their_nouns() -> None:
    assert plural(1, "client") == "1 client"
    assert plural(0, "client") == "0 clients"
    assert plural(2, "server connection") == "2 server connections"
    assert plural(2, "query", "queries") == "2 queries"
