"""The WARC records of a sweep's stored pages, written by the process that stores them.

Each analysis worker writes the pages it commits to a WARC part of its own (opened at its first
stored page, so an idle worker leaves no empty file), closed and registered with its SHA-256
when the worker ends. Writing them there rather than in the crawl process keeps the crawl's one
core for fetching: building and compressing two records per page cost the crawl process about as
much CPU as the rest of its pipeline glue. A sweep that processes pages inline hands the crawl
process's own part in (shared with the screenshots; the crawl process closes it).
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from mdwatch.crawler.evidence import WarcWriter
    from mdwatch.crawler.sweep_items import SweepItem

__all__ = ["WarcPart"]


class WarcPart:
    """Response and request records of each stored page, in this process's part of run ``run_id``."""

    def __init__(self, db_url: str, run_id: int, writer: WarcWriter | None = None,
                 lock: threading.Lock | None = None) -> None:
        self.db_url, self.run_id = db_url, run_id
        self._writer = writer
        self._owned = writer is None  # opened here: closed and registered here
        self._lock = lock or threading.Lock()

    def write(self, item: SweepItem) -> str | None:
        """Write ``item``'s capture and related captures; a Chinese error line instead of raising."""
        try:
            with self._lock:
                if self._writer is None:
                    from mdwatch.scheduler.pipeline.capture import open_sweep_warc

                    self._writer = open_sweep_warc(self.run_id)
                self._writer.write_capture(item.capture)
                for related in item.related:
                    self._writer.write_capture(related)
        except Exception as exc:  # a full disk must not lose the page (it is stored already)
            return f"写入 WARC 证据文件失败：{type(exc).__name__}：{exc}"
        return None

    def close(self) -> str | None:
        """Close and register the part this process opened (none: nothing to do); an error line or None."""
        if not self._owned or self._writer is None:
            return None
        writer, self._writer = self._writer, None
        try:
            from mdwatch.scheduler.pipeline.capture import close_sweep_warc

            close_sweep_warc(self.db_url, self.run_id, writer)
        except Exception as exc:
            return f"关闭 WARC 证据文件失败：{type(exc).__name__}：{exc}"
        return None
