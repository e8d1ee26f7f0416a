"""Snapshots as compact, JSON-native dicts, and the deltas between two of them.

This is the frame format of `pgtop --record` (collect/record.py writes the file,
collect/replay.py reads it). Pure: no I/O. `to_compact` and `from_compact` round-trip
exactly (datetimes as ISO strings); `apply(prev, delta(prev, new))` rebuilds `new`,
session order included.

A compact dict keeps the snapshot time under "t" and everything else under a few
top-level keys, so a delta can repeat only the keys whose value changed. Sessions are
keyed by pid (a string: JSON object keys are strings); records are positional lists in
field order (`layout()` names the positions, for the file header); a
session "changes" only when one of its fields does. Ages are derived from timestamps, so
an idle session is written once, not on every frame.
"""

from __future__ import annotations

import dataclasses
import functools
import re
from datetime import datetime
from typing import Any

from pgtop.model import records
from pgtop.model.records import ServerInfo, Session, Snapshot

Compact = dict[str, Any]
# Keys a delta treats specially; every other key is repeated only when its value changed.
_DELTA_KEYS = ("t", "delta", "sessions", "gone", "order", "at")
# Not recorded: the pid is the session's key, snapshot_time the frame's "t", and
# Session.pooler is derived (model/pooler_join) again from the recorded pooler lists.
_SKIP: dict[type, frozenset[str]] = {
    Session: frozenset({"pid", "pooler"}),
    ServerInfo: frozenset({"snapshot_time"}),
}
_RECORDS = {
    name: obj
    for name, obj in vars(records).items()
    if isinstance(obj, type) and dataclasses.is_dataclass(obj)
}
_OF = re.compile(r"^tuple\[(\w+), \.\.\.\]$")


def _json_safe(value: object) -> object:
    # Pool.extra holds whatever SHOW POOLS added; it does not take part in equality.
    return value if value is None or isinstance(value, str | int | float | bool) else str(value)


# A field's kind, from its annotation (a string: records.py uses postponed annotations):
# "t" datetime, "l" tuple of plain values, "d" dict, "r:Name" a record, "rs:Name" a tuple
# of records, "" anything JSON holds as is.
def _kind(annotation: object) -> str:
    text = str(annotation).replace(" | None", "").strip()
    if text == "datetime":
        return "t"
    if text.startswith("dict"):
        return "d"
    m = _OF.match(text)
    if m and m.group(1) in _RECORDS:
        return "rs:" + m.group(1)
    if text.startswith("tuple"):
        return "l"
    return "r:" + text if text in _RECORDS else ""


@functools.cache
def _spec(cls: type) -> tuple[tuple[str, str], ...]:
    """(field, kind) in declaration order: the positions of a record's compact list."""
    skip = _SKIP.get(cls, frozenset())
    hints = {f.name: f.type for f in dataclasses.fields(cls)}
    return tuple((name, _kind(hint)) for name, hint in hints.items() if name not in skip)


def layout() -> dict[str, list[str]]:
    """Field names per record, for a file's header: readers map positions back by name."""
    return {name: [f for f, _ in _spec(cls)] for name, cls in _RECORDS.items()}


def _enc(value: Any, kind: str) -> Any:
    if value is None or not kind:
        return value
    if kind == "t":
        return value.isoformat()
    if kind == "l":
        return list(value)
    if kind == "d":
        return {str(k): _json_safe(v) for k, v in value.items()}
    if kind.startswith("rs:"):
        return [encode_record(x) for x in value]
    return encode_record(value)


def encode_record(obj: Any) -> list[Any]:
    return [_enc(getattr(obj, name), kind) for name, kind in _spec(type(obj))]


def _dec(value: Any, kind: str) -> Any:
    if value is None or not kind:
        return value
    if kind == "t":
        return datetime.fromisoformat(value)
    if kind == "l":
        return tuple(value)
    if kind == "d":
        return dict(value)
    if kind.startswith("rs:"):
        cls = _RECORDS[kind[3:]]
        return tuple(decode_record(cls, x) for x in value)
    return decode_record(_RECORDS[kind[2:]], value)


def decode_record(
    cls: type, row: list[Any], names: dict[str, list[str]] | None = None, **extra: Any
) -> Any:
    """`cls` from its compact list; `names` is the writer's layout() when it differs from
    ours (an older or newer pgtop): fields are matched by name, missing ones defaulted."""
    spec = _spec(cls)
    recorded = names.get(cls.__name__) if names else None
    if recorded is None or (
        len(recorded) == len(spec) and all(a == b for a, (b, _) in zip(recorded, spec, strict=True))
    ):
        kwargs = {name: _dec(v, kind) for (name, kind), v in zip(spec, row, strict=True)}
    else:
        kinds = dict(spec)
        kwargs = {n: _dec(v, kinds[n]) for n, v in zip(recorded, row, strict=False) if n in kinds}
    return cls(**kwargs, **extra)


