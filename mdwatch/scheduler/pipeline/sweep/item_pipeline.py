"""The sweep's Scrapy item pipeline: each page's OCR, then its analysis (inline or in the worker
pool), then the evidence hook; at the spider's close, the pools and the evidence are finished."""

from __future__ import annotations

import asyncio
import dataclasses
import threading
from collections.abc import Mapping
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import TYPE_CHECKING, Any

from scrapy import signals
from scrapy.exceptions import DropItem, NotConfigured
from twisted.internet.defer import Deferred
from twisted.internet.threads import deferToThread

from mdwatch.crawler.images import ImageCapture
from mdwatch.crawler.sweep_items import SweepFailure, SweepItem
from mdwatch.scheduler.pipeline.ocr import MAX_IMAGES_PER_PAGE, ImageOutcome, OcrStage
from mdwatch.scheduler.pipeline.sweep import cputime
from mdwatch.scheduler.pipeline.sweep.backpressure import OcrBackpressure
from mdwatch.scheduler.pipeline.sweep.batches import PageBatcher
from mdwatch.scheduler.pipeline.sweep.evidence import evidence_after_store, evidence_finish, evidence_open
from mdwatch.scheduler.pipeline.sweep.memory import MemoryRelease
from mdwatch.scheduler.pipeline.sweep.processor import PageDone, PageProcessor
from mdwatch.scheduler.pipeline.sweep.runtime import SweepRuntime
from mdwatch.scheduler.pipeline.sweep.warc_part import WarcPart
from mdwatch.scheduler.pipeline.sweep.workers import start_pool
from mdwatch.storage.sweeps import note_budget_exhausted, open_sweep_store

if TYPE_CHECKING:
    from scrapy.crawler import Crawler

__all__ = ["ANALYSIS_LOST", "SweepPipeline"]

ANALYSIS_LOST = "analysis_lost"  # the close reason of a sweep whose analysis worker died


def _without_bodies(item: SweepItem) -> SweepItem:
    """The item as the analysis needs it: image URLs, not their bytes (they are read already)."""
    if not item.images:
        return item
    images = tuple(ImageCapture(i.url, i.status, i.content_type, b"", i.sha256, i.error, i.error_kind)
                   for i in item.images)
    return dataclasses.replace(item, images=images)


def _close_in_thread(stage: OcrStage) -> Future[None]:
    """Close the OCR stage (joins its pool) on a thread of its own, never on the reactor's."""
    future: Future[None] = Future()

    def run() -> None:
        try:
            stage.close()
        except BaseException as exc:
            future.set_exception(exc)
        else:
            future.set_result(None)

    threading.Thread(target=run, name="mdwatch-ocr-close", daemon=True).start()
    return future


