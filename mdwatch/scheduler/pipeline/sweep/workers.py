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
from collections.abc import Mapping, Sequence
from concurrent.futures import Future, ProcessPoolExecutor

from mdwatch.crawler.lifeline import die_with_parent
from mdwatch.crawler.sweep_items import SweepItem
from mdwatch.scheduler.pipeline.ocr import ImageOutcome
from mdwatch.scheduler.pipeline.sweep.processor import PageDone, PageProcessor, ProcessorConfig

__all__ = ["start_pool", "submit_batch"]

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


def _warm_up() -> None:
    """Load the lexicons and the claim model now, while the crawl fetches its first pages; they
    are the end of the start-up, frozen out of the collections with it."""
    assert _worker is not None
    if not _worker.memory.frozen:
        _worker.warm_up()
        _worker.memory.freeze()


def _work(batch: Sequence[tuple[SweepItem, Mapping[str, ImageOutcome] | None]]) -> list[PageDone]:
    assert _worker is not None
    done = _worker.process_batch(batch)
    if not _worker.memory.frozen:  # a worker that got no warm-up: its first batch loaded the rest
        _worker.memory.freeze()
    return done


def start_pool(config: ProcessorConfig, workers: int) -> ProcessPoolExecutor:
    """``workers`` analysis processes for the sweep ``config`` describes, watching this process.

    They start now, each with a warm-up task (the pool would start a process only when a page
    arrives for it, and the process would then spend most of a second loading before its first
    page): by the time the crawl has its first pages, the workers are ready for them.
    """
    pool = ProcessPoolExecutor(
        max_workers=workers,
        mp_context=multiprocessing.get_context("spawn"),
        initializer=_init_worker,
        initargs=(config, os.getpid()),
    )
    for _ in range(workers):
        pool.submit(_warm_up)
    return pool


def submit_batch(pool: ProcessPoolExecutor,
                 batch: Sequence[tuple[SweepItem, Mapping[str, ImageOutcome] | None]]) -> Future[list[PageDone]]:
    """Analyze and store ``batch`` (each item with what its images read) in one of the pool's processes."""
    return pool.submit(_work, batch)
