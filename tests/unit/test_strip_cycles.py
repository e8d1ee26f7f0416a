"""A painted line is freed by reference counting, not left for the cyclic collector
(ui/strip_cycles.py): Textual's compositor divides every line it paints, and a cut at the
line's own length left the strip in a reference cycle of its own cache."""

import gc

from rich.segment import Segment
from textual.strip import Strip

from pgtop.ui import strip_cycles


def _strips_marked(marker: str) -> int:
    return sum(1 for o in gc.get_objects() if isinstance(o, Strip) and marker in o.text)


def test_a_line_cut_at_its_own_length_is_freed_without_the_collector() -> None:
    strip_cycles.install()
    marker = "strip-cycles-marker-1"
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        strip = Strip([Segment(marker)], len(marker))
        assert strip.divide([len(marker)]) == [strip]  # the answer is Textual's
        assert [s.text for s in strip.divide([3, len(marker)])] == [marker[:3], marker[3:]]
        del strip
        assert _strips_marked(marker) == 0
    finally:
        if was_enabled:
            gc.enable()


def test_textuals_own_divide_would_leave_it_in_a_cycle() -> None:
    """What the workaround is for; if Textual stops caching [self], this fails and the
    workaround can go."""
    marker = "strip-cycles-marker-2"
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        strip = Strip([Segment(marker)], len(marker))
        strip_cycles._textual_divide(strip, [len(marker)])
        del strip
        assert _strips_marked(marker) == 1
    finally:
        gc.collect()
        if was_enabled:
            gc.enable()