class SweepPipeline:
    """Scrapy item pipeline of a sweep; configured by the spider's ``sweep_runtime`` attribute."""

    def __init__(self, crawler: Crawler, runtime: SweepRuntime) -> None:
        self.crawler = crawler
        self.runtime = runtime
        self._executor: ProcessPoolExecutor | None = None
        self._batcher: PageBatcher | None = None  # hands pages to the executor a few at a time
        self._lost: asyncio.Future[None] | None = None  # the spider's closing, once a worker died
        self._inline: PageProcessor | None = None
        self._ocr: OcrStage | None = None
        self._ocr_cap: int | None = MAX_IMAGES_PER_PAGE  # distinct images read per page (None: all)
        self._backpressure: OcrBackpressure | None = None  # the crawl waits for a local OCR pool
        self._memory = MemoryRelease()
        crawler.signals.connect(self._spider_closed, signal=signals.spider_closed)
        crawler.signals.connect(self._response_received, signal=signals.response_received)

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> SweepPipeline:
        runtime = getattr(crawler.spider, "sweep_runtime", None)
        if not isinstance(runtime, SweepRuntime):
            raise NotConfigured("not a sweep")
        return cls(crawler, runtime)

    def open_spider(self) -> None:
        rt = self.runtime
        settings = self.crawler.settings
        # screenshots need the browser: none when the sweep runs without it (--no-browser)
        shots = settings.getbool("MDWATCH_SCREENSHOTS", True) and bool(settings.get("PLAYWRIGHT_LAUNCH_OPTIONS"))
        evidence = settings.getbool("MDWATCH_EVIDENCE", True)
        evidence_open(rt, evidence, shots)
        cputime.crawl_started(rt)
        self._memory.freeze()
        cap = settings.getint("MDWATCH_OCR_MAX_IMAGES", MAX_IMAGES_PER_PAGE)  # 0: no cap
        self._ocr_cap = cap if cap > 0 else None
        if rt.ocr_engine is not None:
            # the pool starts on the first image that needs reading
            queue = None
            if rt.ocr_queue is not None:
                from mdwatch.scheduler.pipeline.ocr_queue import RqExecutor

                queue = RqExecutor(rt.ocr_queue)
            self._ocr = OcrStage(rt.ocr_engine, workers=rt.ocr_workers, db_url=rt.config.db_url, queue=queue)
            if queue is None:  # the queue's workers are elsewhere, as many as the operator runs
                self._backpressure = OcrBackpressure(self.crawler, self._ocr.workers)
        if rt.workers <= 0:  # the crawl process's own WARC part, shared with its screenshots
            writer = rt.extra.get("warc")
            warc = None if writer is None else WarcPart(rt.config.db_url, rt.config.run_id, writer,
                                                        rt.extra["warc_lock"])
            self._inline = PageProcessor(rt.config, warc)
        else:  # each worker writes the pages it stores to a WARC part of its own
            self._executor = start_pool(dataclasses.replace(rt.config, evidence=evidence), rt.workers)
            self._batcher = PageBatcher(self._executor)

    async def close_spider(self) -> None:
        if self._batcher is not None:
            self._batcher.flush()  # nothing waits by now, normally: every item was processed
            self.runtime.extra["analysis_batches"] = self._batcher.batches
            self._batcher = None
        if self._executor is not None:
            self._executor.shutdown(wait=True, cancel_futures=False)
            self._executor = None
        inline = self._inline is not None
        if self._inline is not None:
            self._inline.close()
            self._inline = None
        ocr_stats = None
        if self._ocr is not None:
            stage, self._ocr = self._ocr, None
            ocr_stats = stage.stats
            self.runtime.extra["ocr"] = {"engine": stage.engine_name, "max_images_per_page": self._ocr_cap,
                                         **stage.stats.as_dict()}
            if self._backpressure is not None:
                self.runtime.extra["ocr"]["crawl_pauses"] = self._backpressure.pauses
            await asyncio.wrap_future(_close_in_thread(stage))
        cputime.crawl_finished(self.runtime, ocr_stats, inline)
        self._memory.thaw()
        self._note_budget()

    def _note_budget(self) -> None:
        """Record in the run's stats that this part used its whole page budget (no gone marking)."""
        spider = self.crawler.spider
        budget = getattr(spider, "budget", None)
        if budget is None or int(getattr(spider, "requested", 0)) < int(budget):
            return
        store = open_sweep_store(self.runtime.config.db_url)
        try:
            note_budget_exhausted(store, self.runtime.config.run_id)
        finally:
            store.close()

    def _response_received(self) -> None:
        cputime.note_response(self.runtime)  # the post-crawl tail is measured from the last one

    def _spider_closed(self, spider: Any, reason: str) -> Deferred[None]:
        self.runtime.close_reason = reason
        # after the pipeline closed (every page committed) and now that the reason is known;
        # screenshots block (a browser on its own thread): never on the reactor thread
        settings = self.crawler.settings
        # screenshots need the browser: none when the sweep runs without it (--no-browser)
        screenshots = settings.getbool("MDWATCH_SCREENSHOTS", True) and bool(settings.get("PLAYWRIGHT_LAUNCH_OPTIONS"))
        return deferToThread(evidence_finish, self.runtime, screenshots)

    async def process_item(self, item: Any) -> Any:
        rt = self.runtime
        if isinstance(item, SweepFailure):
            rt.error(item.message)
        elif isinstance(item, SweepItem):
            item = await self._process_page(item)
        else:
            return item
        if rt.on_update is not None:
            rt.on_update(rt)
        if self._inline is None:  # an inline processor releases for this process itself
            self._memory.tick()
        return item

    async def _process_page(self, item: SweepItem) -> SweepItem:
        """OCR, analysis and evidence of one page; the item as handed on (image bodies dropped once read)."""
        rt = self.runtime
        ocr: Mapping[str, ImageOutcome] | None = None
        if self._ocr is not None:
            ocr = {}
            if item.images:  # wait for this page's images only, off the reactor thread
                if self._backpressure is not None:
                    self._backpressure.enter()
                try:
                    ocr = (await asyncio.wrap_future(self._ocr.submit(item.images, cap=self._ocr_cap))).results
                finally:
                    if self._backpressure is not None:
                        self._backpressure.leave()
                item = _without_bodies(item)
        try:
            done = await self._analyze(item, ocr)
        except BrokenProcessPool:
            self._analysis_lost()
            raise DropItem("analysis pool lost") from None  # not stored: a resume takes it
        rt.record(done)
        cputime.add_page(rt, done)
        if item.via_browser and done.stored:
            rt.via_browser += 1
        if done.error is None:
            evidence_after_store(rt, item, done)
        return item

    def _analysis_lost(self) -> None:
        """An analysis worker died (killed, out of memory): say so once and stop the sweep, which
        a resume takes up where the committed pages end (the pages handed over are not stored)."""
        if self._lost is not None:
            return
        rt = self.runtime
        rt.error(f"分析进程意外退出（可能被终止或内存不足），巡查已停止；已保存的页面不受影响，"
                 f"可用 --resume {rt.config.run_id} 续扫。")
        engine = self.crawler.engine
        if engine is not None:
            self._lost = asyncio.ensure_future(engine.close_spider_async(reason=ANALYSIS_LOST))

    async def _analyze(self, item: SweepItem, ocr: Mapping[str, ImageOutcome] | None) -> PageDone:
        """Analyze and store the page inline (``workers=0``) or in the worker pool."""
        if self._inline is not None:
            return self._inline.process(item, ocr)
        assert self._batcher is not None
        return await self._batcher.analyze(item, ocr)
