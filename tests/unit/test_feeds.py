"""A server's feeds run without a terminal: each writes its state and says what changed."""

import asyncio
from pathlib import Path

from builders import ago

from pgtop.collect.record import RecordingWriter
from pgtop.collect.replay import load_recording
from pgtop.model.records import DatabaseStat, Limits, ServerInfo, Snapshot, StateCounts
from pgtop.monitor.feed import Update
from pgtop.monitor.live import LiveFeed
from pgtop.monitor.replay import ReplayFeed
from pgtop.target import ConnSettings, Target


def _snap(at: float, commits: int) -> Snapshot:
    server = ServerInfo("15.1", 150001, "h:5432", ago(999), False, ago(-at))
    db = DatabaseStat("shop", -1, True, StateCounts(), commits, 0)
    return Snapshot(server, (), (db,), Limits(100, 3, None, 5, (), (), ()))


async def _run(feed: LiveFeed | ReplayFeed, until: int, updates: list[Update]) -> None:
    tasks: list[asyncio.Task[None]] = []
    feed.start(lambda work, group: tasks.append(asyncio.ensure_future(work)))
    for _ in range(200):
        if len(updates) >= until:
            break
        await asyncio.sleep(0.01)
    for task in tasks:
        task.cancel()
    await feed.close()


def test_the_live_feed_writes_its_state_and_keys_change_its_status_and_interval() -> None:
    snaps = iter([_snap(0, 100), _snap(1, 150)])
    updates: list[Update] = []

    async def source() -> Snapshot:
        return next(snaps)

    target = Target(ConnSettings({"host": "db1"}), refresh=0.5)
    feed = LiveFeed(target, updates.append, source=source)

    async def main() -> None:
        await _run(feed, 2, updates)
        assert updates[:2] == [Update("postgres", first=True), Update("postgres")]
        rates = feed.state.current_rates()
        assert rates is not None and rates.transactions == 50
        feed.toggle_pause()
        assert feed.paused and feed.state.status == "paused"
        feed.slower()
        assert feed.state.refresh == 1.0
        feed.toggle_pause()
        assert feed.state.status == "live"

    asyncio.run(main())
    assert "step" not in feed.controls and feed.has_server


def test_the_replay_feed_plays_frames_into_its_state_and_steps_back(tmp_path: Path) -> None:
    path = tmp_path / "r.rec.gz"
    writer = RecordingWriter(path)
    for i in range(3):
        writer.write(_snap(i * 0.01, 100 + i * 10))
    writer.close()
    updates: list[Update] = []
    notices: list[str] = []
    feed = ReplayFeed(
        load_recording(path), "h:5432", 1.0, updates.append, lambda t, s, _: notices.append(t)
    )

    async def main() -> None:
        await _run(feed, 4, updates)  # three frames, then "reached the end"
        assert [u.source for u in updates] == ["postgres"] * 3 + ["status"]
        assert feed.state.status.startswith("replay end") and "3/3" in feed.state.status
        feed.step(-1)
        assert feed.index == 1 and "2/3" in feed.state.status
        rates = feed.state.current_rates()  # from the frame before it, not the last shown
        assert rates is not None and rates.transactions == 1000

    asyncio.run(main())
    assert notices == [] and not feed.has_server and "step" in feed.controls
