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

PgBouncer's SHOW CLIENTS / SHOW SERVERS rows (PoolerSnapshot.client_list, .server_list)
live under their own top-level keys, "pooler_clients" and "pooler_servers", not inside
"pooler": the pooler's poll time changes every poll, the lists often do not. A delta
repeats a changed list as a patch that refers to the previous frame's unchanged rows.
"""

from __future__ import annotations

import dataclasses
import functools
import json
import re
from datetime import datetime
from itertools import compress
from operator import attrgetter, is_, not_
from typing import Any

from pgtop.model import pooler_records, records
from pgtop.model.pooler_records import PoolerClient, PoolerServer, PoolerSnapshot
from pgtop.model.records import ServerInfo, Session, Snapshot

Compact = dict[str, Any]


class CodecError(ValueError):
    """A compact frame that does not hold what a snapshot needs (a damaged or hostile
    file): a missing key, a short row, a value of the wrong type. One line, no traceback."""


# Keys a delta treats specially; every other key is repeated only when its value changed.
_DELTA_KEYS = ("t", "delta", "sessions", "gone", "order", "at")
# Top-level keys holding the pooler's lists (PoolerSnapshot field -> key); always present
# in a frame (empty without a pooler) so that a delta can leave them out when unchanged.
_POOLER_LISTS = {"client_list": "pooler_clients", "server_list": "pooler_servers"}
# Not recorded: the pid is the session's key, snapshot_time the frame's "t", and
# Session.pooler is derived (model/pooler_join) again from the recorded pooler lists,
# which are recorded beside "pooler", not in it.
_SKIP: dict[type, frozenset[str]] = {
    Session: frozenset({"pid", "pooler"}),
    ServerInfo: frozenset({"snapshot_time"}),
    PoolerSnapshot: frozenset(_POOLER_LISTS),
}
_RECORDS = {
    name: obj
    for name, obj in (vars(records) | vars(pooler_records)).items()
    if isinstance(obj, type)
    and (dataclasses.is_dataclass(obj) or (issubclass(obj, tuple) and hasattr(obj, "_fields")))
    and not name.startswith("_")
}


def record_fields(cls: type) -> dict[str, str]:
    """field -> its annotation's text, in declaration order. records.py's are NamedTuples
    (typing keeps a postponed annotation as a ForwardRef), pooler_records' dataclasses."""
    if dataclasses.is_dataclass(cls):
        return {f.name: str(f.type) for f in dataclasses.fields(cls)}
    hints = cls.__annotations__
    return {name: getattr(hints[name], "__forward_arg__", str(hints[name])) for name in cls._fields}  # type: ignore[attr-defined]


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
    return tuple(
        (name, _kind(hint)) for name, hint in record_fields(cls).items() if name not in skip
    )


@functools.cache
def _all_kinds(cls: type) -> dict[str, str]:
    """field -> kind for every field, skipped ones too: an older writer may have them."""
    return {name: _kind(hint) for name, hint in record_fields(cls).items()}


# The Python types a decoded field may hold, from its annotation's base name.
_PLAIN: dict[str, tuple[type, ...]] = {
    "str": (str,),
    "int": (int,),
    "float": (int, float),
    "bool": (bool,),
    "datetime": (datetime,),
    "object": (object,),
}


def _types_of(text: str) -> tuple[type, ...]:
    base = text.split("[", 1)[0]
    if base in _PLAIN:
        return _PLAIN[base]
    if base in ("tuple", "dict"):
        return (tuple,) if base == "tuple" else (dict,)
    return (_RECORDS[base],) if base in _RECORDS else (object,)


@functools.cache
def _checks(cls: type) -> dict[str, tuple[tuple[type, ...], bool, tuple[type, ...]]]:
    """field -> (types the value may have, whether None is allowed, types of its items)."""
    out = {}
    for name, text in record_fields(cls).items():
        optional = text.endswith(" | None")
        text = text.removesuffix(" | None")
        args = text[text.index("[") + 1 : -1].split(",") if "[" in text else []
        if text.startswith("tuple[") and args[-1].strip() == "...":  # tuple[X, ...]
            items = _types_of(args[0].strip())
        elif text.startswith("dict[") and len(args) == 2:  # dict[str, V]
            items = _types_of(args[1].strip())
        else:
            items = ()
        out[name] = (_types_of(text), optional, items)
    return out


def sane_time(when: datetime) -> bool:
    """Aware, and far enough from datetime's limits that converting it to local time or
    taking a difference cannot overflow (a hostile file may hold year 1 or 9999)."""
    return when.tzinfo is not None and 1970 <= when.year < 9999


