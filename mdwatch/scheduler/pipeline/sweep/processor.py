"""The work of sweep pages in an analysis worker: each SweepItem → Page → registry snapshot →
analyze, then the batch the worker was handed stored in one transaction, each page with its
``sweep_pages`` row (and its listing history)."""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import cast

from mdwatch.analyzers.model import Context, PageKind
from mdwatch.analyzers.packs import EVERY_RULE, RuleSelection
from mdwatch.crawler.capture import FetchResult
from mdwatch.crawler.sweep_items import SweepItem
from mdwatch.scheduler.pipeline import analyze_result, make_context, page_record, ready_analyzers
from mdwatch.scheduler.pipeline.ocr import CAP_CODE, ImageOutcome, ImageSkip
from mdwatch.scheduler.pipeline.sweep.cputime import ClockedRegistry
from mdwatch.scheduler.pipeline.sweep.history import ListingHistoryStage
from mdwatch.scheduler.pipeline.sweep.memory import MemoryRelease
from mdwatch.scheduler.pipeline.sweep.warc_part import WarcPart
from mdwatch.storage.sweeps import PendingPage, open_sweep_store, save_sweep_pages

__all__ = ["PageDone", "PageProcessor", "ProcessorConfig"]


@dataclass(frozen=True, slots=True)
class ProcessorConfig:
    """What a worker needs to process pages (picklable)."""

    db_url: str
    run_id: int
    now: datetime  # the sweep's analysis time (Context.now)
    selection: RuleSelection = EVERY_RULE  # the sweep's rule packs
    evidence: bool = False  # write each stored page's captures to this process's WARC part


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
    cpu: tuple[float, float, float] = (0.0, 0.0, 0.0)  # CPU seconds: extract, analysis, storage (cputime.py)
    warning: str | None = None  # stored, but its evidence could not be written (Chinese)

    @property
    def findings(self) -> int:
        return len(self.rules)


