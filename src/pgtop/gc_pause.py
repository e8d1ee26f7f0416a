"""Start-up without the cyclic garbage collector.

Importing Textual and asyncpg creates a few hundred thousand objects, and the collector
walks them again and again while they load: 40-50 ms of a 0.35 s start at 1,000 sessions,
measured with benchmarks/run.py. Almost none of them is garbage. So pgtop starts with the
collector off and, once the first screen is drawn, collects once (the start-up leaves
~5,000 objects in cycles, ~1 MB at 1,000 sessions, which a freeze would keep for good),
moves everything alive into the permanent generation (`gc.freeze`), where later
collections do not rescan it, and turns the collector back on.

`_paused` is the only state: `pause` sets it (__main__, before the heavy imports) and
`resume` clears it (the app after its first frame, or the --once runner); both are
idempotent, so whichever comes first does the work.
"""

from __future__ import annotations

import gc

_paused = False


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
        gc.collect()  # after the first frame: ~20 ms once, for ~1 MB less at the peak
        gc.freeze()
        gc.enable()
