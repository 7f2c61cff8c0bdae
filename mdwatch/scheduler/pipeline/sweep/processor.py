"""The work of one sweep page: SweepItem → Page → registry snapshot → analyze → store, in one
transaction with its ``sweep_pages`` row (and its listing history)."""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import cast

from sqlalchemy.orm import Session

from mdwatch.analyzers.model import Context, PageKind
from mdwatch.analyzers.packs import EVERY_RULE, RuleSelection
from mdwatch.crawler.capture import FetchResult
from mdwatch.crawler.sweep_items import SweepItem
from mdwatch.scheduler.pipeline import analyze_result, make_context, page_record
from mdwatch.scheduler.pipeline.ocr import CAP_CODE, ImageOutcome, ImageSkip
from mdwatch.scheduler.pipeline.sweep.cputime import ClockedRegistry
from mdwatch.scheduler.pipeline.sweep.history import ListingHistoryStage
from mdwatch.scheduler.pipeline.sweep.memory import MemoryRelease
from mdwatch.scheduler.pipeline.sweep.warc_part import WarcPart
from mdwatch.storage.sweeps import open_sweep_store, save_sweep_page

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

    def process(self, item: SweepItem, ocr: Mapping[str, ImageOutcome] | None = None) -> PageDone:
        """Analyze and store one page; ``ocr`` (None: the sweep runs without OCR) is what its images read."""
        try:
            return self._process(item, ocr)
        except Exception as exc:  # one bad page never stops a sweep
            return PageDone(item.capture.url, item.role, error=f"处理 {item.capture.url} 时出错：{type(exc).__name__}：{exc}")
        finally:
            self.pages += 1
            self.memory.tick()

    def _process(self, item: SweepItem, ocr: Mapping[str, ImageOutcome] | None) -> PageDone:
        url = item.capture.url
        result = FetchResult(url, item.capture, None, item.related, item.images)
        self.registry.mark = None
        started = time.thread_time()
        outcome = analyze_result(result, self.ctx, cast("PageKind | None", item.kind_hint), self.registry, ocr,
                                 selection=self.config.selection, history=self.history)
        analysed = time.thread_time()
        extracted_at = self.registry.mark if self.registry.mark is not None else analysed
        if outcome.error is not None or outcome.page is None:
            return PageDone(url, item.role, error=outcome.error or f"无法分析 {url}。")
        extracted = dict(outcome.extracted)
        extracted["role"] = item.role
        if ocr is not None and (limit := _ocr_limit(ocr)) is not None:
            extracted["ocr_limit"] = limit  # the reviewer's line: how many images the cap left unread
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
        # the evidence record of a stored page counts as storage
        warning = self.warc.write(item) if self.warc is not None and page_id is not None else None
        cpu = (extracted_at - started, analysed - extracted_at, time.thread_time() - analysed)
        rules = tuple(f.rule for f in outcome.findings)
        if page_id is None:
            return PageDone(url, item.role, kind, rules, stored=False, cpu=cpu)
        return PageDone(url, item.role, kind, rules, stored=True, page_id=page_id, cpu=cpu, warning=warning)


def _ocr_limit(ocr: Mapping[str, ImageOutcome]) -> str | None:
    """The OCR cap's sentence (``OCR 上限：已读 12 张，余 6 张未读…``) when it left images of this page unread."""
    for outcome in ocr.values():
        if isinstance(outcome, ImageSkip) and outcome.code == CAP_CODE:
            return outcome.reason
    return None