def _validate(cls: type, kwargs: dict[str, Any]) -> None:
    """Raise CodecError unless every value has the type its field says: the UI computes
    with these (ages from datetimes, sums of ints) and must never meet a stray string."""
    for name, (types, optional, items) in _checks(cls).items():
        if name not in kwargs:
            continue
        value = kwargs[name]
        if value is None:
            if not optional:
                raise CodecError(f"{cls.__name__}.{name} is missing")
            continue
        if not isinstance(value, types) or (isinstance(value, datetime) and not sane_time(value)):
            raise CodecError(f"{cls.__name__}.{name} has a value of the wrong type")
        if items and isinstance(value, tuple | dict):
            values = value.values() if isinstance(value, dict) else value
            if not all(isinstance(v, items) for v in values):
                raise CodecError(f"{cls.__name__}.{name} holds a value of the wrong type")


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


def _dec(value: Any, kind: str, names: dict[str, list[str]] | None = None) -> Any:
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
        return tuple(decode_record(cls, x, names) for x in value)
    return decode_record(_RECORDS[kind[2:]], value, names)


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
        # Plain values (most fields) are taken as they are, without a call each.
        kwargs = {
            name: v if v is None or not kind else _dec(v, kind, names)
            for (name, kind), v in zip(spec, row, strict=True)
        }
    else:
        kinds = _all_kinds(cls)
        kwargs = {
            n: _dec(v, kinds[n], names)
            for n, v in zip(recorded, row, strict=False)
            if n in kinds and n not in extra
        }
    _validate(cls, kwargs)
    return cls(**kwargs, **extra)


def session_to_list(s: Session) -> list[Any]:
    return encode_record(s)


def session_from_list(pid: int, row: list[Any]) -> Session:
    return decode_record(Session, row, pid=pid)  # type: ignore[no-any-return]


def to_compact(snap: Snapshot, rows: dict[Any, list[Any]] | None = None) -> Compact:
    """The snapshot as a JSON-native dict ("t" first: readers find the time cheaply).

    `rows` caches encoded rows (sessions, pooler clients and servers) between calls,
    cleared to this snapshot's: most are equal to last poll's, and hashing one costs less
    than encoding it.
    """
    fresh: dict[Any, list[Any]] = {}
    cached = rows if rows is not None else {}

    def row_of(obj: Any) -> list[Any]:
        row = cached.get(obj)
        fresh[obj] = row = row if row is not None else encode_record(obj)
        return row

    sessions = {str(s.pid): row_of(s) for s in snap.sessions}
    out: Compact = {"t": snap.server.snapshot_time.isoformat()}
    for name, kind in _spec(Snapshot):
        out[name] = sessions if name == "sessions" else _enc(getattr(snap, name), kind)
    for field, key in _POOLER_LISTS.items():
        out[key] = [row_of(x) for x in getattr(snap.pooler, field)] if snap.pooler else []
    if rows is not None:
        rows.clear()
        rows.update(fresh)
    return out


class SessionMemo:
    """The last frame's sessions by pid (as in the frame), with the compact rows they
    were decoded from; kept by the caller between frames (see `from_compact`)."""

    def __init__(self) -> None:
        self.rows: dict[str, list[Any]] = {}
        self.sessions: dict[str, Session] = {}


def from_compact(
    d: Compact, names: dict[str, list[str]] | None = None, memo: SessionMemo | None = None
) -> Snapshot:
    """The Snapshot of a full compact dict; `names` as for decode_record. CodecError if it
    does not hold a whole, well-typed snapshot.

    `memo` (kept by the caller between frames, replaced by this frame's): a row that is
    the very list object a Session was decoded from last time gives that Session again,
    not decoded or validated twice. `apply` keeps an unchanged row's list, so replaying a
    delta decodes only the rows it names, and unchanged sessions stay the same objects
    (what the view's caches key on)."""
    try:
        return _from_compact(d, names, memo)
    except CodecError:
        raise
    except (KeyError, TypeError, ValueError, IndexError, AttributeError) as exc:
        raise CodecError(_why(exc)) from None


def _why(exc: Exception) -> str:
    """A damaged frame in a few words; never the data (a hostile file could put anything)."""
    if isinstance(exc, KeyError):
        return "a part is missing"
    if isinstance(exc, TypeError | ValueError) and "zip()" in str(exc):
        return "a row is too short or too long"
    return "a value of the wrong kind"


def _sessions(
    rows: dict[str, list[Any]], names: dict[str, list[str]] | None, memo: SessionMemo | None
) -> tuple[Session, ...]:
    if memo is None:
        return tuple(decode_record(Session, row, names, pid=int(pid)) for pid, row in rows.items())
    # Which rows are the very lists decoded last time: found in C (map, is_), so the
    # Python work is only the changed rows. The memo holds the rows: ids are not reused.
    pids = list(rows)
    new_rows = list(rows.values())
    out = list(map(memo.sessions.get, pids))
    same = map(is_, new_rows, map(memo.rows.get, pids))
    for i in compress(range(len(pids)), map(not_, same)):
        out[i] = decode_record(Session, new_rows[i], names, pid=int(pids[i]))
    memo.rows = rows  # never changed in place: `apply` builds a new dict per frame
    memo.sessions = dict(zip(pids, out, strict=True))
    return tuple(out)  # type: ignore[arg-type]


