"""The tab bar's one line: the panes with their number keys and badges. Textual-free, so
the early screen (early_screen.py) draws the same line as the tab bar (pane_tabs.py)."""

from __future__ import annotations

from collections.abc import Mapping

from rich.text import Text

from pgtop.monitor.frame import Frame

PANES: tuple[tuple[str, str], ...] = (
    ("sessions", "Sessions"),
    ("databases", "Databases"),
    ("limits", "Limits"),
    ("pooler", "Pooler"),
    ("findings", "Findings"),
)
BADGE_STYLE = "bold red"


def badge_style(colour: str = "") -> str:
    """A badge's style: bold, in `colour` or red."""
    return f"bold {colour}" if colour else BADGE_STYLE


def tab_line(
    current: str, badges: Mapping[str, str], badge_styles: Mapping[str, str]
) -> tuple[Text, list[tuple[int, int, str]]]:
    """The line, and each tab's (start, end, pane) for clicks. `badges`: pane -> short
    alert (e.g. "3w"), drawn in its `badge_styles` style (red when it has none)."""
    t = Text(no_wrap=True, overflow="ellipsis")
    spans = []
    for number, (key, label) in enumerate(PANES, start=1):
        start = len(t)
        t.append(f" {number} {label} ", "bold reverse" if key == current else "")
        badge = badges.get(key)
        if badge:
            style = badge_styles.get(key, BADGE_STYLE)
            t.append(f"{badge} ", style if key != current else f"{style} reverse")
        spans.append((start, len(t), key))
    return t, spans


def frame_badges(frame: Frame) -> dict[str, tuple[str, str]]:
    """The badges a frame gives, pane -> (text, colour; "" for red): the pooler's clients
    waiting ("!" when it failed), how many findings warn or alarm (yellow when none is
    critical; info ones are not counted)."""
    snap = frame.snapshot
    if snap is None:
        return {}
    waiting = sum(p.cl_waiting for p in snap.pooler.pools) if snap.pooler else 0
    alarms = [f for f in frame.findings if f.severity != "info"]
    critical = any(f.severity == "critical" for f in alarms)
    return {
        "pooler": ("!" if snap.pooler_error else f"{waiting}w" if waiting else "", ""),
        "findings": (str(len(alarms)) if alarms else "", "" if critical else "yellow"),
    }
