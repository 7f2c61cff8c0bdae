"""The pool of analysis processes of a sweep: each holds one :class:`PageProcessor`.

The functions handed to the pool (:func:`_init_worker`, :func:`_work`) stay at module level so
the ``spawn`` context can pickle them by name. Workers exit when their parent dies (``kill -9``
of a sweep leaves no orphan behind).
"""

from __future__ import annotations

import multiprocessing
import multiprocessing.util
import os
import signal
import sys
from collections.abc import Mapping
from concurrent.futures import Future, ProcessPoolExecutor

from mdwatch.crawler.lifeline import die_with_parent
from mdwatch.crawler.sweep_items import SweepItem
from mdwatch.scheduler.pipeline.ocr import ImageOutcome
from mdwatch.scheduler.pipeline.sweep.processor import PageDone, PageProcessor, ProcessorConfig

__all__ = ["start_pool", "submit_page"]

_worker: PageProcessor | None = None  # this worker process's processor (set by _init_worker)


def _init_worker(config: ProcessorConfig, parent: int) -> None:
    global _worker
    # the sweep was killed: stop, leaving committed pages as they are (the pool's processes are
    # started by the crawl's reactor thread, which lives as long as the sweep)
    die_with_parent(parent)
    # Ctrl-C is the crawl process's to handle: it stops fetching and lets the pool finish the
    # pages it was given, then shuts the pool down (which closes each worker's WARC part)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    _worker = PageProcessor(config)
    # a worker ends when the pool shuts down: close its databases and its WARC part then
    # (multiprocessing runs these finalizers as a worker process exits normally)
    multiprocessing.util.Finalize(None, _close_worker, exitpriority=10)


def _close_worker() -> None:
    global _worker
    worker, _worker = _worker, None
    if worker is not None:
        warning = worker.close()
        if warning is not None:
            print(f"mdwatch: {warning}", file=sys.stderr, flush=True)


def _work(item: SweepItem, ocr: Mapping[str, ImageOutcome] | None = None) -> PageDone:
    assert _worker is not None
    first = _worker.pages == 0
    done = _worker.process(item, ocr)
    if first:  # the lexicons and the claim model load on the first page: part of the start-up
        _worker.memory.freeze()
    return done


def start_pool(config: ProcessorConfig, workers: int) -> ProcessPoolExecutor:
    """``workers`` analysis processes for the sweep ``config`` describes, watching this process."""
    return ProcessPoolExecutor(
        max_workers=workers,
        mp_context=multiprocessing.get_context("spawn"),
        initializer=_init_worker,
        initargs=(config, os.getpid()),
    )


def submit_page(pool: ProcessPoolExecutor, item: SweepItem,
                ocr: Mapping[str, ImageOutcome] | None) -> Future[PageDone]:
    """Analyze and store ``item`` in one of the pool's processes."""
    return pool.submit(_work, item, ocr)
