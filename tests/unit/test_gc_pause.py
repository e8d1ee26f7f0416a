"""The start-up without the cyclic collector (gc_pause): what it keeps and what it frees."""

from __future__ import annotations

import gc
import weakref
from collections.abc import Iterator

import pytest

from pgtop import gc_pause


class _Node:
    def __init__(self) -> None:
        self.me = self  # a cycle: only the cyclic collector frees it


@pytest.fixture
def paused() -> Iterator[None]:
    assert gc.isenabled()
    gc_pause.pause()
    yield
    gc_pause.resume()  # idempotent: a test that failed half-way leaves the collector on
    gc.unfreeze()  # what resume froze goes back to the collector, as before the test
    gc.enable()


def test_a_cycle_made_while_paused_is_freed_when_the_collector_resumes(paused: None) -> None:
    garbage = weakref.ref(_Node())
    kept = _Node()
    assert garbage() is not None, "paused: no collection frees it"
    gc_pause.resume()
    assert garbage() is None, "resume froze the start-up's garbage for good"
    assert weakref.ref(kept)() is kept and gc.isenabled()


def test_after_a_start_that_made_millions_of_objects_resume_does_not_walk_them(
    paused: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A big replay: no collection (it would hold the first keys), the freeze alone."""
    monkeypatch.setattr(gc_pause, "COLLECT_UP_TO", -1)
    garbage = weakref.ref(_Node())
    gc_pause.resume()
    assert garbage() is not None and gc.isenabled()
