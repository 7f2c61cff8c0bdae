"""A long sweep gives freed memory back: at most once per interval, in every process of the sweep."""

from __future__ import annotations

import gc
import weakref

from mdwatch.scheduler.pipeline.sweep import memory
from mdwatch.scheduler.pipeline.sweep.memory import MemoryRelease, release_memory


class _Cycle:
    def __init__(self) -> None:
        self.me = self


def test_release_is_rate_limited() -> None:
    now = [100.0]
    release = MemoryRelease(interval_s=10.0, clock=lambda: now[0])
    assert not release.tick()  # the interval counts from the start
    now[0] += 9.9
    assert not release.tick()
    now[0] += 0.2
    assert release.tick()
    assert not release.tick()
    now[0] += 10.0
    assert release.tick()
    assert release.releases == 2


def test_release_collects_cycles_and_trims_the_heap() -> None:
    gc.disable()  # only release_memory may collect the cycle below
    try:
        garbage = weakref.ref(_Cycle())
        assert garbage() is not None  # unreachable, but a cycle: alive until a collection
        release_memory()
        assert garbage() is None
    finally:
        gc.enable()
    assert memory._malloc_trim() is not None  # glibc here: the heap's free pages go back


def test_freeze_keeps_start_up_out_of_collections_until_thawed() -> None:
    release = MemoryRelease()
    start_up = [_Cycle()]  # alive when the sweep starts
    before = gc.get_threshold()
    release.freeze()
    try:
        assert gc.get_freeze_count() > 0
        assert gc.get_threshold() == memory.SWEEP_GC_THRESHOLDS  # young collections less often
        late = weakref.ref(_Cycle())  # allocated during the sweep: still collected
        release_memory()
        assert late() is None
    finally:
        release.thaw()
    assert gc.get_freeze_count() == 0 and gc.get_threshold() == before
    release.thaw()  # twice is harmless
    assert start_up
