"""The crawl waits for OCR (issue 15): at most a few pages' images queue for reading.

OCR is the slowest stage of a sweep by far (about two CPU seconds per text image against
milliseconds to fetch one), so an unchecked crawl fetches the whole platform long before the
OCR pool has read it: every waiting page holds its images' bytes in memory, and the sweep ends
with a long tail in which nothing is fetched. Scrapy's own backpressure (the scraper's 5 MB of
responses in process) lets about a hundred pages queue.

:class:`OcrBackpressure` pauses the crawl engine (no new request is started; downloads in flight
finish) while ``high`` pages wait for OCR, and resumes it when ``low`` are left: enough to keep
every OCR worker busy while the crawl fetches the next pages, so the tail is a few pages' reading.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from scrapy.crawler import Crawler

__all__ = ["OcrBackpressure"]

PAGES_PER_WORKER = 2  # pages waiting for OCR per OCR worker before the crawl pauses


class OcrBackpressure:
    """Counts the pages waiting for OCR and pauses / resumes the crawl engine around ``high``."""

    def __init__(self, crawler: Crawler, workers: int) -> None:
        self.crawler = crawler
        self.high = max(2, PAGES_PER_WORKER * workers)
        self.low = max(1, self.high // 2)
        self.waiting = 0
        self.pauses = 0  # how often the crawl waited for OCR

    def enter(self) -> None:
        self.waiting += 1
        engine = self.crawler.engine
        if self.waiting >= self.high and engine is not None and not engine.paused:
            engine.pause()
            self.pauses += 1

    def leave(self) -> None:
        self.waiting -= 1
        engine = self.crawler.engine
        if self.waiting <= self.low and engine is not None and engine.paused:
            engine.unpause()
            # start the next requests now rather than at the engine's next heartbeat (up to 5 s)
            slot = getattr(engine, "_slot", None)
            if slot is not None:
                slot.nextcall.schedule()
