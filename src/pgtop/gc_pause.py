"""Start-up without the cyclic garbage collector.

Importing Textual and asyncpg creates a few hundred thousand objects, and the collector
walks them again and again while they load: 40-50 ms of a 0.35 s start at 1,000 sessions,
measured with benchmarks/run.py. Almost none of them is garbage. So pgtop starts with the
collector off and, once the first screen is drawn, collects once (the start-up leaves
~4,000 objects in cycles, ~1 MB at 1,000 sessions, which a freeze would keep for good;
not after a start that made millions of objects: COLLECT_UP_TO),
moves everything alive into the permanent generation (`gc.freeze`), where later
collections do not rescan it, and turns the collector back on.

`_paused` is the only state: `pause` sets it (__main__, before the heavy imports) and
`resume` clears it (the app after its first frame, or the --once runner); both are
idempotent, so whichever comes first does the work.
"""

from __future__ import annotations

import gc

_paused = False
# Collect before the freeze while the start-up made at most this many container objects:
# a 1,000-session live start makes ~100,000 (one collection of ~30-60 ms after the first
# frame frees ~1 MB); a big replay makes millions, whose walk would hold the first keys
# for a second, for the same MB.
COLLECT_UP_TO = 300_000


def pause() -> None:
    global _paused
    if gc.isenabled():
        gc.disable()
        _paused = True


def resume() -> None:
    """Idempotent: the app calls it after its first frame and again from a timer."""
    global _paused
    if _paused:
        _paused = False
        if gc.get_count()[0] <= COLLECT_UP_TO:
            gc.collect()
        gc.freeze()
        gc.enable()
