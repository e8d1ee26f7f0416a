"""Fitting header lines: whole items give way, numbers are never cut (pure)."""

from __future__ import annotations

from rich.text import Text

from pgtop.ui.widgets.header_parts import Part, fit_parts


def _line(width: int, parts: list[Part]) -> str:
    return fit_parts(parts, width).plain


PARTS = [
    Part(Text("conns")),
    Part(Text("████░░"), keep=6),
    Part(Text("36/47 77%")),
    Part(Text("15 act"), keep=3, group=1),
    Part(Text("2 idle-tx"), keep=2, group=1),
    Part(Text("3 lock"), group=1),
    Part(Text("oldest xact 12m03s"), keep=1, group=2),
]


def test_everything_fits_when_there_is_room() -> None:
    assert _line(80, PARTS) == "conns ████░░ 36/47 77%  15 act 2 idle-tx 3 lock  oldest xact 12m03s"


def test_least_important_items_go_first_and_whole() -> None:
    assert _line(60, PARTS) == "conns 36/47 77%  15 act 2 idle-tx 3 lock  oldest xact 12m03s"
    assert _line(53, PARTS) == "conns 36/47 77%  2 idle-tx 3 lock  oldest xact 12m03s"
    assert _line(52, PARTS) == "conns 36/47 77%  3 lock  oldest xact 12m03s"
    assert _line(30, PARTS) == "conns 36/47 77%  3 lock"
    for width in range(24, 90):
        line = _line(width, PARTS)
        assert "…" not in line and len(line) <= width


def test_only_free_text_is_cut_and_only_when_nothing_else_can_go() -> None:
    parts = [
        Part(Text("● reconnecting")),
        Part(Text("(connection refused by db1.example.com:5432)"), shrink=12),
        Part(Text("stale: data from 12:00:00"), group=1),
        Part(Text("every 2s"), keep=4, group=2),
    ]
    line = _line(60, parts)
    assert line.endswith("  stale: data from 12:00:00") and "every" not in line
    assert "(connection refus…" in line and len(line) == 60


def test_separators_follow_the_items_shown() -> None:
    parts = [Part(Text("a"), keep=1), Part(Text("b"), group=1), Part(Text("c"), 1, 1, 0, " · ")]
    assert _line(20, parts) == "a  b · c"
    assert _line(6, parts) == "a  b"
    assert _line(3, parts) == "b"


def test_the_worst_finding_leads_coloured_by_severity_and_info_shows_nothing() -> None:
    from pgtop.model.findings import Finding
    from pgtop.ui.widgets.header_lines import finding_parts

    def finding(severity: str, kind: str = "idle_in_transaction") -> Finding:
        return Finding(kind, severity, "s.", {"sessions": 3})  # type: ignore[arg-type]

    assert finding_parts(()) == [] and finding_parts((finding("info", "leak"),)) == []
    (part,) = finding_parts((finding("warning"), finding("info", "leak")))
    assert part.text.plain == "▲ 3 idle in transaction" and part.text.style == "bold yellow"
    assert part.keep == 0 and part.shrink  # never dropped, only cut last
    first, more = finding_parts((finding("critical"), finding("warning"), finding("info")))
    assert first.text.style == "bold red" and more.text.plain == "+1 more (5)"
    parts = [first, more, Part(Text("6 of 7 shown"), keep=2, group=3)]
    # "+1 more" gives way first (the tab's badge counts them), then the view's items.
    assert fit_parts(parts, 40).plain == "▲ 3 idle in transaction  6 of 7 shown"
    assert fit_parts(parts, 30).plain == "▲ 3 idle in transaction"
    assert fit_parts(parts, 60).plain == "▲ 3 idle in transaction +1 more (5)  6 of 7 shown"


def test_evidence_reads_as_words_with_ages_and_rates() -> None:
    from pgtop.ui.widgets.findings_pane import evidence_text

    evidence = {"waiting": 3, "longest_wait_s": 75.0, "seconds_until_timeout": 45.0,
                "usual_per_s": 12.5, "percent": 96.4}  # fmt: skip
    assert evidence_text(evidence) == (
        "waiting 3 · longest wait 1m15s · until timeout 45s · usual rate 12.5/s · percent 96 %"
    )
    assert evidence_text(evidence, 2) == "waiting 3 · longest wait 1m15s"
