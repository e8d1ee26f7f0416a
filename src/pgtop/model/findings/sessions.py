"""Findings about what sessions hold: open transactions, old snapshots, locks, idle piles.

- idle_in_transaction: sessions idle in a transaction past a threshold, what they hold
  (a transaction id, waiters behind them) and whether the server's timeout ends them;
- old_snapshot: the client session whose xmin (or xid) is oldest, when it is old in time
  and in transactions: vacuum cannot remove rows that died after it;
- lock_pileup: each root blocker with the sessions waiting behind it;
- leak: many sessions of one application idle for a long time.
Only client backends count: background workers, walsenders and autovacuum never do.
"""

from __future__ import annotations

from datetime import timedelta
from itertools import chain, compress, repeat
from operator import attrgetter, contains

from pgtop.model.findings.base import (
    Finding,
    named,
    query_age,
    state_age,
    term,
    xact_age,
)
from pgtop.model.findings.index import XID_SPACE, SessionIndex
from pgtop.model.format import age, one_line, percent, plural
from pgtop.model.locks import TreeRow
from pgtop.model.pooler_join import client_app_shown
from pgtop.model.records import IDLE, Snapshot
from pgtop.model.thresholds import Thresholds

_PID = attrgetter("pid")
_STATE_CHANGE = attrgetter("state_change")


def _setting_s(snap: Snapshot, name: str) -> float | None:
    """A time setting in seconds (0 = off); None when the server did not say."""
    s = snap.limits.setting(name)
    if s is None:
        return None
    try:
        value = float(s.value)
    except ValueError:
        return None
    return value / 1000 if s.unit in (None, "ms") else value


def idle_in_transaction(
    snap: Snapshot, t: Thresholds, behind: dict[int, int], index: SessionIndex
) -> list[Finding]:
    now = snap.server.snapshot_time
    # Each age worked out once: sorting and the maximum used to work them out again.
    aged = [
        (a, s)
        for s in index.idle_in_transaction.values()
        if (a := state_age(s, now)) >= t.idle_in_transaction_s
    ]
    if not aged:
        return []
    aged.sort(key=lambda p: (-behind.get(p[1].pid, 0), -p[0], p[1].pid))
    idle = [s for _, s in aged]
    worst_s, worst = aged[0]
    oldest_s = max(a for a, _ in aged)
    blocked = sum(behind.get(s.pid, 0) for s in idle)
    with_xid = sum(1 for s in idle if s.backend_xid)
    timeout = _setting_s(snap, "idle_in_transaction_session_timeout")
    evidence: dict[str, float | int] = {
        "sessions": len(idle),
        "longest_idle_s": round(oldest_s, 3),
        "waiters_blocked": blocked,
        "holding_xid": with_xid,
    }
    sentence = (
        f"{plural(len(idle), 'session')} idle in transaction past "
        f"{age(t.idle_in_transaction_s)} (pid {worst.pid}, app "
        f"{named(client_app_shown(worst))}, idle {age(worst_s)}"
    )
    sentence += f", blocking {plural(blocked, 'session')}" if blocked else ""
    sentence += ")"
    if with_xid:
        have = "has" if with_xid == 1 else "have"
        sentence += (
            f"; {with_xid} of them {have} a transaction id (what they wrote or locked stays locked)"
        )
    if timeout is not None:
        evidence["idle_in_transaction_session_timeout_s"] = timeout
        if timeout > 0:
            left = max(0.0, timeout - oldest_s)
            evidence["seconds_until_timeout"] = round(left, 3)
            sentence += f"; idle_in_transaction_session_timeout ends the oldest in {age(left)}"
        else:
            sentence += "; idle_in_transaction_session_timeout is off, nothing ends them"
    critical = blocked > 0 or oldest_s >= t.idle_in_transaction_critical_s
    return [
        Finding(
            kind="idle_in_transaction",
            severity="critical" if critical else "warning",
            summary=sentence + ".",
            evidence=evidence,
            pids=tuple(s.pid for s in idle),
            action="Terminate them (k); set idle_in_transaction_session_timeout so the "
            "server ends them.",
            filter=f"state:idle-tx age>{max(0, int(t.idle_in_transaction_s))}s",
        )
    ]


