"""A fleet: several servers watched at once, each by its own feed and workers.

Every `MemberFeed` is a `LiveFeed` (monitor/live.py) whose PostgreSQL worker polls either
the full session list (the member on screen, "focused") or one summary statement
(collect/summary.py) for the others; its pooler worker likewise reads everything while
focused and SHOW POOLS alone otherwise. Each member's workers run apart, so a member
that hangs or is down delays nobody: a poll that hangs ends at the poll timeout, and a
member that keeps failing is retried after a growing delay (`retry_delay`, up to a
minute), not every tick.

State and writers: each member's `MemberStatus` and `MonitorState` are written only by
that member's feed callbacks (its workers); the `Fleet` writes only which member is
focused. The screen and `--once` read `member.status` and build lines with
model/fleet_line.py. No Textual here: `start` takes a spawn function like any feed.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from pgtop.collect.errors import CollectError
from pgtop.collect.poller import Poller
from pgtop.collect.summary import ServerSummary, SummaryCollector, summary_of_snapshot
from pgtop.model.fleet_line import MemberView
from pgtop.model.pooler_records import PoolerSnapshot
from pgtop.model.records import Snapshot
from pgtop.monitor.feed import POOLER_GROUP, POSTGRES_GROUP, Spawn, Update
from pgtop.monitor.live import LiveFeed
from pgtop.target import Target

MAX_RETRY_DELAY = 60.0

# What a member's status says, in the words of the fleet line.
LIVE, CONNECTING, RECONNECTING = "live", "connecting", "reconnecting"
BAD_PASSWORD, UNREACHABLE = "refused: bad password", "unreachable"


def retry_delay(failures: int, refresh: float) -> float:
    """Seconds before the next try after `failures` failures in a row: one refresh, then
    doubling, at most a minute."""
    if failures <= 1:
        return refresh
    return min(MAX_RETRY_DELAY, refresh * 2.0 ** min(failures - 1, 16))


def status_of(error: CollectError, had_data: bool) -> str:
    """The fleet's word for why a member's last poll failed."""
    if error.kind == "auth":
        return BAD_PASSWORD
    if error.kind in ("connect", "usage") or not had_data:
        return UNREACHABLE
    return RECONNECTING


@dataclass
class MemberStatus:
    """One member as its fleet line shows it. Written only by its MemberFeed."""

    status: str = CONNECTING
    reason: str = ""  # the last error, while not live
    since: datetime = field(default_factory=lambda: datetime.now(UTC))  # status began
    summary: ServerSummary | None = None
    tps: float | None = None
    frames: int = 0  # good PostgreSQL polls so far
    last_good: float | None = None  # time.monotonic() of the last good poll
    failures: int = 0  # failed polls in a row
    retry_in: float | None = None  # seconds until the next try, while failing
    statements: int = 0  # summary statements sent (the benchmark counts them)
    pooler: PoolerSnapshot | None = None  # the latest, full or pools only
    pooler_error: str | None = None


class MemberFeed(LiveFeed):
    """One server of the fleet: a LiveFeed whose PostgreSQL worker reads the summary
    while the member is off screen and the full session list while it is focused."""

    def __init__(
        self,
        name: str,
        target: Target,
        on_update: Callable[[str, Update], None],
        *,
        password: str | None = None,
    ) -> None:
        self.name = name
        self.target = target
        self.status = MemberStatus()
        self.focused = False
        self._notify = on_update
        super().__init__(
            target,
            lambda update: on_update(name, update),
            password=password,
            retry_delay=lambda failures: retry_delay(failures, target.refresh),
        )
        self.summary = SummaryCollector(self.postgres)
        # The PostgreSQL worker polls through _poll_member: summary or full, by focus.
        self.pg_poller: Poller[Snapshot | ServerSummary] = Poller(  # type: ignore[assignment]
            self._poll_member,
            interval=target.refresh,
            on_result=self._took_member,
            on_error=self._member_failed,
            retry_delay=lambda failures: retry_delay(failures, target.refresh),
        )
        # And the pooler's: SHOW POOLS alone while off screen, everything while focused.
        if self.pooler is not None:
            self.pooler_poller: Poller[tuple[bool, PoolerSnapshot]] | None = Poller(  # type: ignore[assignment]
                self._poll_pooler_member,
                interval=target.refresh,
                on_result=self._took_pooler_member,
                on_error=self._pooler_member_failed,
                retry_delay=lambda failures: retry_delay(failures, target.refresh),
            )

    async def _poll_pooler_member(self) -> tuple[bool, PoolerSnapshot]:
        assert self.pooler is not None
        if self.focused:
            return True, await self.pooler.poll()
        return False, await self.pooler.poll_pools()

    def _took_pooler_member(self, result: tuple[bool, PoolerSnapshot]) -> None:
        full, snap = result
        self.status.pooler, self.status.pooler_error = snap, None
        if full:  # only full snapshots go to the drill-in screen: its rates need stats
            self._took_pooler(snap)
        else:
            self._notify(self.name, Update("pooler"))

    def _pooler_member_failed(self, error: CollectError) -> None:
        self.status.pooler, self.status.pooler_error = None, error.message
        self._pooler_failed(error)

    async def _poll_member(self) -> Snapshot | ServerSummary:
        if self.focused:
            return await self.postgres.poll()
        return await self.summary.poll()

    # -- the worker's callbacks: the one writer of this member's status and state -------

    def _took_member(self, result: Snapshot | ServerSummary) -> None:
        st = self.status
        if isinstance(result, Snapshot):
            summary = summary_of_snapshot(result)
        else:
            summary = result
            st.statements = self.summary.statements
        previous = st.summary
        if previous is not None:
            seconds = (summary.at - previous.at).total_seconds()
            done = summary.transactions - previous.transactions
            st.tps = done / seconds if seconds > 0 and done >= 0 else st.tps
        st.summary = summary
        st.frames += 1
        st.last_good = time.monotonic()
        st.failures, st.retry_in, st.reason = 0, None, ""
        self._set_status(LIVE)
        if isinstance(result, Snapshot):
            self._took_postgres(result)  # the drill-in screen's MonitorState
        else:
            self._notify(self.name, Update("status"))

    def _member_failed(self, error: CollectError) -> None:
        st = self.status
        st.failures += 1
        st.reason = error.message
        st.retry_in = retry_delay(st.failures, self.target.refresh)
        self._set_status(status_of(error, st.frames > 0))
        self._postgres_failed(error)

    def _set_status(self, status: str) -> None:
        if status != self.status.status:
            self.status.status = status
            self.status.since = datetime.now(UTC)

    # -- focus ----------------------------------------------------------------------------

    def set_focus(self, focused: bool) -> None:
        """On screen: full session list from the next poll, which comes at once."""
        if focused != self.focused:
            self.focused = focused
            if focused and self.status.failures == 0:
                self.pg_poller.poll_now()
                if self.pooler_poller is not None and self.pooler_poller.failures == 0:
                    self.pooler_poller.poll_now()

    def start(self, spawn: Spawn) -> None:
        # Groups named per member: stopping one member's workers leaves the others.
        spawn(self.pg_poller.run(), f"{POSTGRES_GROUP}:{self.name}")
        if self.pooler_poller is not None:
            spawn(self.pooler_poller.run(), f"{POOLER_GROUP}:{self.name}")

    def view(self) -> MemberView:
        """What model/fleet_line.py needs of this member, read now."""
        st = self.status
        return MemberView(
            name=self.name,
            env=self.target.env,
            colour=self.target.colour,
            status=st.status,
            reason=st.reason,
            since=st.since,
            summary=st.summary,
            tps=st.tps,
            pooler=st.pooler,
            pooler_error=st.pooler_error,
        )


class Fleet:
    """The members, in the order asked, and which one is on screen (its one writer)."""

    def __init__(
        self,
        members: list[tuple[str, Target]],
        on_update: Callable[[str, Update], None] | None = None,
        *,
        passwords: dict[str, str | None] | None = None,
    ) -> None:
        notify = on_update or (lambda name, update: None)
        self.members = [
            MemberFeed(name, target, notify, password=(passwords or {}).get(name))
            for name, target in members
        ]
        self.focused: MemberFeed | None = None

    def member(self, name: str) -> MemberFeed:
        return next(m for m in self.members if m.name == name)

    def focus(self, name: str | None) -> MemberFeed | None:
        """Put `name` on screen (None: the fleet list, every member in summary)."""
        for m in self.members:
            m.set_focus(m.name == name)
        self.focused = self.member(name) if name is not None else None
        return self.focused

    def neighbour(self, step: int) -> MemberFeed:
        """The member `step` places after the focused one (`]` and `[`), wrapping."""
        at = self.members.index(self.focused) if self.focused in self.members else -1
        return self.members[(at + step) % len(self.members)]

    def start(self, spawn: Spawn) -> None:
        for m in self.members:
            m.start(spawn)

    async def close(self) -> None:
        for m in self.members:
            await m.close()

    def views(self) -> list[MemberView]:
        return [m.view() for m in self.members]
