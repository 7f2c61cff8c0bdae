"""Evidence in a sweep (crawl process, where the browser lives): each committed page's captures
go to this process's WARC part; at the end, screenshots of the pages with findings.

These hooks run for every page: keep them cheap, and never let them raise for one bad page.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from mdwatch.crawler.sweep_spider import SweepItem
    from mdwatch.scheduler.pipeline.sweep.processor import PageDone
    from mdwatch.scheduler.pipeline.sweep.runtime import SweepRuntime

__all__ = ["evidence_after_store", "evidence_finish", "evidence_open"]


def evidence_open(runtime: SweepRuntime, enabled: bool) -> None:
    """EVIDENCE (crawl process, start of this process's part of the sweep): a new WARC part."""
    if not enabled:
        return
    from mdwatch.scheduler.pipeline.capture import open_sweep_warc

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
    from mdwatch.scheduler.pipeline.capture import capture_evidence, close_sweep_warc

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