def old_snapshot(snap: Snapshot, t: Thresholds, index: SessionIndex) -> list[Finding]:
    next_xid = snap.server.next_xid
    held = index.held_xids
    if next_xid is None or not held:
        return []
    now = snap.server.snapshot_time
    # The oldest xid held, in C over the numbers the index parsed once per session (under
    # churn hundreds of sessions hold one). Counted back from the next xid modulo 2**32:
    # an xid above it has wrapped around, so it is older than any xid below it.
    n = next_xid % XID_SPACE
    numbers = list(chain.from_iterable(held.values()))
    if not numbers:
        return []
    wrapped = list(filter(n.__lt__, numbers))
    oldest = min(wrapped) if wrapped else min(numbers)
    xids = (n - oldest) % XID_SPACE
    if xids < t.old_snapshot_xids:
        return []
    # Of the sessions holding it, the lowest pid is named.
    ids = compress(held.keys(), map(contains, held.values(), repeat(oldest)))
    s = min(map(index.xid_holders.__getitem__, ids), key=_PID)
    held_s = xact_age(s, now) if s.xact_start else query_age(s, now)
    if held_s < t.old_snapshot_s:
        return []
    critical = xids >= t.old_snapshot_critical_xids
    return [
        Finding(
            kind="old_snapshot",
            severity="critical" if critical else "warning",
            summary=f"Pid {s.pid} (app {named(client_app_shown(s))}, {s.state or 'state hidden'})"
            f" holds the oldest snapshot, {xids:,} transactions and {age(held_s)} old: "
            f"vacuum cannot remove rows that died since.",
            evidence={"xid_age": xids, "held_s": round(held_s, 3)},
            pids=(s.pid,),
            action="End its transaction (c for a query, k for an idle transaction); "
            "idle_in_transaction_session_timeout or statement_timeout bound it.",
            filter=f"pid:{s.pid}",
        )
    ]


def lock_pileup(
    snap: Snapshot, t: Thresholds, behind: dict[int, int], tree: list[TreeRow]
) -> list[Finding]:
    """`behind` and `tree`: waiters_behind and blocking_tree of the sessions in lock trees."""
    if not behind:
        return []
    now = snap.server.snapshot_time
    out = []
    i = 0
    while i < len(tree):
        root = tree[i]
        j = i + 1
        while j < len(tree) and tree[j].depth > 0:
            j += 1
        waiters = [r.session for r in tree[i + 1 : j]]
        i = j
        if root.blocker_unknown or not waiters:
            continue
        longest = max(query_age(w, now) for w in waiters)
        if longest < t.lock_wait_s:
            continue
        r = root.session
        n = behind.get(r.pid, len(waiters))
        state = r.state or "state hidden"
        what = one_line(r.query, 50) if r.state != IDLE else ""
        sentence = (
            f"Pid {r.pid} (app {named(client_app_shown(r))}, {state}"
            + (f", transaction {age(xact_age(r, now))}" if r.xact_start else "")
            + f") blocks {plural(n, 'session')}, the longest waiting {age(longest)}"
            + (f"; it runs: {what}" if r.state == "active" and what else "")
        )
        out.append(
            Finding(
                kind="lock_pileup",
                severity="critical" if n >= t.lock_pileup_critical or longest >= 60 else "warning",
                summary=sentence + ".",
                evidence={
                    "waiters": n,
                    "longest_wait_s": round(longest, 3),
                    "blocker_xact_s": round(xact_age(r, now), 3),
                },
                pids=(r.pid, *(w.pid for w in waiters)),
                action="Press B on a waiter to reach it; cancel (c) or terminate (k) the "
                "blocker. lock_timeout bounds how long others wait.",
                filter=None,
            )
        )
    return out


def leak(snap: Snapshot, t: Thresholds, index: SessionIndex) -> list[Finding]:
    before = snap.server.snapshot_time - timedelta(seconds=t.leak_idle_s)
    groups: dict[tuple[str, str], list[int]] = {}
    # Only groups that could reach the count are looked at; idle since `before` picked
    # out in C (the index holds idle client sessions not held by a pooler).
    for key, members in sorted(index.idle.items()):
        if len(members) < t.leak_sessions:
            continue
        idle = list(members.values())
        old = compress(idle, map(before.__ge__, map(_STATE_CHANGE, idle)))
        groups[key] = sorted(map(_PID, old))
    lim = snap.limits
    full = lim.available_to_ordinary_roles > 0 and (
        percent(lim.client_connections, lim.available_to_ordinary_roles) >= t.server_warning_pct
    )
    out = []
    for (app, user), pids in sorted(groups.items(), key=lambda kv: -len(kv[1])):
        if len(pids) < t.leak_sessions:
            continue
        idle_s = max(0, int(t.leak_idle_s))
        out.append(
            Finding(
                kind="leak",
                severity="warning" if full else "info",
                summary=f"{plural(len(pids), 'session')} of app {named(app)} (role "
                f"{named(user)}) have been idle over {age(t.leak_idle_s)}: its client pool "
                "is larger than it needs.",
                evidence={"sessions": len(pids), "idle_over_s": t.leak_idle_s},
                pids=tuple(pids),
                action="Shrink the application's pool (or its idle timeout); "
                "idle_session_timeout ends such sessions.",
                filter=f"{term('app', app) if app else term('user', user)} state:idle "
                f"age>{idle_s}s",
            )
        )
    return out
