"""The sweep's Scrapy item pipeline: SweepItem → Page → registry snapshot → analyze → store one page.

The analysis is the same as ``scan``'s (:func:`mdwatch.scheduler.pipeline.analyze_result`: build
the page, a shop together with its qualification pages, the registry snapshot, every analyzer).
Each page is stored in its own transaction together with its ``sweep_pages`` row
(:func:`mdwatch.storage.sweeps.save_sweep_page`), so a page is never stored twice and an
interrupted sweep knows exactly what is done.

The work of one page (:class:`PageProcessor`) runs either inline in the crawl's thread
(``workers=0``) or in a pool of worker processes, so extraction, analysis and the database
commit run beside Scrapy's engine rather than stalling it. Workers exit when their parent dies
(``kill -9`` of a sweep leaves no orphan behind).

Hooks for the other parts of issue 5 are the functions under "HOOKS" below: history
(before / after a page is stored, at the end of a sweep) and evidence (after a page is stored,
in the crawl process, where the browser lives).
"""

from __future__ import annotations

import asyncio
import dataclasses
import multiprocessing
import os
import threading
import time
from collections import Counter
from collections.abc import Callable
from concurrent.futures import Executor, ProcessPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any, cast

from scrapy import signals
from scrapy.exceptions import NotConfigured

from mdwatch.analyzers.model import Context, PageKind
from mdwatch.crawler.capture import FetchResult
from mdwatch.crawler.sweep_spider import SweepFailure, SweepItem
from mdwatch.scheduler.pipeline import ScanOutcome, analyze_result, make_context, page_record
from mdwatch.scheduler.registry import RegistrySource
from mdwatch.storage.store import Store
from mdwatch.storage.sweeps import open_sweep_store, save_sweep_page

if TYPE_CHECKING:
    from scrapy.crawler import Crawler

__all__ = [
    "PageDone",
    "PageProcessor",
    "ProcessorConfig",
    "SweepPipeline",
    "SweepRuntime",
]


# ============================================================================ HOOKS
# Filled by the engineers of history and evidence (docs/sweep-design.md). Each is called for
# every page; keep them cheap, and never let them raise for one bad page.


def history_before_store(processor: PageProcessor, item: SweepItem, outcome: ScanOutcome) -> ScanOutcome:
    """HISTORY HOOK (worker): add LISTING_CHANGED / PRICE_ANOMALY to ``outcome.findings``.

    Load the previous capture summary of ``outcome.url`` (``processor.store``), compare with this
    one (``mdwatch.analyzers.history``), return ``dataclasses.replace(outcome, findings=...)``.
    """
    return outcome


def history_after_store(processor: PageProcessor, item: SweepItem, outcome: ScanOutcome, page_id: int) -> None:
    """HISTORY HOOK (worker): remember this capture of the listing (e.g. a snapshot row)."""


def history_sweep_finished(store: Store, run_id: int, status: str) -> None:
    """HISTORY HOOK (crawl process, once at the end): mark listings not seen by a done sweep as gone."""


def evidence_after_store(runtime: SweepRuntime, item: SweepItem, done: PageDone) -> None:
    """EVIDENCE HOOK (crawl process): WARC record of ``item.capture``; queue a screenshot if ``done.rules``."""


# ============================================================================ work of one page


@dataclass(frozen=True, slots=True)
class ProcessorConfig:
    """What a worker needs to process pages (picklable)."""

    db_url: str
    run_id: int
    now: datetime  # the sweep's analysis time (Context.now)
    enabled_rules: frozenset[str] | None = None


@dataclass(frozen=True, slots=True)
class PageDone:
    """What processing one item produced (sent back to the crawl process)."""

    url: str
    role: str
    kind: str | None = None
    rules: tuple[str, ...] = ()  # rule of each finding (duplicates kept)
    stored: bool = False  # False: already stored by this sweep (or an error)
    page_id: int | None = None
    error: str | None = None

    @property
    def findings(self) -> int:
        return len(self.rules)


class PageProcessor:
    """Analyze and store pages of one sweep; one per process (it holds the DB connections)."""

    def __init__(self, config: ProcessorConfig) -> None:
        self.config = config
        self.store = open_sweep_store(config.db_url)
        self.registry = RegistrySource(config.db_url)
        self.ctx: Context = make_context(config.now, config.enabled_rules)

    def close(self) -> None:
        self.registry.close()
        self.store.close()

    def process(self, item: SweepItem) -> PageDone:
        try:
            return self._process(item)
        except Exception as exc:  # one bad page never stops a sweep
            return PageDone(item.capture.url, item.role, error=f"处理 {item.capture.url} 时出错：{type(exc).__name__}：{exc}")

    def _process(self, item: SweepItem) -> PageDone:
        url = item.capture.url
        result = FetchResult(url, item.capture, None, item.related)
        outcome = analyze_result(result, self.ctx, cast("PageKind | None", item.kind_hint), self.registry)
        if outcome.error is not None or outcome.page is None:
            return PageDone(url, item.role, error=outcome.error or f"无法分析 {url}。")
        extracted = dict(outcome.extracted)
        extracted["role"] = item.role
        if item.via_browser:
            extracted["via_browser"] = True
        if item.shop_url and outcome.page.kind == "product":
            extracted["shop_url"] = item.shop_url
        outcome = dataclasses.replace(outcome, extracted=extracted)
        outcome = history_before_store(self, item, outcome)
        kind = outcome.page.kind if outcome.page is not None else None
        page_id = save_sweep_page(self.store, self.config.run_id, url, item.role, page_record(outcome))
        rules = tuple(f.rule for f in outcome.findings)
        if page_id is None:
            return PageDone(url, item.role, kind, rules, stored=False)
        history_after_store(self, item, outcome, page_id)
        return PageDone(url, item.role, kind, rules, stored=True, page_id=page_id)


