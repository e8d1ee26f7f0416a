"""Write SVG screenshots of every pane and screen, from a demo run.

    .venv/bin/python scripts/screenshots.py            # into screenshots/
    .venv/bin/python scripts/screenshots.py --out /tmp/shots --size 160x48

Starts the same throwaway PostgreSQL + PgBouncer + workload as `pgtop --demo`, drives the
real app headless with the keys a user would press, and removes everything afterwards.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from pathlib import Path

from pgtop.demo.environment import DemoEnvironment
from pgtop.ui.app import PgTopApp

# Each shot: its name and the keys that lead to it from the previous one. "@busiest-pool"
# is not a key: it puts the pooler pane's cursor on the pool with the most queued clients.
SHOTS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("sessions", ()),
    ("lock-tree", ("b",)),
    ("databases", ("b", "2")),
    ("limits", ("3",)),
    ("pooler", ("4",)),
    ("pool-detail", ("@busiest-pool", "enter")),
    ("inspect", ("escape", "1", "enter")),
    ("confirm", ("escape", "k")),
)


def _to_busiest_pool(app: PgTopApp) -> None:
    from pgtop.ui.widgets.pooler_pane import PoolerPane, pool_key

    snap = app.server.state.snapshot()
    if snap is None or snap.pooler is None or not snap.pooler.pools:
        return
    busiest = max(snap.pooler.pools, key=lambda p: p.cl_waiting)
    table = app.query_one("#pooler", PoolerPane).table
    table.move_cursor(row=table.get_row_index(pool_key(busiest.database, busiest.user)))


async def shoot(env: DemoEnvironment, out: Path, size: tuple[int, int], suffix: str) -> None:
    app = PgTopApp(env.target(refresh=1.0))
    async with app.run_test(size=size) as pilot:
        deadline = time.monotonic() + 20
        # Let the workload settle: lock chains and queued pooled clients take a few seconds.
        while time.monotonic() < deadline:
            await pilot.pause(0.5)
            snap = app.server.state.snapshot()
            locked = snap is not None and any(s.blocked_by for s in snap.sessions)
            queued = (
                snap is not None and snap.pooler and any(p.cl_waiting for p in snap.pooler.pools)
            )
            if locked and queued:
                break
        await pilot.pause(1.5)
        for name, keys in SHOTS:
            for key in keys:
                if key == "@busiest-pool":
                    _to_busiest_pool(app)
                else:
                    await pilot.press(key)
            await pilot.pause(1.2 if name == "inspect" else 0.8)  # inspect polls its locks
            path = out / f"{name}{suffix}.svg"
            app.save_screenshot(str(path))
            print(f"wrote {path}", file=sys.stderr)
        await pilot.press("n")


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument(
        "--out", type=Path, default=Path(__file__).resolve().parent.parent / "screenshots"
    )
    p.add_argument("--size", action="append", help="WxH, repeatable (default 120x36 and 80x24)")
    args = p.parse_args()
    sizes = args.size or ["120x36", "80x24"]
    args.out.mkdir(parents=True, exist_ok=True)
    with DemoEnvironment(quiet=True) as env:
        for i, text in enumerate(sizes):
            w, h = (int(n) for n in text.lower().split("x"))
            asyncio.run(shoot(env, args.out, (w, h), "" if i == 0 else f"-{w}x{h}"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
