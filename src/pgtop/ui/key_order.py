"""The order pgtop's own keys are listed in (footer, help, palette), wherever they are bound.

Textual lists the bindings of the focused widget first, then of each container up to the
screen and the app. pgtop's keys now sit on the node that owns them (sessions pane, server
screen, app), which would reorder the footer by where a key lives; users read it by
importance, as it always was. Bindings that are not pgtop's (a table's own keys) keep
Textual's order, before these.
"""

from __future__ import annotations

from collections.abc import Sequence

from textual.binding import ActiveBinding, Binding, BindingsMap
from textual.dom import DOMNode

KEY_ORDER = (
    "quit",
    "help",
    "open-server",
    "back",
    "next-server",
    "previous-server",
    "filter",
    "inspect",
    "finding-jump",
    "clear",
    "mark",
    "mark-shown",
    "sort",
    "sort-back",
    "reverse",
    "sort-xact",
    "sort-age",
    "sort-db",
    "sort-default",
    "idle",
    "waiting",
    "tree",
    "root-blocker",
    "system",
    "host",
    "pane-sessions",
    "pane-databases",
    "pane-limits",
    "pane-pooler",
    "pane-findings",
    "next-pane",
    "previous-pane",
    "pause",
    "slower",
    "faster",
    "refresh-now",
    "profiles",
    "cancel",
    "terminate",
    "terminate-db",
    "pooler-pause",
    "pooler-resume",
    "pooler-disable",
    "pooler-enable",
    "pooler-reconnect",
    "pooler-kill",
    "pooler-kill-client",
    "read-only",
    "replay-next",
    "replay-back",
    "replay-faster",
    "replay-slower",
    "replay-jump",
    "replay-first",
    "replay-last",
)
_RANK = {key_id: i for i, key_id in enumerate(KEY_ORDER)}


def in_key_order(bindings: dict[str, ActiveBinding]) -> dict[str, ActiveBinding]:
    """`bindings` with pgtop's keys in KEY_ORDER after everything else (a stable sort)."""

    def rank(item: tuple[str, ActiveBinding]) -> tuple[int, int]:
        key_id = item[1].binding.id
        return (1, _RANK[key_id]) if key_id in _RANK else (0, 0)

    return dict(sorted(bindings.items(), key=rank))


def add_bindings(node: DOMNode, bindings: Sequence[Binding]) -> None:
    """Bind keys on this one node (its class's BINDINGS hold what every instance has):
    keys that exist only when the server or the feed offers what they do."""
    node._bindings = BindingsMap.merge([node._bindings, BindingsMap(bindings)])
