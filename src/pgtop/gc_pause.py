"""Start-up without the cyclic garbage collector.

Importing Textual and asyncpg creates a few hundred thousand objects, and the collector
walks them again and again while they load: 40-50 ms of a 0.35 s start at 1,000 sessions,
measured with benchmarks/run.py. None of them is garbage. So pgtop starts with the
collector off and, once the first screen is drawn, moves everything alive into the
permanent generation (`gc.freeze`), where later collections do not rescan it, and turns
the collector back on with a larger young generation (YOUNG_THRESHOLD).

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
        gc.freeze()
        gc.set_threshold(YOUNG_THRESHOLD, *gc.get_threshold()[1:])
        gc.enable()
