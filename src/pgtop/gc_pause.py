"""Start-up without the cyclic garbage collector.

Importing Textual and asyncpg creates a few hundred thousand objects, and the collector
walks them again and again while they load: 40-50 ms of a 0.35 s start at 1,000 sessions,
measured with benchmarks/run.py. Almost none of them is garbage. So pgtop starts with the
collector off and, once the first screen is drawn, collects once (the start-up leaves
~4,000 objects in cycles, ~1 MB at 1,000 sessions, which a freeze would keep for good;
not after a start that made millions of objects: COLLECT_UP_TO), moves everything alive
into the permanent generation (`gc.freeze`), where later collections do not rescan it,
and turns the collector back on with a larger young generation (YOUNG_THRESHOLD).

The oldest generation is collected less often (`OLDEST_AFTER`): a full collection
walks every live session record, ~0.3 s at 50,000 sessions on a busy 2-core machine,
and with the default threshold it came every few polls of a 50,000-session replay,
holding the event loop (and every key) that long.

`_paused` is the only state: `pause` sets it (__main__, before the heavy imports) and
`resume` clears it (the app after its first frame, or the --once runner); both are
idempotent, so whichever comes first does the work.
"""

from __future__ import annotations

import gc

_paused = False
# Collect the young generation after this many new container objects, not Python's 700.
# Each repaint makes thousands (Textual's strips carry seven small caches each), nearly
# all freed by reference counting within a tick; at 700 the collector ran ~3 times a
# second walking the survivors (~1.5-4 ms/s, 5-13 % of pgtop's CPU at 1,000 sessions;
# 0.2 ms/s at 8,000). Cyclic garbage waits a little longer: about +1 MB resident.
YOUNG_THRESHOLD = 10_000
# Collections of the middle generation before the oldest is collected (Python's default
# is 10). With the young generation above, a full collection comes after ~10 million new
# objects: every minute or two of a 50,000-session replay (not every few seconds), about
# hourly at 1,000 live sessions, so a monitor left running for days still frees the
# cycles of screens it closed.
OLDEST_AFTER = 100
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
        gc.set_threshold(YOUNG_THRESHOLD, gc.get_threshold()[1], OLDEST_AFTER)
        gc.enable()
