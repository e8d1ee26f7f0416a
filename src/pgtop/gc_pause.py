"""Start-up without the cyclic garbage collector.

Importing Textual and asyncpg creates a few hundred thousand objects, and the collector
walks them again and again while they load: 40-50 ms of a 0.35 s start at 1,000 sessions,
measured with benchmarks/run.py. None of them is garbage. So pgtop starts with the
collector off and, once the first screen is drawn, moves everything alive into the
permanent generation (`gc.freeze`), where later collections do not rescan it, and turns
the collector back on.

Then the oldest generation is collected less often (`OLDEST_AFTER`): a full collection
walks every live session record, ~0.3 s at 50,000 sessions on a busy 2-core machine,
and with the default threshold it came every few polls of a 50,000-session replay,
holding the event loop (and every key) that long. Young cyclic garbage is still
collected as before; only what survives two collections waits longer.

`_paused` is the only state: `pause` sets it (__main__, before the heavy imports) and
`resume` clears it (the app after its first frame, or the --once runner); both are
idempotent, so whichever comes first does the work.
"""

from __future__ import annotations

import gc

_paused = False
# Collections of the middle generation before the oldest is collected (Python's default
# is 10): at 50,000 sessions a full collection now comes every few minutes, not seconds.
OLDEST_AFTER = 1000


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
        young, middle, _ = gc.get_threshold()
        gc.set_threshold(young, middle, OLDEST_AFTER)
        gc.enable()
