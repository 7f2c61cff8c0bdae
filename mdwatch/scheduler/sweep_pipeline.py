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

OCR (``SweepRuntime.ocr_engine``; issue 4 item 5): the spider hands each page over together with
its downloaded images (``SweepItem.images``). Their reading goes to one :class:`OcrStage`
shared by the whole sweep (its own process pool sized to the cores; each distinct image read
once, cached in the database); the page's item waits, as an asyncio future, for its own images
only, then goes to the analysis worker with the text read. Neither the reactor thread nor any
other page waits for it; a page without images goes straight through.

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
from collections.abc import Callable, Mapping
from concurrent.futures import Executor, Future, ProcessPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any, cast
from urllib.parse import urlsplit

from scrapy import signals
from scrapy.exceptions import NotConfigured
from sqlalchemy.orm import Session
from twisted.internet.defer import Deferred
from twisted.internet.threads import deferToThread

from mdwatch.analyzers.history import current_snapshot, from_stored
from mdwatch.analyzers.model import Context, ListingHistory, Page, PageKind
from mdwatch.analyzers.packs import EVERY_RULE, RuleSelection
from mdwatch.crawler.capture import FetchResult
from mdwatch.crawler.images import ImageCapture
from mdwatch.crawler.sweep_spider import SweepFailure, SweepItem
from mdwatch.scheduler.ocr_stage import ImageOutcome, OcrStage
from mdwatch.scheduler.pipeline import ScanOutcome, analyze_result, make_context, page_record
from mdwatch.scheduler.registry import RegistrySource
from mdwatch.storage.history import HistoryStore
from mdwatch.storage.store import Store
from mdwatch.storage.sweeps import (
    SweepHistory,
    done_urls,
    get_sweep,
    note_budget_exhausted,
    open_sweep_store,
    save_sweep_page,
    sweep_counts,
)

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


class ListingHistoryStage:
    """The history stage of a sweep's page pipeline (worker side).

    Before the analysis, a product page's context gets the listing's earlier captures from other
    runs (a resumed sweep never compares a page with the snapshot it stored itself before the
    interruption), so the history rules (``analyzers.history``, in the analyzer registry) can
    judge it. After the analysis, :meth:`pending_write` says what to write in the page's own
    transaction, so the snapshot is committed exactly when the page is:

    - an unchanged page (same capture SHA-256 as the listing's last snapshot) gets no new
      snapshot: the last one's ``seen_until`` moves forward (the page still counts as seen and
      done; history rules never fire on unchanged content);
    - otherwise this capture's snapshot, with every rule that fired on it.
    """

    def __init__(self, store: Store, run_id: int) -> None:
        self._store = store
        self._run_id = run_id
        self._history: SweepHistory | None = None
        self._recent: list[Any] = []
        self._listing: ListingHistory | None = None

    @property
    def history(self) -> SweepHistory:
        if self._history is None:
            self._history = SweepHistory(self._store)
        return self._history

    def context_for(self, page: Page, ctx: Context, result: FetchResult) -> Context:
        self._recent, self._listing = [], None
        cap = result.capture
        if page.kind != "product" or cap is None:
            return ctx
        # one query: the listing's latest snapshots from other runs
        self._recent = self.history.recent(result.url, self._run_id)
        previous = tuple(from_stored(r) for r in self._recent if r.fetched_at < cap.fetched_at)
        self._listing = ListingHistory(result.url, cap.fetched_at, cap.sha256.lower(), previous)
        return dataclasses.replace(ctx, history=self._listing)

    def pending_write(self, outcome: ScanOutcome, ctx: Context) -> Callable[[Session, int], None] | None:
        listing, page = self._listing, outcome.page
        if listing is None or page is None:
            return None
        hs = self.history
        if self._recent and self._recent[0].sha256 == listing.sha256:
            last, fetched_at = self._recent[0], listing.fetched_at

            def seen(session: Session, page_id: int) -> None:
                hs.seen_again(session, last, fetched_at)

            return seen
        cur = current_snapshot(page, dataclasses.replace(ctx, history=listing), outcome.findings)
        run_id = self._run_id

        def save(session: Session, page_id: int) -> None:
            hs.save(session, run_id, cur.url, cur.fetched_at, cur.sha256, price=cur.price,
                    original_price=cur.original_price, rules=cur.rules, warnings=cur.warnings, claims=cur.claims)

        return save


