"""CPU seconds of a sweep by stage (issue 15): where a nightly sweep's cores go.

Stages, as recorded in the run's stats (``cpu_s_this_run``):

- ``crawl``: the crawl process (Scrapy's engine, link extraction, page and image downloads, the
  pipeline's glue, handing pages to the workers), less the OCR stage's threads and pages processed inline;
- ``extract``: the page model from the HTML, the images' text merged in (analysis workers);
- ``analysis``: the registry snapshot and every analyzer (analysis workers);
- ``storage``: the page's share of its batch's transaction, and its WARC records (analysis workers);
- ``ocr``: the OCR workers (guard, decode, triage, engine) and the OCR stage's threads in the
  crawl process (cache look-ups, image rows).

Per-thread and per-process CPU clocks, two reads per stage and page: cheap enough for every
sweep. A browser's own processes (Chromium) are not counted: they are not this process's.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from mdwatch.scheduler.pipeline.registry import RegistrySource

if TYPE_CHECKING:
    from mdwatch.analyzers.model import Context, Page
    from mdwatch.scheduler.pipeline.ocr import OcrStats
    from mdwatch.scheduler.pipeline.sweep.processor import PageDone
    from mdwatch.scheduler.pipeline.sweep.runtime import SweepRuntime

__all__ = ["CPU_KEY", "PAGE_STAGES", "ClockedRegistry", "add_page", "crawl_finished", "crawl_started", "note_response"]

CPU_KEY = "cpu_s"  # runtime.extra key (run.py records it as ``cpu_s_this_run``)
PAGE_STAGES = ("extract", "analysis", "storage")  # the order of ``PageDone.cpu``
_STARTED = "cpu_started"
LAST_RESPONSE = "last_response_at"  # time.monotonic() of the crawl's last response (page or image)


class ClockedRegistry(RegistrySource):
    """The registry source that notes when it is asked: the page is extracted by then, the
    analysis starts (the one point between the two inside ``analyze_result``)."""

    mark: float | None = None

    def context_for(self, page: Page, ctx: Context) -> Context:
        self.mark = time.thread_time()
        return super().context_for(page, ctx)


def crawl_started(runtime: SweepRuntime) -> None:
    runtime.extra[_STARTED] = time.process_time()


def note_response(runtime: SweepRuntime) -> None:
    runtime.extra[LAST_RESPONSE] = time.monotonic()


def add_page(runtime: SweepRuntime, done: PageDone) -> None:
    totals: dict[str, Any] = runtime.extra.setdefault(CPU_KEY, {})
    for stage, seconds in zip(PAGE_STAGES, done.cpu, strict=True):
        totals[stage] = totals.get(stage, 0.0) + seconds


def crawl_finished(runtime: SweepRuntime, ocr: OcrStats | None, inline: bool) -> None:
    """The crawl process's own share and the OCR stage's, rounded, into ``runtime.extra``."""
    totals: dict[str, Any] = runtime.extra.setdefault(CPU_KEY, {})
    process = time.process_time() - float(runtime.extra.pop(_STARTED, time.process_time()))
    crawl = process
    if inline:  # pages processed in the crawl's own thread: already counted by stage
        crawl -= sum(float(totals.get(stage, 0.0)) for stage in PAGE_STAGES)
    if ocr is not None:
        crawl -= ocr.stage_cpu_seconds
        totals["ocr"] = ocr.worker_cpu_seconds + ocr.stage_cpu_seconds
    totals["crawl"] = max(crawl, 0.0)
    for stage in PAGE_STAGES:
        totals.setdefault(stage, 0.0)
    runtime.extra[CPU_KEY] = {stage: round(float(seconds), 3) for stage, seconds in totals.items()}
