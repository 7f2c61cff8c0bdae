"""The live state of a sweep in the crawl process: counters, the processor config, callbacks."""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from mdwatch.scheduler.pipeline.sweep.processor import PageDone, ProcessorConfig

__all__ = ["SweepRuntime"]


@dataclass(slots=True)
class SweepRuntime:
    """The live state of a sweep in the crawl process: counters, the processor, callbacks."""

    config: ProcessorConfig
    workers: int = 1  # 0: process pages inline in the crawl thread
    ocr_engine: str | None = None  # None: no OCR (the spider then downloads no image)
    ocr_workers: int | None = None  # OCR processes; None: one per core
    ocr_queue: str | None = None  # a Redis URL: reads go to its OCR workers, not to a local pool
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
        if done.warning is not None:
            self.error(done.warning)
        self.findings += done.findings
        if done.rules:
            self.flagged += 1
            self.rules.update(set(done.rules))

    def error(self, message: str) -> None:
        self.errors += 1
        if len(self.error_messages) < 1000:
            self.error_messages.append(message)
