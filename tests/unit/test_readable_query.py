"""The inspect screen's query formatting: indentation only, never other text."""

from __future__ import annotations

import pytest

from pgtop.ui.screens.inspect import readable_query

QUERIES = [
    # Issue 15 #12: `GROUP BY day` was shown as `GROUP BY DAY`.
    "SELECT day, sum(total) FROM daily_rollup GROUP BY day ORDER BY day",
    # Identifiers that are keywords somewhere, in any case, and quoted ones.
    'select user, name, type, Day, "Day", "select" from t where type = 1 and name <> \'\'',
    'UPDATE "User" SET "name" = $1, Value = value + 1 WHERE id = ANY($2::int[])',
    # Literals and comments keep their case and inner spacing.
    "select 'GROUP  BY day', E'a\\tb', $$ x   Y $$ from users -- By Day  here\nwhere x = 1",
    "/* Nightly  Report */ WITH scan AS (select pg_sleep(1)) select * from scan",
    "insert into t(day,user) values (1,'x'); update t set name='N' where day>1",
]


def squeezed(text: str) -> str:
    return "".join(text.split())


@pytest.mark.parametrize("query", QUERIES)
def test_formatting_changes_only_whitespace(query: str) -> None:
    shown = readable_query(query)
    assert squeezed(shown) == squeezed(query)


def test_formatting_does_indent() -> None:
    shown = readable_query(QUERIES[0])
    assert shown.splitlines() == [
        "SELECT day,",
        "       sum(total)",
        "FROM daily_rollup",
        "GROUP BY day",
        "ORDER BY day",
    ]


def test_literals_keep_their_inner_spacing() -> None:
    shown = readable_query(QUERIES[3])
    assert "'GROUP  BY day'" in shown and "$$ x   Y $$" in shown and "-- By Day  here" in shown