_PID = attrgetter("pid")


def _from_compact(
    d: Compact, names: dict[str, list[str]] | None, memo: SessionMemo | None = None
) -> Snapshot:
    snapshot_time = datetime.fromisoformat(d["t"])
    server = decode_record(ServerInfo, d["server"], names, snapshot_time=snapshot_time)
    if not sane_time(snapshot_time):
        raise CodecError("the frame's time is not a time pgtop records")
    kwargs: dict[str, Any] = {"server": server}
    for name, kind in _spec(Snapshot):
        if name == "sessions":
            kwargs[name] = _sessions(d["sessions"], names, memo)
        elif name != "server" and name in d:
            kwargs[name] = _dec(d[name], kind, names)
    pooler = kwargs.get("pooler")
    # Older files have no such keys: no lists (defaults), or lists inside "pooler" (kept).
    if pooler is not None:
        lists = {
            field: tuple(decode_record(cls, row, names) for row in d[key])
            for (field, key), cls in zip(
                _POOLER_LISTS.items(), (PoolerClient, PoolerServer), strict=True
            )
            if key in d
        }
        kwargs["pooler"] = dataclasses.replace(pooler, **lists) if lists else pooler
    # Sessions come from decode_record (each validated when decoded, kept ones before):
    # not looked at again one by one here.
    _validate(Snapshot, {k: v for k, v in kwargs.items() if k != "sessions"})
    if len(set(map(_PID, kwargs["sessions"]))) != len(kwargs["sessions"]):
        raise CodecError("two sessions with the same pid")
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
            if key in _LIST_KEYS and isinstance(prev.get(key), list) and value:
                patch = _list_patch(prev[key], value, _ptr_at(key))
                if any(isinstance(x, dict) for x in patch):  # some rows are unchanged
                    out[key] = {"patch": patch}
    return out


_LIST_KEYS = frozenset(_POOLER_LISTS.values())


@functools.cache
def _ptr_at(key: str) -> int:
    """Position of `ptr` (a connection's identity at any one moment) in the key's rows."""
    cls = PoolerClient if key == "pooler_clients" else PoolerServer
    return [name for name, _ in _spec(cls)].index("ptr")


def _row_key(row: list[Any]) -> Any:
    try:
        return tuple(row)  # flat rows: hashing a tuple is cheap
    except TypeError:
        return json.dumps(row, separators=(",", ":"))


def _list_patch(prev: list[Any], new: list[Any], ptr_at: int) -> list[Any]:
    """`new` as a patch of `prev`: {"old": i, "n": k} for k rows equal to prev[i:i + k],
    {"old": i, "set": [[position, value], ...]} for prev[i] (the same connection: same
    ptr) with a few fields changed, and the row itself for anything else."""
    where: dict[Any, int] = {}
    by_ptr: dict[Any, int] = {}
    for i, row in enumerate(prev):
        where.setdefault(_row_key(row), i)
        if len(row) > ptr_at:
            by_ptr.setdefault(row[ptr_at], i)
    out: list[Any] = []
    for row in new:
        i = where.get(_row_key(row))
        if i is not None:
            last = out[-1] if out else None
            if isinstance(last, dict) and "n" in last and last["old"] + last["n"] == i:
                last["n"] += 1
            else:
                out.append({"old": i, "n": 1})
            continue
        j = by_ptr.get(row[ptr_at]) if len(row) > ptr_at else None
        if j is not None and len(prev[j]) == len(row):
            changes = [[k, v] for k, (u, v) in enumerate(zip(prev[j], row, strict=True)) if u != v]
            if 2 * len(changes) <= len(row):
                out.append({"old": j, "set": changes})
                continue
        out.append(row)
    return out


def _list_apply(prev: list[Any], patch: list[Any]) -> list[Any]:
    out: list[Any] = []
    for item in patch:
        if not isinstance(item, dict):
            out.append(item)
        elif "n" in item:
            out.extend(prev[item["old"] : item["old"] + item["n"]])
        else:
            row = list(prev[item["old"]])
            for k, v in item["set"]:
                row[k] = v
            out.append(row)
    return out


def apply(prev: Compact, d: Compact) -> Compact:
    """The full compact dict `d` leads to from `prev`; `prev` is left untouched. CodecError
    if `d` does not fit `prev` (a damaged file)."""
    try:
        return _apply(prev, d)
    except (KeyError, TypeError, ValueError, IndexError, AttributeError) as exc:
        raise CodecError(_why(exc)) from None


def _apply(prev: Compact, d: Compact) -> Compact:
    if not is_delta(d):
        return d
    out = dict(prev)
    for key, value in d.items():
        if key not in _DELTA_KEYS:
            is_patch = isinstance(value, dict) and key in _LIST_KEYS
            out[key] = _list_apply(prev[key], value["patch"]) if is_patch else value
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