# -- worker processes

_worker: PageProcessor | None = None


def _watch_parent(parent: int) -> None:
    while True:
        time.sleep(0.5)
        if os.getppid() != parent:
            os._exit(0)  # the sweep was killed: stop, leaving committed pages as they are


def _init_worker(config: ProcessorConfig, parent: int) -> None:
    global _worker
    threading.Thread(target=_watch_parent, args=(parent,), name="mdwatch-parent-watch", daemon=True).start()
    _worker = PageProcessor(config)


def _work(item: SweepItem) -> PageDone:
    assert _worker is not None
    return _worker.process(item)


# ============================================================================ crawl side


@dataclass(slots=True)
class SweepRuntime:
    """The live state of a sweep in the crawl process: counters, the processor, callbacks."""

    config: ProcessorConfig
    workers: int = 1  # 0: process pages inline in the crawl thread
    on_update: Callable[[SweepRuntime], None] | None = None
    started: float = field(default_factory=time.monotonic)
    pages: int = 0  # stored by this process
    findings: int = 0
    flagged: int = 0
    errors: int = 0
    skipped: int = 0  # already stored (never happens unless two workers race)
    via_browser: int = 0
    rules: Counter[str] = field(default_factory=Counter)  # rule → pages
    error_messages: list[str] = field(default_factory=list)
    close_reason: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)  # for hooks (e.g. an evidence writer)

    def rate(self) -> float:
        elapsed = time.monotonic() - self.started
        return self.pages / elapsed if elapsed > 0 else 0.0

    def record(self, done: PageDone) -> None:
        if done.error is not None:
            self.error(done.error)
            return
        if not done.stored:
            self.skipped += 1
            return
        self.pages += 1
        self.findings += done.findings
        if done.rules:
            self.flagged += 1
            self.rules.update(set(done.rules))

    def error(self, message: str) -> None:
        self.errors += 1
        if len(self.error_messages) < 1000:
            self.error_messages.append(message)


class SweepPipeline:
    """Scrapy item pipeline of a sweep; configured by the spider's ``sweep_runtime`` attribute."""

    def __init__(self, crawler: Crawler, runtime: SweepRuntime) -> None:
        self.crawler = crawler
        self.runtime = runtime
        self._executor: Executor | None = None
        self._inline: PageProcessor | None = None
        crawler.signals.connect(self._spider_closed, signal=signals.spider_closed)

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> SweepPipeline:
        runtime = getattr(crawler.spider, "sweep_runtime", None)
        if not isinstance(runtime, SweepRuntime):
            raise NotConfigured("not a sweep")
        return cls(crawler, runtime)

    def open_spider(self) -> None:
        rt = self.runtime
        if rt.workers <= 0:
            self._inline = PageProcessor(rt.config)
        else:
            self._executor = ProcessPoolExecutor(
                max_workers=rt.workers,
                mp_context=multiprocessing.get_context("spawn"),
                initializer=_init_worker,
                initargs=(rt.config, os.getpid()),
            )

    def close_spider(self) -> None:
        if self._executor is not None:
            self._executor.shutdown(wait=True, cancel_futures=False)
            self._executor = None
        if self._inline is not None:
            self._inline.close()
            self._inline = None

    def _spider_closed(self, spider: Any, reason: str) -> None:
        self.runtime.close_reason = reason
        stats = self.crawler.stats
        if stats is not None:
            self.runtime.extra["responses"] = int(stats.get_value("response_received_count", 0) or 0)

    async def process_item(self, item: Any) -> Any:
        rt = self.runtime
        if isinstance(item, SweepFailure):
            rt.error(item.message)
        elif isinstance(item, SweepItem):
            if self._inline is not None:
                done = self._inline.process(item)
            else:
                assert self._executor is not None
                done = await asyncio.wrap_future(self._executor.submit(_work, item))
            rt.record(done)
            if item.via_browser and done.stored:
                rt.via_browser += 1
            if done.error is None:
                evidence_after_store(rt, item, done)
        else:
            return item
        if rt.on_update is not None:
            rt.on_update(rt)
        return item

