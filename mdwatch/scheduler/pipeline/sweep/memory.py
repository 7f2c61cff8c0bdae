"""Giving memory back during a long sweep.

A sweep's processes allocate and free response bodies, parse trees and Deferred chains by the
hundred thousand. Two things keep that memory counted in the RSS long after it is free: reference
cycles (Twisted's Deferreds and Failures, parse results) that wait for a full collection, which
CPython runs rarely once a process holds as many objects as ours do after its imports; and glibc's
heap, which keeps freed pages mapped. Measured on a 5,000-listing sweep: the crawl process held 246
MB, 207 MB after a full collection and ``malloc_trim(0)``. So every process of a sweep does both,
at most once per interval.

A full collection walks every container object of the process, and most of those are the
process's start-up: modules, Scrapy's components, the lexicons and their automata. In the crawl
process that made each collection cost 140–180 ms (5 % of its CPU at one per 3 s). So a sweep
freezes what exists when it starts (``gc.freeze``: CPython's permanent generation, never walked)
and the collections see only what the sweep allocated since; the crawl thaws it when the sweep
ends, because a process that runs sweeps one after another (the scheduler, the test suite) must
not keep one sweep's start-up objects out of the collector for good.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import gc
import sys
import time
from collections.abc import Callable
from functools import cache

__all__ = ["MemoryRelease", "release_memory"]

INTERVAL_S = 3.0
# CPython collects its youngest generation every 700 net allocations of container objects. A
# sweep's processes allocate Requests, Deferreds and parse results by the million and free nearly
# all of them by reference counting, so those collections found little: in the crawl process of a
# 2,122-page sweep, 842 young and 76 middle collections cost 0.29 s, 8 % of its CPU. Every tenth
# of that frequency loses nothing the periodic full collection (every INTERVAL_S) does not find.
SWEEP_GC_THRESHOLDS = (10_000, 20, 100)


@cache
def _malloc_trim() -> Callable[[int], int] | None:
    """glibc's ``malloc_trim``; None elsewhere (musl and other C libraries have none)."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        trim: Callable[[int], int] = libc.malloc_trim
    except (OSError, AttributeError):
        return None
    return trim


def release_memory() -> None:
    """Collect reference cycles and hand the C heap's free pages back to the system."""
    gc.collect()
    trim = _malloc_trim()
    if trim is not None:
        trim(0)


class MemoryRelease:
    """``release_memory`` at most once per ``interval_s`` seconds, whenever ``tick`` is called."""

    def __init__(self, interval_s: float = INTERVAL_S, clock: Callable[[], float] = time.monotonic) -> None:
        self.interval_s = interval_s
        self._clock = clock
        self._last = clock()
        self.releases = 0
        self._frozen = False
        self._thresholds = gc.get_threshold()

    def freeze(self) -> None:
        """Leave the objects that exist now (the process's start-up) out of every later collection,
        and collect the young generations less often (see :data:`SWEEP_GC_THRESHOLDS`)."""
        gc.collect()  # what is garbage already goes now, not into the permanent generation
        gc.freeze()
        self._frozen = True
        self._thresholds = gc.get_threshold()
        gc.set_threshold(*SWEEP_GC_THRESHOLDS)

    @property
    def frozen(self) -> bool:
        return self._frozen

    def thaw(self) -> None:
        """Undo :meth:`freeze` (the sweep is over; the process may go on to other work)."""
        if self._frozen:
            gc.unfreeze()
            gc.set_threshold(*self._thresholds)
            self._frozen = False

    def tick(self) -> bool:
        """Release if the interval has passed since the last release (or since the start); True if it did."""
        now = self._clock()
        if now - self._last < self.interval_s:
            return False
        release_memory()
        self._last = self._clock()
        self.releases += 1
        return True
