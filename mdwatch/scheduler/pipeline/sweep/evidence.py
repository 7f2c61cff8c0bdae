"""Evidence in a sweep (crawl process, where the browser lives): each committed page with findings
is screenshotted at once (its captures went to the WARC part of the process that stored it),
rendered from its captured bytes, while the crawl goes on (the screenshotter renders several
pages at a time on its own thread). At the end only the screenshots still running, and those of
pages that failed or were stored by another part, remain.

These hooks run for every page: keep them cheap, and never let them raise for one bad page.
"""

from __future__ import annotations

import contextlib
import threading
import time
from concurrent.futures import Future, ThreadPoolExecutor
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from mdwatch.crawler.evidence import Screenshotter, WarcWriter
    from mdwatch.crawler.sweep_items import SweepItem
    from mdwatch.scheduler.pipeline.sweep.processor import PageDone
    from mdwatch.scheduler.pipeline.sweep.runtime import SweepRuntime

__all__ = ["evidence_after_store", "evidence_finish", "evidence_open"]


class LiveShots:
    """Screenshots taken during the crawl: submitted as pages are committed, saved by one thread
    (the evidence store and the WARC writer are written from there, under the WARC's lock)."""

    def __init__(self, db_url: str, writer: WarcWriter, lock: threading.Lock) -> None:
        from mdwatch.crawler.evidence import Screenshotter

        self.db_url, self.writer, self.lock = db_url, writer, lock
        self.shooter: Screenshotter = Screenshotter(pages=6)  # captured renders are short: keep Chromium busy
        self.saver = ThreadPoolExecutor(max_workers=1, thread_name_prefix="mdwatch-shot-saver")
        # in flight only: a screenshot leaves once saved, so a sweep of any length holds at most
        # MAX_IN_FLIGHT pictures and page bodies, never all of them
        self.pending: set[Future[bytes]] = set()
        self._pending_lock = threading.Lock()
        self.deferred = 0  # pages left to the final pass because too many shots were in flight
        self.saved = 0
        self.failed: list[str] = []
        self._store: Any = None

    MAX_IN_FLIGHT = 64

    def add(self, page_id: int, url: str, body: bytes, content_type: str, capture_sha256: str) -> None:
        with self._pending_lock:
            if len(self.pending) >= self.MAX_IN_FLIGHT:  # the crawl outruns Chromium: the final pass takes it
                self.deferred += 1
                return
            shot = self.shooter.submit(url, body, content_type)
            self.pending.add(shot)
        shot.add_done_callback(lambda f: self._queue_save(page_id, url, capture_sha256, f))

    def _queue_save(self, page_id: int, url: str, capture_sha256: str, shot: Future[bytes]) -> None:
        try:
            self.saver.submit(self._save, page_id, url, capture_sha256, shot)
        except RuntimeError:  # the saver closed (an interrupted sweep): the resumed part takes it
            self._done(shot)

    def _done(self, shot: Future[bytes]) -> None:
        with self._pending_lock:
            self.pending.discard(shot)

    def _save(self, page_id: int, url: str, capture_sha256: str, shot: Future[bytes]) -> None:
        try:
            self._keep(page_id, url, capture_sha256, shot)
        finally:
            self._done(shot)

    def _keep(self, page_id: int, url: str, capture_sha256: str, shot: Future[bytes]) -> None:
        try:
            png = shot.result()
        except Exception as exc:  # the final pass tries it again
            if len(self.failed) < 20:  # a few lines say it; the final pass redoes them all
                self.failed.append(f"页面 {page_id} 截图失败：{exc}")
            return
        if self._store is None:
            from mdwatch.storage.evidence import EvidenceStore

            self._store = EvidenceStore(self.db_url)
        from mdwatch.scheduler.pipeline.capture import keep_screenshot

        with self.lock:  # the WARC is written from the crawl's thread too
            keep_screenshot(self._store, page_id, url, capture_sha256, png, self.writer)
        self.saved += 1

    def drain(self, wait: bool) -> None:
        """Wait for what is running and saving (``wait``) or drop it; the browser stays open."""
        if wait:
            deadline = time.monotonic() + 300  # one bound for all: a stuck shot never holds the sweep long
            with self._pending_lock:
                running = list(self.pending)
            for fut in running:
                with contextlib.suppress(Exception):  # a failed shot is retried by the final pass
                    fut.result(timeout=max(0.0, deadline - time.monotonic()))
            time.sleep(0.05)  # the last done callbacks queue their saves
        self.saver.shutdown(wait=wait, cancel_futures=not wait)

    def close(self) -> None:
        """Close the browser and the store (after :meth:`drain`)."""
        self.shooter.close()
        if self._store is not None:
            self._store.close()


