"""collect/postgres.py builds a Session from a sessions.sql row by position: the query
must select its columns in Session's field order (then live_pids, running_hash)."""

import re

from pgtop.collect.postgres import load_query
from pgtop.model.records import Session

# pg_stat_activity's names for Session's fields, where they differ.
RENAMED = {"datname": "database", "usename": "user", "application_name": "application"}


def _selected_columns(sql: str) -> list[str]:
    first_select = sql[sql.index("SELECT") + len("SELECT") : sql.index("  FROM pg_stat_activity")]
    body = "\n".join(line.split("--")[0] for line in first_select.splitlines())
    columns, depth, current = [], 0, ""
    for ch in body:  # split on top-level commas only
        depth += (ch == "(") - (ch == ")")
        if ch == "," and depth == 0:
            columns.append(current)
            current = ""
        else:
            current += ch
    columns.append(current)
    names = []
    for col in columns:
        alias = re.search(r"\bAS (\w+)\s*$", col.strip())
        name = alias.group(1) if alias else col.strip().split(".")[-1]
        names.append(RENAMED.get(name, name))
    return names


def test_sessions_query_selects_session_fields_in_order() -> None:
    fields = [name for name in Session._fields if name != "pooler"]
    assert _selected_columns(load_query("sessions")) == [*fields, "live_pids", "running_hash"]