class PageProcessor:
    """Analyze and store pages of one sweep; one per process (it holds the DB connections)."""

    def __init__(self, config: ProcessorConfig, warc: WarcPart | None = None) -> None:
        """``warc``: where stored pages' captures go (default: a part of this process's own when
        the config asks for evidence)."""
        self.config = config
        if warc is None and config.evidence:
            warc = WarcPart(config.db_url, config.run_id)
        self.warc = warc
        self.store = open_sweep_store(config.db_url)
        self.registry = ClockedRegistry(config.db_url)
        self.ctx: Context = make_context(config.now)
        self.history = ListingHistoryStage(self.store, config.run_id)
        self.memory = MemoryRelease()
        self.pages = 0  # items processed (stored or not)

    def close(self) -> str | None:
        """Close the databases and this process's WARC part; an error line if the part could not be closed."""
        warning = self.warc.close() if self.warc is not None else None
        self.registry.close()
        self.store.close()
        return warning

    def warm_up(self) -> None:
        """Build what the analyzers build once per process, before the first page arrives."""
        ready_analyzers(self.ctx)

    def process(self, item: SweepItem, ocr: Mapping[str, ImageOutcome] | None = None) -> PageDone:
        """Analyze and store one page; ``ocr`` (None: the sweep runs without OCR) is what its images read."""
        return self.process_batch([(item, ocr)])[0]

    def process_batch(self, batch: Sequence[tuple[SweepItem, Mapping[str, ImageOutcome] | None]]) -> list[PageDone]:
        """Analyze pages one by one, then store them in one transaction; a PageDone per page, in order.

        One commit for the batch instead of one per page, with its session and transaction set-up:
        on SQLite, 0.65 ms of storage a page in batches of 16 against 1.15 ms one by one. If the
        batch cannot be stored, each page is tried alone, so one bad page costs only itself.
        """
        # the listings' history in one query for the batch (else one per product page)
        self.history.prefetch([item.capture.url for item, _ in batch if item.role == "product"])
        prepared = [self._prepare(item, ocr) for item, ocr in batch]
        ready = [p for p in prepared if isinstance(p, _Prepared)]
        if ready:
            self._store(ready)
        self.pages += len(batch)
        self.memory.tick()
        return [p if isinstance(p, PageDone) else p.done for p in prepared]

    def _prepare(self, item: SweepItem, ocr: Mapping[str, ImageOutcome] | None) -> _Prepared | PageDone:
        try:
            return self._analyze(item, ocr)
        except Exception as exc:  # one bad page never stops a sweep
            return _failed(item, exc)

    def _analyze(self, item: SweepItem, ocr: Mapping[str, ImageOutcome] | None) -> _Prepared | PageDone:
        url = item.capture.url
        result = FetchResult(url, item.capture, None, item.related, item.images)
        self.registry.mark = None
        started = time.thread_time()
        outcome = analyze_result(result, self.ctx, cast("PageKind | None", item.kind_hint), self.registry, ocr,
                                 selection=self.config.selection, history=self.history)
        analysed = time.thread_time()
        extracted_at = self.registry.mark if self.registry.mark is not None else analysed
        page = outcome.page
        if outcome.error is not None or page is None:
            return PageDone(url, item.role, error=outcome.error or f"无法分析 {url}。")
        extracted = dict(outcome.extracted)
        extracted["role"] = item.role
        if ocr is not None and (limit := _ocr_limit(ocr)) is not None:
            extracted["ocr_limit"] = limit  # the reviewer's line: how many images the cap left unread
        if item.via_browser:
            extracted["via_browser"] = True
        if item.shop_url and page.kind == "product":
            extracted["shop_url"] = item.shop_url
        outcome = dataclasses.replace(outcome, extracted=extracted)
        pending = PendingPage(url, item.role, page_record(outcome), self.history.pending_write(outcome, self.ctx))
        done = PageDone(url, item.role, page.kind, tuple(f.rule for f in outcome.findings),
                        cpu=(extracted_at - started, analysed - extracted_at, 0.0))
        return _Prepared(item, pending, done)

    def _store(self, ready: list[_Prepared]) -> None:
        """Store ``ready`` (one transaction; page by page if that fails) and write the stored pages' WARC records."""
        started = time.thread_time()
        try:
            ids: list[int | Exception | None] = list(save_sweep_pages(
                self.store, self.config.run_id, [p.pending for p in ready], finish=self.history.write_pending))
        except Exception:  # which page failed is not known: each alone, the others stored all the same
            self.history.drop_pending()
            ids = [self._store_alone(p) for p in ready]
        for prepared, page_id in zip(ready, ids, strict=True):
            prepared.store_outcome(page_id, self.warc)
        # the evidence records of the stored pages count as storage, shared evenly by the batch
        each = (time.thread_time() - started) / len(ready)
        for prepared in ready:
            prepared.done = dataclasses.replace(prepared.done, cpu=(*prepared.done.cpu[:2], each))

    def _store_alone(self, prepared: _Prepared) -> int | Exception | None:
        try:
            return save_sweep_pages(self.store, self.config.run_id, [prepared.pending],
                                    finish=self.history.write_pending)[0]
        except Exception as exc:
            self.history.drop_pending()
            return exc


@dataclass(slots=True)
class _Prepared:
    """An analysed page waiting to be stored, and what will be said of it."""

    item: SweepItem
    pending: PendingPage
    done: PageDone  # not stored yet: store_outcome says how it went

    def store_outcome(self, page_id: int | Exception | None, warc: WarcPart | None) -> None:
        if isinstance(page_id, Exception):
            self.done = _failed(self.item, page_id)
        elif page_id is None:  # stored already by this sweep
            self.done = dataclasses.replace(self.done, stored=False)
        else:
            warning = warc.write(self.item) if warc is not None else None
            self.done = dataclasses.replace(self.done, stored=True, page_id=page_id, warning=warning)


def _failed(item: SweepItem, exc: Exception) -> PageDone:
    url = item.capture.url
    return PageDone(url, item.role, error=f"处理 {url} 时出错：{type(exc).__name__}：{exc}")


def _ocr_limit(ocr: Mapping[str, ImageOutcome]) -> str | None:
    """The OCR cap's sentence (``OCR 上限：已读 12 张，余 6 张未读…``) when it left images of this page unread."""
    for outcome in ocr.values():
        if isinstance(outcome, ImageSkip) and outcome.code == CAP_CODE:
            return outcome.reason
    return None
