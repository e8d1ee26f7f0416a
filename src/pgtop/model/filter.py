"""The sessions filter language typed after `/`.

    payment                    free text: query, user, database, application or client
    db:shop user:app_web       field:value narrows (case-insensitive substring)
    state:"idle in transaction"  quotes keep spaces; state also takes idle-tx, abort-tx,
                               waiting (on a lock, as the STATE column shows it)
    dur>30s  xact>5m  age<2s   durations: dur is the transaction age, else the query age
    -user:postgres             a leading minus excludes

Every term must match. `parse_filter` raises FilterError with a one-line message.
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Callable
from datetime import datetime
from typing import NamedTuple

from pgtop.model.derive import seconds_between
from pgtop.model.records import Session
from pgtop.model.view import activity_age_start

FIELDS: dict[str, Callable[[Session], str]] = {
    "db": lambda s: s.database or "",
    "user": lambda s: s.user or "",
    "app": lambda s: s.application,
    "client": lambda s: s.client,
    "state": lambda s: s.state or "",
    "wait": lambda s: f"{s.wait_event_type or ''}:{s.wait_event or ''}",
    "query": lambda s: s.query,
    "type": lambda s: s.backend_type,
}
ALIASES = {
    "database": "db",
    "datname": "db",
    "usename": "user",
    "application": "app",
    "application_name": "app",
    "host": "client",
    "addr": "client",
    "backend_type": "type",
}
STATE_SHORTHANDS = {
    "idle-tx": "idle in transaction",
    "idle_tx": "idle in transaction",
    "iit": "idle in transaction",
    "abort-tx": "idle in transaction (aborted)",
    "aborted": "idle in transaction (aborted)",
}
_DURATION = re.compile(r"^(dur|xact|age|conn)(>=|<=|>|<)(\d+(?:\.\d+)?)(ms|s|m|min|h|d)?$")
# A word that starts as a duration but is not one is a typo, not text to search for.
_DURATION_START = re.compile(r"^(dur|xact|age|conn)(>=|<=|>|<)")
_UNITS = {"ms": 0.001, "s": 1, "m": 60, "min": 60, "h": 3600, "d": 86400, None: 1}


class FilterError(ValueError):
    pass


Predicate = Callable[[Session, datetime], bool]


def _duration_term(kind: str, op: str, seconds: float) -> Predicate:
    def measured(s: Session, now: datetime) -> float | None:
        if kind == "xact":
            return seconds_between(s.xact_start, now)
        if kind == "age":
            return seconds_between(activity_age_start(s), now)
        if kind == "conn":
            return seconds_between(s.backend_start, now)
        # dur: how long the work has been going: the transaction, else the running query
        if s.xact_start is not None:
            return seconds_between(s.xact_start, now)
        return seconds_between(s.query_start, now) if s.state == "active" else None

    compare = {
        ">": lambda a: a > seconds,
        "<": lambda a: a < seconds,
        ">=": lambda a: a >= seconds,
        "<=": lambda a: a <= seconds,
    }[op]

    def predicate(s: Session, now: datetime) -> bool:
        value = measured(s, now)
        return value is not None and compare(value)

    return predicate


def _field_term(name: str, value: str) -> Predicate:
    key = ALIASES.get(name, name)
    if key == "pid":
        if not value.isdigit():
            raise FilterError(f"pid needs a number, got {value!r}")
        pid = int(value)
        return lambda s, now: s.pid == pid
    if key not in FIELDS:
        known = ", ".join(sorted([*FIELDS, "pid"]))
        raise FilterError(f"unknown filter field {name!r} (known: {known})")
    get = FIELDS[key]
    wanted = value.lower()
    if key == "state":
        wanted = STATE_SHORTHANDS.get(wanted, wanted)
        if wanted == "idle":  # "idle" alone means exactly idle, not idle in transaction
            return lambda s, now: (s.state or "") == "idle"
        if wanted == "waiting":  # what the STATE column says of a lock waiter
            return lambda s, now: s.waits_on_lock
    return lambda s, now: wanted in get(s).lower()


def _text_term(word: str) -> Predicate:
    wanted = word.lower()
    return lambda s, now: any(
        wanted in text.lower()
        for text in (s.query, s.user or "", s.database or "", s.application, s.client)
    )


class SessionFilter(NamedTuple):
    text: str
    terms: tuple[tuple[bool, Predicate], ...]  # (negated, predicate)
    # A duration term's verdict changes with the time; the others only with the session.
    uses_time: bool = False

    def matches(self, s: Session, now: datetime) -> bool:
        return all(pred(s, now) != negated for negated, pred in self.terms)


def parse_filter(text: str) -> SessionFilter:
    try:
        words = shlex.split(text)
    except ValueError as exc:
        raise FilterError(f"filter: {exc}") from None
    terms: list[tuple[bool, Predicate]] = []
    uses_time = False
    for word in words:
        negated = word.startswith("-") and len(word) > 1
        body = word[1:] if negated else word
        m = _DURATION.match(body.lower())
        if m:
            kind, op, number, unit = m.groups()
            terms.append((negated, _duration_term(kind, op, float(number) * _UNITS[unit])))
            uses_time = True
        elif _DURATION_START.match(body.lower()):
            raise FilterError(f"not a duration: {body!r} (try dur>30s xact>5m age<2s conn>1h)")
        elif ":" in body and not body.startswith(":"):
            name, value = body.split(":", 1)
            terms.append((negated, _field_term(name.lower(), value)))
        else:
            terms.append((negated, _text_term(body)))
    return SessionFilter(text=text, terms=tuple(terms), uses_time=uses_time)
