"""`pgtop --once` with several profiles: every server at once, one result each.

Each server is collected as a single `--once` would (once.py), all concurrently, each
bounded by its own timeout, so a server that hangs or is down costs its own time only.
JSON: an array with one object per server, in the order asked: the snapshot's usual
fields plus ``profile``, ``env`` and ``status``; a server that did not answer has
``status`` (unreachable, refused: bad password, ...) and ``error`` instead. Text: the
usual report (findings first) per server under a heading. OpenMetrics: one exposition,
each server under its profile name, a silent one as down. No state: `collect_fleet`
returns everything.
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass
from typing import Any

from pgtop.collect.errors import CollectError
from pgtop.model.derive import Rates
from pgtop.model.export import snapshot_to_dict
from pgtop.model.findings import Finding, derive_findings
from pgtop.model.format import visible
from pgtop.model.records import Snapshot
from pgtop.monitor.fleet import LIVE, status_of
from pgtop.once import collect_once, render_findings, render_text
from pgtop.target import Target


@dataclass(frozen=True)
class ServerResult:
    name: str
    target: Target
    snapshot: Snapshot | None = None
    rates: Rates | None = None
    status: str = LIVE
    error: str | None = None

    @property
    def answered(self) -> bool:
        return self.snapshot is not None

    def findings(self) -> tuple[Finding, ...]:
        """What this one snapshot shows, with the member's own thresholds."""
        if self.snapshot is None:
            return ()
        return derive_findings(self.snapshot, self.target.findings)


def _deadline(target: Target) -> float:
    """Connect, two polls one refresh apart, and some slack: past this, it hangs."""
    from pgtop.collect.monitor import poll_timeout

    return target.connect_timeout + 2 * poll_timeout(target) + target.refresh + 1


async def _one(name: str, target: Target, password: str | None) -> ServerResult:
    if target.password_command:  # this member's own, now; its failure is its result alone
        from pgtop.profiles import ProfileError, apply_password_command

        try:
            target = await asyncio.to_thread(apply_password_command, target)
        except ProfileError as exc:
            return ServerResult(name, target, status="no password", error=str(exc))
    try:
        snap, rates = await asyncio.wait_for(collect_once(target, password), _deadline(target))
    except CollectError as exc:
        return ServerResult(name, target, status=status_of(exc, False), error=exc.message)
    except TimeoutError:
        error = f"{target.postgres.describe()}: no answer in {_deadline(target):g} s"
        return ServerResult(name, target, status="unreachable", error=error)
    return ServerResult(name, target, snap, rates)


async def collect_fleet(
    members: list[tuple[str, Target]], passwords: dict[str, str | None]
) -> list[ServerResult]:
    return list(await asyncio.gather(*(_one(n, t, passwords.get(n)) for n, t in members)))


def result_to_dict(result: ServerResult) -> dict[str, Any]:
    head: dict[str, Any] = {
        "profile": result.name,
        "env": result.target.env,
        "status": result.status,
    }
    if result.snapshot is None:
        return {**head, "error": result.error}
    return {**head, **snapshot_to_dict(result.snapshot, result.rates, result.findings())}


def render_fleet(results: list[ServerResult], fmt: str) -> str:
    if fmt == "json":
        return json.dumps([result_to_dict(r) for r in results], indent=2) + "\n"
    if fmt == "openmetrics":  # one exposition, a `server` label per profile
        from pgtop.metrics.exposition import ServerMetrics, render_openmetrics

        return render_openmetrics(
            [
                ServerMetrics(
                    r.name,
                    r.snapshot,
                    up=r.answered,
                    has_pooler=bool(r.target.pooler_consoles),
                    findings=r.findings() if r.answered else None,
                )
                for r in results
            ]
        )
    blocks = []
    for r in results:
        env = f" [{r.target.env}]" if r.target.env else ""
        # A profile name is the user's own text, but it reaches a terminal: no escapes.
        head = f"== {visible(r.name)}{env}: {r.status} =="
        if r.snapshot is None or r.rates is None:
            blocks.append(f"{head}\nerror: {visible(r.error or 'no answer')}\n")
        else:
            blocks.append(
                f"{head}\n{render_findings(r.findings())}{render_text(r.snapshot, r.rates)}"
            )
    return "\n".join(blocks)
