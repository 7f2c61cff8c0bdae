"""Pages go to the analysis pool a few at a time.

Each page handed to a worker process costs the crawl process a task of its own (pickling, a pipe
write, waking the pool's manager thread, the result's way back) and the worker a transaction of
its own. So the crawl process gathers pages for a moment and hands them over together: at most
:data:`BATCH_PAGES` pages, or what arrived within :data:`BATCH_WAIT_S` of the first one (a slow
crawl waits no longer than that). The worker analyses them one by one and stores them in one
transaction; each page's coroutine gets its own :class:`PageDone` back.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Mapping
from concurrent.futures import Future, ProcessPoolExecutor

from mdwatch.crawler.sweep_items import SweepItem
from mdwatch.scheduler.pipeline.ocr import ImageOutcome
from mdwatch.scheduler.pipeline.sweep.processor import PageDone
from mdwatch.scheduler.pipeline.sweep.workers import submit_batch

__all__ = ["BATCH_PAGES", "BATCH_WAIT_S", "PageBatcher"]

BATCH_PAGES = 16
BATCH_WAIT_S = 0.05

_Waiting = tuple[SweepItem, Mapping[str, ImageOutcome] | None, "asyncio.Future[PageDone]"]


class PageBatcher:
    """Hands pages to ``pool`` in batches; used from the crawl's event loop only."""

    def __init__(self, pool: ProcessPoolExecutor, size: int = BATCH_PAGES, wait_s: float = BATCH_WAIT_S) -> None:
        self._pool = pool
        self.size, self.wait_s = max(size, 1), wait_s
        self._waiting: list[_Waiting] = []
        self._timer: asyncio.TimerHandle | None = None
        self.batches = 0

    async def analyze(self, item: SweepItem, ocr: Mapping[str, ImageOutcome] | None) -> PageDone:
        """Analyze and store ``item`` in the pool, with the pages that come with it."""
        loop = asyncio.get_running_loop()
        result: asyncio.Future[PageDone] = loop.create_future()
        self._waiting.append((item, ocr, result))
        if len(self._waiting) >= self.size:
            self.flush()
        elif self._timer is None:
            self._timer = loop.call_later(self.wait_s, self.flush)
        return await result

    def flush(self) -> None:
        """Hand over what is waiting now."""
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        batch, self._waiting = self._waiting, []
        if not batch:
            return
        self.batches += 1
        try:
            submitted = submit_batch(self._pool, [(item, ocr) for item, ocr, _ in batch])
        except Exception as exc:  # the pool is broken or shut down: every page of the batch says so
            for _, _, waiting in batch:
                if not waiting.done():
                    waiting.set_exception(exc)
            return
        loop = batch[0][2].get_loop()

        def back(done: Future[list[PageDone]]) -> None:  # on the pool's thread
            with contextlib.suppress(RuntimeError):  # the loop is closed: nobody waits any more
                loop.call_soon_threadsafe(_hand_back, done, batch)

        submitted.add_done_callback(back)


def _hand_back(submitted: Future[list[PageDone]], batch: list[_Waiting]) -> None:
    """Each waiting page its PageDone (or the batch's exception), on the event loop."""
    try:
        results = submitted.result()
    except BaseException as exc:  # the pool broke: every page of the batch says so
        for _, _, waiting in batch:
            if not waiting.done():
                waiting.set_exception(exc)
        return
    for (_, _, waiting), done in zip(batch, results, strict=True):
        if not waiting.done():
            waiting.set_result(done)