def history_sweep_finished(store: Store, run_id: int, status: str) -> None:
    """HISTORY HOOK (crawl process, once at the end): mark listings not seen by a done sweep as gone.

    Only after a sweep that covered the whole platform: status ``done`` and the page budget not
    used up (a budget-limited sweep did not look everywhere). Listings are never deleted.
    """
    if status != "done":
        return
    run = get_sweep(store, run_id)
    if run is None or budget_exhausted(store, run_id, run.stats):
        return
    domains = {urlsplit(u).netloc.lower() for u in run.stats.get("start_urls") or () if isinstance(u, str)}
    domains.discard("")
    if not domains:
        return
    seen = done_urls(store, run_id)
    hs = HistoryStore(store)
    for domain in sorted(domains):
        hs.mark_gone(run_id, seen, domain=domain)


def budget_exhausted(store: Store, run_id: int, stats: dict[str, Any]) -> bool:
    """True when the sweep stopped because of its page budget (or may have: pages ≥ budget)."""
    if stats.get("budget_exhausted"):
        return True
    budget = stats.get("budget")
    if budget is None:
        return False
    return sweep_counts(store, run_id)["pages"] >= int(budget)


def evidence_open(runtime: SweepRuntime, enabled: bool) -> None:
    """EVIDENCE (crawl process, start of this process's part of the sweep): a new WARC part."""
    if not enabled:
        return
    from mdwatch.scheduler.evidence_jobs import open_sweep_warc

    runtime.extra["warc"] = open_sweep_warc(runtime.config.run_id)


def evidence_after_store(runtime: SweepRuntime, item: SweepItem, done: PageDone) -> None:
    """EVIDENCE HOOK (crawl process): WARC records of the committed page and its related captures."""
    writer = runtime.extra.get("warc")
    if writer is None or not done.stored:
        return
    try:
        writer.write_capture(item.capture)
        for related in item.related:
            writer.write_capture(related)
    except Exception as exc:  # a full disk must not lose the page (it is committed already)
        runtime.error(f"写入 WARC 证据文件失败：{type(exc).__name__}：{exc}")


def evidence_finish(runtime: SweepRuntime, screenshots: bool) -> None:
    """EVIDENCE (blocking, off the reactor thread; also after Ctrl-C): screenshots, close the WARC.

    Screenshots of the sweep's pages with findings that have none yet (rendered from the captured
    HTML), written to this part's WARC too; skipped after an interruption (the resumed part takes
    them: pages that already have one are skipped). Then the WARC part is closed and registered
    with its SHA-256.
    """
    writer = runtime.extra.pop("warc", None)
    if writer is None:
        return
    from mdwatch.scheduler.evidence_jobs import capture_evidence, close_sweep_warc

    db_url, run_id = runtime.config.db_url, runtime.config.run_id
    try:
        if screenshots and runtime.close_reason == "finished":
            from mdwatch.crawler.evidence import Screenshotter

            try:
                with Screenshotter() as shared:
                    result = capture_evidence(db_url, run_id, None, screenshotter=shared, warc=writer)
                runtime.extra["screenshots"] = len(result.saved)
                for page_id, reason in list(result.failed.items())[:5]:
                    runtime.error(f"页面 {page_id} 截图失败：{reason}")
            except Exception as exc:
                runtime.error(f"截图失败：{type(exc).__name__}：{exc}")
    finally:
        close_sweep_warc(db_url, run_id, writer)


# ============================================================================ work of one page


