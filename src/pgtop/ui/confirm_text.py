"""What a cancel/terminate confirmation says about its targets.

One session: every field that tells it apart. Many: one line per session (capped), so
the user sees what `y` will hit, then a summary by user, database and state.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping

from rich.text import Text

from pgtop.model.format import one_line
from pgtop.model.records import Session
from pgtop.ui.widgets.env_label import env_label
from pgtop.ui.widgets.session_columns import state_label

QUERY_HEAD = 120
# pid, user, database, application, state: the columns before the query head.
_LINE_COLUMNS = ((7, True), (10, False), (10, False), (12, False), (8, False))


def server_words(name: str | None, env: str | None) -> str:
    """ "db1 (prod)", "db1", "prod": the server an act goes to, as the user named it."""
    name, env = one_line(name or "", 32), one_line(env or "", 16)
    if name and env:
        return f"{name} ({env})"
    return name or env


def server_line(name: str | None, env: str | None, colour: str | None) -> Text:
    """The body's first line: the server and its environment in its colour ("" when the
    target has neither, as a bare host does)."""
    t = Text()
    if not (name or env):
        return t
    t.append("server      ", "bold")
    t.append(one_line(name or "?", 32), "bold")
    if env:
        t.append("  ")
        t.append_text(env_label(env, colour))
    t.append("\n\n")
    return t


def describe_one(s: Session, blocks: int = 0) -> Text:
    t = Text()
    for label, value in (
        ("pid", str(s.pid)),
        ("user", s.user or "?"),
        ("database", s.database or "?"),
        ("application", s.application or "(none)"),
        ("client", s.client or "local"),
        ("state", s.state or "?"),
        ("query", one_line(s.query, QUERY_HEAD) or "(none)"),
    ):
        if label == "query" and blocks:  # above the query, which may wrap off the dialog
            t.append(blocks_text(blocks), "bold red")
            t.append(" (sessions waiting behind it)\n")
        t.append(f"{label:<12}", "bold")
        t.append(one_line(value) + "\n")
    return t


def blocks_text(n: int) -> str:
    return f"blocks {n}"


def target_line(s: Session, width: int, blocks: int = 0) -> Text:
    """pid, user, database, application, state and the query head in `width` cells."""
    cells = (str(s.pid), s.user or "?", s.database or "?", s.application or "", state_label(s))
    parts = []
    for text, (w, right) in zip(cells, _LINE_COLUMNS, strict=True):
        shown = one_line(text, w)
        parts.append(shown.rjust(w) if right else shown.ljust(w))
    t = Text(" ".join(parts) + " ")
    if blocks:
        t.append(blocks_text(blocks) + " ", "bold red")
    room = width - t.cell_len
    if room >= 6:  # else the query head would be a stub: the other columns matter more
        t.append(one_line(s.query, room) or "(no query)", "dim")
    t.rstrip()
    t.truncate(width)
    return t


def describe_many(
    sessions: list[Session],
    blocks: Mapping[int, int] | None = None,
    *,
    limit: int = 8,
    width: int = 76,
) -> Text:
    """At most `limit` sessions a line ("… and N more"), then counts by user, db, state."""
    blocks = blocks or {}
    t = Text(no_wrap=True, overflow="ellipsis")  # one line each, as laid out for `width`
    shown = sessions if len(sessions) <= limit else sessions[: max(1, limit - 1)]
    for s in shown:
        t.append_text(target_line(s, width, blocks.get(s.pid, 0)))
        t.append("\n")
    if len(shown) < len(sessions):
        t.append(f"… and {len(sessions) - len(shown)} more\n", "bold")
    t.append("\n")
    for label, key in (("user", "user"), ("database", "database"), ("state", "state")):
        counts = Counter(getattr(s, key) or "?" for s in sessions)
        summary = ", ".join(f"{one_line(str(k), 24)} {n}" for k, n in counts.most_common(5))
        more = len(counts) - 5
        t.append(f"by {label:<10}", "bold")
        t.append(summary + (f", +{more} more" if more > 0 else "") + "\n")
    return t