def session_to_list(s: Session) -> list[Any]:
    return encode_record(s)


def session_from_list(pid: int, row: list[Any]) -> Session:
    return decode_record(Session, row, pid=pid)  # type: ignore[no-any-return]


def to_compact(snap: Snapshot, rows: dict[Session, list[Any]] | None = None) -> Compact:
    """The snapshot as a JSON-native dict ("t" first: readers find the time cheaply).

    `rows` caches session rows between calls (cleared to this snapshot's sessions): most
    sessions are equal to last poll's, and hashing one costs less than encoding it.
    """
    if rows is None:
        sessions = {str(s.pid): session_to_list(s) for s in snap.sessions}
    else:
        sessions = {}
        fresh: dict[Session, list[Any]] = {}
        for s in snap.sessions:
            row = rows.get(s)
            fresh[s] = row = row if row is not None else session_to_list(s)
            sessions[str(s.pid)] = row
        rows.clear()
        rows.update(fresh)
    out: Compact = {"t": snap.server.snapshot_time.isoformat()}
    for name, kind in _spec(Snapshot):
        out[name] = sessions if name == "sessions" else _enc(getattr(snap, name), kind)
    return out


def from_compact(d: Compact, names: dict[str, list[str]] | None = None) -> Snapshot:
    """The Snapshot of a full compact dict; `names` as for decode_record."""
    server = decode_record(
        ServerInfo, d["server"], names, snapshot_time=datetime.fromisoformat(d["t"])
    )
    kwargs: dict[str, Any] = {"server": server}
    for name, kind in _spec(Snapshot):
        if name == "sessions":
            kwargs[name] = tuple(
                decode_record(Session, row, names, pid=int(pid))
                for pid, row in d["sessions"].items()
            )
        elif name != "server" and name in d:
            kwargs[name] = _dec(d[name], kind)
    return Snapshot(**kwargs)


# -- deltas ----------------------------------------------------------------------------


def is_delta(frame: Compact) -> bool:
    return bool(frame.get("delta"))


def _order_patch(prev: list[str], new: list[str], added: set[str]) -> dict[str, Any]:
    """How `apply` gets the new session order: usually nothing, since pg_stat_activity
    lists backends by slot and survivors keep their slots; a new backend may take a
    free slot in the middle ("at": its position); anything else spells out the order."""
    kept = set(new)
    survivors_before = [p for p in prev if p in kept]
    survivors_after = [p for p in new if p not in added]
    if survivors_before != survivors_after:
        return {"order": new}
    if survivors_after + [p for p in new if p in added] == new:
        return {}
    return {"at": [[i, p] for i, p in enumerate(new) if p in added]}


def delta(prev: Compact, new: Compact) -> Compact:
    """What changed from `prev` to `new` (both full compact dicts)."""
    old_s, new_s = prev["sessions"], new["sessions"]
    out: Compact = {"t": new["t"], "delta": 1}
    out["sessions"] = {p: row for p, row in new_s.items() if old_s.get(p) != row}
    out["gone"] = [p for p in old_s if p not in new_s]
    added = {p for p in out["sessions"] if p not in old_s}
    out.update(_order_patch(list(old_s), list(new_s), added))
    for key, value in new.items():
        if key not in _DELTA_KEYS and (key not in prev or prev[key] != value):
            out[key] = value
    return out


def apply(prev: Compact, d: Compact) -> Compact:
    """The full compact dict `d` leads to from `prev`; `prev` is left untouched."""
    if not is_delta(d):
        return d
    out = dict(prev)
    for key, value in d.items():
        if key not in _DELTA_KEYS:
            out[key] = value
    out["t"] = d["t"]
    sessions = dict(prev["sessions"])
    for pid in d.get("gone", ()):
        sessions.pop(pid, None)
    changed = d.get("sessions", {})
    sessions.update(changed)  # changed rows keep their place, new ones go last...
    if "order" in d:
        sessions = {p: sessions[p] for p in d["order"]}
    elif "at" in d:  # ...unless they took a place in the middle
        placed = {p for _, p in d["at"]}
        keys = [p for p in sessions if p not in placed]
        for i, p in sorted(d["at"]):
            keys.insert(i, p)
        sessions = {p: sessions[p] for p in keys}
    out["sessions"] = sessions
    return out
