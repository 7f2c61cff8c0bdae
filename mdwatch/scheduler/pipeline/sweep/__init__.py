"""The sweep's Scrapy item pipeline: SweepItem → Page → registry snapshot → analyze → store.

The analysis is the same as ``scan``'s (:func:`mdwatch.scheduler.pipeline.analyze_result`: build
the page, a shop together with its qualification pages, the registry snapshot, every analyzer).
Each page is stored together with its ``sweep_pages`` row, in the transaction of the batch it came
in (:func:`mdwatch.storage.sweeps.save_sweep_pages`), so a page is never stored twice and an
interrupted sweep knows exactly what is done.

The work on pages (:class:`PageProcessor`) runs either inline in the crawl's thread
(``workers=0``) or in a pool of worker processes, which the crawl process hands pages a few at a
time (``batches``), so extraction, analysis and the database commit run beside Scrapy's engine
rather than stalling it. Each worker writes the WARC records of the pages it stores
(``warc_part``). Workers exit when their parent dies (``kill -9`` of a sweep leaves no orphan behind).

OCR (``SweepRuntime.ocr_engine``; issue 4 item 5): the spider hands each page over together with
its downloaded images (``SweepItem.images``). Their reading goes to one :class:`OcrStage`
shared by the whole sweep (its own process pool sized to the cores; each distinct image read
once, cached in the database); the page's item waits, as an asyncio future, for its own images
only, then goes to the analysis worker with the text read. Neither the reactor thread nor any
other page waits for it; a page without images goes straight through.

Hooks for the other parts of issue 5: history (before / after a page is stored, at the end of a
sweep; ``history``) and evidence (after a page is stored, in the crawl process, where the browser
lives; ``evidence``).

Modules: ``processor`` (the work on pages), ``workers`` (the analysis process pool), ``batches``
(pages handed over a few at a time), ``warc_part`` (each storing process's WARC part),
``runtime`` (the crawl process's live state), ``item_pipeline`` (the Scrapy pipeline),
``history`` and ``evidence`` (the hooks), ``cputime`` (CPU seconds by stage, in the run's stats)
and ``backpressure`` (the crawl waits while a few pages wait for OCR; issue 15).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from mdwatch.scheduler.pipeline.sweep.history import history_sweep_finished
from mdwatch.scheduler.pipeline.sweep.processor import PageDone, PageProcessor, ProcessorConfig
from mdwatch.scheduler.pipeline.sweep.runtime import SweepRuntime

if TYPE_CHECKING:
    from mdwatch.scheduler.pipeline.sweep.item_pipeline import SweepPipeline


def __getattr__(name: str) -> Any:
    # the Scrapy pipeline only when asked for (Scrapy's ITEM_PIPELINES path names it here): the
    # analysis workers import this package and need neither Scrapy nor Twisted
    if name == "SweepPipeline":
        from mdwatch.scheduler.pipeline.sweep.item_pipeline import SweepPipeline

        return SweepPipeline
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")

__all__ = [
    "PageDone",
    "PageProcessor",
    "ProcessorConfig",
    "SweepPipeline",
    "SweepRuntime",
    "history_sweep_finished",
]
