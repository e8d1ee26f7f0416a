"""The early screen: the first poll drawn while Textual is still importing.

At start pgtop connects and polls while Textual imports on a thread (modes.py). The poll
is done well before Textual's first frame: ~0.4 s before it on a slow machine, where
Textual's import and start are most of the wait. This module draws that poll as the
app's first frame will show it, without Textual: the header's lines (header_lines.py),
the tab bar (tab_line.py), the sessions table's column header and rows
(session_columns.py, model/view.py) at the same places, and a blank footer. The code
that makes those lines is the app's own, so the early screen cannot drift from it; the
test holds the two side by side at several sizes.

Textual's driver then enters the alternate screen, where this screen already is (so it
is not cleared), and its first frame repaints every line in place: the header's
background, the cursor row, the scrollbar and the keys come; nothing moves.

Until then the alternate screen is the early screen's: alt_screen.py keeps that, and
leaves the terminal as found if the app never takes it over.
"""

from __future__ import annotations

import io
import os
import sys
from typing import TextIO

from rich.color import ColorSystem
from rich.console import Console
from rich.style import Style
from rich.text import Text

from pgtop.model.locks import waiters_behind
from pgtop.model.records import Snapshot
from pgtop.model.view import SessionView, sort_descends, visible_sessions
from pgtop.monitor.state import MonitorState
from pgtop.target import Target
from pgtop.ui import alt_screen
from pgtop.ui.widgets.header_lines import HeaderState, header_lines, view_parts
from pgtop.ui.widgets.lock_leads import blocker_leads
from pgtop.ui.widgets.session_columns import (
    HEADER_STYLE,
    cell_texts,
    column_labels,
    fit_columns,
    row_segments,
)
from pgtop.ui.widgets.tab_line import badge_style, frame_badges, tab_line

# The app's layout (pgtop.tcss, the widgets' DEFAULT_CSS): four header lines with one
# cell of padding each side, the tab bar, the panes, the footer. From WIDE_SIZE up the
# sessions pane shares its height with the databases and pooler panes (40 % below it).
HEADER_LINES = 4
WIDE_SIZE = (160, 40)  # the server screen's class -wide (server_screen.py uses this)
WIDE_EXTRAS = 0.4
SMALLEST = (40, 10)  # below this the app's own screen is of little use: no early one

NO_STYLE = Style()
STANDARD = ColorSystem.STANDARD  # the 8 colours every terminal has; Textual's own follow


def table_height(cols: int, rows: int) -> int:
    """The sessions table's lines (its column header included) at this terminal size."""
    panes = rows - HEADER_LINES - 2  # the tab bar above, the footer below
    if cols >= WIDE_SIZE[0] and rows >= WIDE_SIZE[1]:
        return panes - int(panes * WIDE_EXTRAS)  # Textual rounds the extras down
    return panes


def early_lines(snap: Snapshot, target: Target, cols: int, rows: int) -> list[Text]:
    """The screen's lines, top to bottom, as the app's first frame draws them (unstyled
    where the app's style comes from its theme: the header's background, the cursor)."""
    state = MonitorState(refresh=target.refresh, thresholds=target.findings)
    state.hold_findings()  # as the server screen's feed: its first frame has none yet
    state.take_postgres(snap, "live")
    frame = state.frame
    sessions = frame.snapshot.sessions if frame.snapshot is not None else snap.sessions
    view = SessionView()
    shown = visible_sessions(sessions, view)
    header = HeaderState.for_target(target)
    header.frame = frame
    header.connections, header.tps = state.connections, state.tps
    header.view_parts = view_parts(view, len(shown), len(sessions))
    lines = [Text(" ").append_text(line) for line in header_lines(header, cols - 2)]
    badges = frame_badges(frame)
    styles = {pane: badge_style(colour) for pane, (_, colour) in badges.items()}
    lines.append(tab_line("sessions", {p: t for p, (t, _) in badges.items()}, styles)[0])
    height = table_height(cols, rows)
    width = cols - 1 if len(shown) + 1 > height else cols  # the scrollbar's column
    columns = fit_columns(width)
    labels = column_labels(columns, view.sort, sort_descends(view))
    lines.append(Text(labels.ljust(width)[:width], HEADER_STYLE))
    leads = blocker_leads(waiters_behind(sessions))
    now = snap.server.snapshot_time
    for s in shown[: height - 1]:
        lead = leads.get(s.pid, ())
        texts = cell_texts(s, now, columns, width, "".join(text for text, _ in lead))
        segments = row_segments(s, columns, texts, 0, NO_STYLE, False, lead)
        lines.append(Text.assemble(*((seg.text, seg.style) for seg in segments)))
    return lines


def ansi(lines: list[Text], cols: int) -> str:
    """The lines as terminal output, each placed by its row (nothing scrolls or wraps)."""
    console = Console(file=io.StringIO(), width=cols, color_system="standard", force_terminal=True)
    colour = not os.environ.get("NO_COLOR")  # as Textual: bold and reverse stay
    out = [alt_screen.ENTER]
    for y, line in enumerate(lines, start=1):
        line.truncate(cols, overflow="ellipsis")
        out.append(f"\x1b[{y};1H")
        for seg in line.render(console):
            style = seg.style if seg.style is None or colour else seg.style.without_color
            out.append(seg.text if style is None else style.render(seg.text, color_system=STANDARD))
    return "".join(out)


def show(snap: Snapshot, target: Target, terminal: TextIO | None = None) -> bool:
    """Draw the early screen on `terminal` (Textual's: standard error); False when the
    terminal is too small for it or not a terminal."""
    terminal = terminal or sys.__stderr__
    if terminal is None:
        return False
    try:
        cols, rows = os.get_terminal_size(terminal.fileno())
    except (OSError, ValueError):
        return False
    if cols < SMALLEST[0] or rows < SMALLEST[1]:
        return False
    text = ansi(early_lines(snap, target, cols, rows), cols)
    try:
        terminal.write(text)
        terminal.flush()
    except OSError:
        return False
    alt_screen.early_screen_shown()
    return True
