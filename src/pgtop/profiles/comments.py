"""Keeping comments where a reader expects them when pgtop updates or removes a table.

TOML gives the comments and blank lines between two tables to the first one, so tomlkit
files a comment written above ``[profiles.b]`` under the table before it.
"""

from __future__ import annotations

import secrets
from collections.abc import MutableMapping
from typing import Any

import tomlkit
from tomlkit.exceptions import TOMLKitError
from tomlkit.items import Item, Table, Whitespace
from tomlkit.toml_document import TOMLDocument


def pop_trailing_trivia(table: Table) -> list[Item]:
    """Cut off the comments and blank lines after the table's last key, to add them back
    after new keys (so new keys go above the comments that precede the next table)."""
    # Unkeyed items are not in tomlkit's key index, so cutting them off the end is safe.
    body = table.value.body
    start = _trailing_trivia_start(table)
    trailing = [item for _, item in body[start:]]
    del body[start:]
    return trailing


def dumps_without(
    doc: TOMLDocument, section_key: str, section: MutableMapping[str, Any], name: str
) -> str | None:
    """The document without ``section[name]`` but with the comments that follow it.

    ``section`` is ``doc[section_key]``. The comments separated from the table's last key by
    a blank line describe what follows, so they stay. `None` if the cut does not check out.
    """
    table = section[name]
    kept = _following_comments(table) if isinstance(table, Table) else ""
    if not kept:
        del section[name]
        return tomlkit.dumps(doc)
    # tomlkit cannot move trivia between tables, so mark where the table's text starts
    # and ends, cut it out as text and put the kept comments back in its place.
    token = secrets.token_hex(8)
    start_mark, end_mark = f"@pgtop-start-{token}@", f"pgtop-end-{token}"
    table.trivia.indent = start_mark + table.trivia.indent
    table.add(tomlkit.comment(end_mark))
    text = tomlkit.dumps(doc)
    start = text.find(start_mark)
    end_at = text.find(end_mark)
    if start < 0 or end_at < start:
        return None
    line_start = text.rfind("\n", 0, end_at) + 1
    line_end = text.find("\n", end_at) + 1 or len(text)
    if text[line_start - len(kept) : line_start] != kept:
        return None
    if start == 0:
        kept = kept.lstrip("\n")  # no blank line at the top of the file
    result = text[:start] + kept + text[line_end:]
    # Check the cut: it must parse, and lose exactly this profile.
    try:
        check = tomlkit.parse(result).get(section_key) or {}
    except TOMLKitError:
        return None
    expected = [key for key in section if key != name]
    return result if list(check) == expected else None


def _trailing_trivia_start(table: Table) -> int:
    """Index in the table's body of the comments and blank lines after its last key."""
    body = table.value.body
    start = len(body)
    while start > 0 and body[start - 1][0] is None:
        start -= 1
    return start


def _following_comments(table: Table) -> str:
    trailing = [item for _, item in table.value.body[_trailing_trivia_start(table) :]]
    for index, item in enumerate(trailing):
        if isinstance(item, Whitespace) and "\n" in item.as_string():
            return "".join(part.as_string() for part in trailing[index:])
    return ""