def _content_type(headers: Any) -> str:
    for name, value in dict(headers or {}).items():
        if str(name).lower() == "content-type":
            return str(value)
    return "text/html"


def evidence_open(runtime: SweepRuntime, enabled: bool, screenshots: bool = False) -> None:
    """EVIDENCE (crawl process, start of this process's part of the sweep): a new WARC part, and
    with ``screenshots`` the screenshotter that renders committed pages with findings at once.

    The part holds the screenshots and, when pages are processed inline, their captures; with a
    pool of analysis workers and no screenshots this process writes no WARC (each worker writes
    the pages it stores to a part of its own: warc_part.py).
    """
    if not enabled or (not screenshots and runtime.workers > 0):
        return
    from mdwatch.scheduler.pipeline.capture import open_sweep_warc

    runtime.extra["warc"] = writer = open_sweep_warc(runtime.config.run_id)
    runtime.extra["warc_lock"] = lock = threading.Lock()
    if screenshots:
        runtime.extra["live_shots"] = LiveShots(runtime.config.db_url, writer, lock)


def evidence_after_store(runtime: SweepRuntime, item: SweepItem, done: PageDone) -> None:
    """EVIDENCE HOOK (crawl process): the committed page's screenshot, when it has findings.

    Its WARC records were written by the process that stored it (warc_part.py)."""
    if not done.stored:
        return
    live: LiveShots | None = runtime.extra.get("live_shots")
    if live is not None and done.findings and done.page_id is not None:
        cap = item.capture
        try:
            live.add(done.page_id, cap.final_url, cap.body, _content_type(cap.headers), cap.sha256)
        except Exception as exc:  # the final pass takes it
            runtime.error(f"截图未能开始：{type(exc).__name__}：{exc}")


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
    from mdwatch.scheduler.pipeline.capture import capture_evidence, close_sweep_warc

    db_url, run_id = runtime.config.db_url, runtime.config.run_id
    finished = runtime.close_reason == "finished"
    tail_started = time.monotonic()
    live: LiveShots | None = runtime.extra.pop("live_shots", None)
    if live is not None:
        live.drain(wait=finished)
        runtime.extra["screenshots_during_crawl"] = live.saved
    try:
        if screenshots and finished:
            from mdwatch.crawler.evidence import Screenshotter

            try:
                # the pages left go to the browser already running (no second start-up), several at once
                with contextlib.nullcontext(live.shooter) if live is not None else Screenshotter() as shared:
                    result = capture_evidence(db_url, run_id, None, screenshotter=shared, warc=writer)
                runtime.extra["screenshots"] = len(result.saved)
                for page_id, reason in list(result.failed.items())[:5]:
                    runtime.error(f"页面 {page_id} 截图失败：{reason}")
            except Exception as exc:
                runtime.error(f"截图失败：{type(exc).__name__}：{exc}")
    finally:
        if live is not None:
            live.close()
        close_sweep_warc(db_url, run_id, writer)
        # the evidence tail: how long the sweep went on after its last page was processed
        runtime.extra["evidence_tail_s"] = round(time.monotonic() - tail_started, 3)