@dataclass(frozen=True, slots=True)
class ProcessorConfig:
    """What a worker needs to process pages (picklable)."""

    db_url: str
    run_id: int
    now: datetime  # the sweep's analysis time (Context.now)
    selection: RuleSelection = EVERY_RULE  # the sweep's rule packs


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
        self.ctx: Context = make_context(config.now)
        self.history = ListingHistoryStage(self.store, config.run_id)

    def close(self) -> None:
        self.registry.close()
        self.store.close()

    def process(self, item: SweepItem, ocr: Mapping[str, ImageOutcome] | None = None) -> PageDone:
        """Analyze and store one page; ``ocr`` (None: the sweep runs without OCR) is what its images read."""
        try:
            return self._process(item, ocr)
        except Exception as exc:  # one bad page never stops a sweep
            return PageDone(item.capture.url, item.role, error=f"处理 {item.capture.url} 时出错：{type(exc).__name__}：{exc}")

    def _process(self, item: SweepItem, ocr: Mapping[str, ImageOutcome] | None) -> PageDone:
        url = item.capture.url
        result = FetchResult(url, item.capture, None, item.related, item.images)
        outcome = analyze_result(result, self.ctx, cast("PageKind | None", item.kind_hint), self.registry, ocr,
                                 selection=self.config.selection, history=self.history)
        if outcome.error is not None or outcome.page is None:
            return PageDone(url, item.role, error=outcome.error or f"无法分析 {url}。")
        extracted = dict(outcome.extracted)
        extracted["role"] = item.role
        if item.via_browser:
            extracted["via_browser"] = True
        if item.shop_url and outcome.page.kind == "product":
            extracted["shop_url"] = item.shop_url
        outcome = dataclasses.replace(outcome, extracted=extracted)
        kind = outcome.page.kind if outcome.page is not None else None
        pending = self.history.pending_write(outcome, self.ctx)

        def also(session: Session, page_id: int) -> None:
            if pending is not None:
                pending(session, page_id)

        page_id = save_sweep_page(self.store, self.config.run_id, url, item.role, page_record(outcome), also)
        rules = tuple(f.rule for f in outcome.findings)
        if page_id is None:
            return PageDone(url, item.role, kind, rules, stored=False)
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


def _work(item: SweepItem, ocr: Mapping[str, ImageOutcome] | None = None) -> PageDone:
    assert _worker is not None
    return _worker.process(item, ocr)


def _without_bodies(item: SweepItem) -> SweepItem:
    """The item as the analysis needs it: image URLs, not their bytes (they are read already)."""
    if not item.images:
        return item
    images = tuple(ImageCapture(i.url, i.status, i.content_type, b"", i.sha256, i.error, i.error_kind)
                   for i in item.images)
    return dataclasses.replace(item, images=images)


# ============================================================================ crawl side


@dataclass(slots=True)
class SweepRuntime:
    """The live state of a sweep in the crawl process: counters, the processor, callbacks."""

    config: ProcessorConfig
    workers: int = 1  # 0: process pages inline in the crawl thread
    ocr_engine: str | None = None  # None: no OCR (the spider then downloads no image)
    ocr_workers: int | None = None  # OCR processes; None: one per core
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
        self._executor: Executor | None = None
        self._inline: PageProcessor | None = None
        self._ocr: OcrStage | None = None
        crawler.signals.connect(self._spider_closed, signal=signals.spider_closed)

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> SweepPipeline:
        runtime = getattr(crawler.spider, "sweep_runtime", None)
        if not isinstance(runtime, SweepRuntime):
            raise NotConfigured("not a sweep")
        return cls(crawler, runtime)

    def open_spider(self) -> None:
        rt = self.runtime
        settings = self.crawler.settings
        evidence_open(rt, settings.getbool("MDWATCH_EVIDENCE", True))
        if rt.ocr_engine is not None:
            # the pool starts on the first image that needs reading
            self._ocr = OcrStage(rt.ocr_engine, workers=rt.ocr_workers, db_url=rt.config.db_url)
        if rt.workers <= 0:
            self._inline = PageProcessor(rt.config)
        else:
            self._executor = ProcessPoolExecutor(
                max_workers=rt.workers,
                mp_context=multiprocessing.get_context("spawn"),
                initializer=_init_worker,
                initargs=(rt.config, os.getpid()),
            )

    async def close_spider(self) -> None:
        if self._executor is not None:
            self._executor.shutdown(wait=True, cancel_futures=False)
            self._executor = None
        if self._inline is not None:
            self._inline.close()
            self._inline = None
        if self._ocr is not None:
            stage, self._ocr = self._ocr, None
            self.runtime.extra["ocr"] = {"engine": stage.engine_name, **stage.stats.as_dict()}
            await asyncio.wrap_future(_close_in_thread(stage))
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

    def _spider_closed(self, spider: Any, reason: str) -> Deferred[None]:
        self.runtime.close_reason = reason
        stats = self.crawler.stats
        if stats is not None:
            self.runtime.extra["responses"] = int(stats.get_value("response_received_count", 0) or 0)
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
            ocr: Mapping[str, ImageOutcome] | None = None
            if self._ocr is not None:
                ocr = {}
                if item.images:  # wait for this page's images only, off the reactor thread
                    ocr = (await asyncio.wrap_future(self._ocr.submit(item.images))).results
                    item = _without_bodies(item)
            if self._inline is not None:
                done = self._inline.process(item, ocr)
            else:
                assert self._executor is not None
                done = await asyncio.wrap_future(self._executor.submit(_work, item, ocr))
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

