"""Evidence captured while a run is fetched (the pipeline's evidence stage): WARC files of a sweep's pages and
screenshots rendered from what was captured. Export and verification (jobs/evidence) read what it stored."""

from __future__ import annotations

from collections.abc import Sequence
from concurrent.futures import Future
from dataclasses import dataclass, field
from pathlib import Path

from mdwatch import __version__
from mdwatch.crawler.capture import Capture
from mdwatch.crawler.evidence import ScreenshotError, Screenshotter, WarcWriter
from mdwatch.storage.evidence import EvidenceFile, EvidenceStore, PageRef, evidence_dir
from mdwatch.storage.records import CaptureRecord

# -------------------------------------------------------------------- sweep WARC files


def open_sweep_warc(run_id: int, *, data_dir: Path | str | None = None) -> WarcWriter:
    """A new WARC part for this process of sweep ``run_id``: ``<data>/evidence/<id>/sweep-<id>-<n>.warc.gz``."""
    return WarcWriter.new_part(evidence_dir(run_id, data_dir), f"sweep-{run_id}",
                               info={"software": f"mdwatch/{__version__}", "mdwatch-run-id": str(run_id)})


def close_sweep_warc(db_url: str | None, run_id: int, writer: WarcWriter, *,
                     data_dir: Path | str | None = None) -> EvidenceFile:
    """Close ``writer`` and register its file (with its SHA-256) as evidence of the run."""
    sha = writer.close()
    with EvidenceStore(db_url, data_dir=data_dir) as store:
        return store.add_warc(run_id, writer.path, sha)


# -------------------------------------------------------------------- screenshots


@dataclass(frozen=True, slots=True)
class EvidenceResult:
    saved: dict[int, str] = field(default_factory=dict)  # page id → screenshot SHA-256
    skipped: list[int] = field(default_factory=list)  # already had a screenshot
    failed: dict[int, str] = field(default_factory=dict)  # page id → reason (Chinese)


def _content_type(record: CaptureRecord) -> str:
    for name, value in record.headers.items():
        if str(name).lower() == "content-type":
            return str(value)
    return "text/html"


def _start_shot(shooter: Screenshotter, store: EvidenceStore, page: PageRef, live: bool) -> Future[bytes]:
    if live:
        return shooter.submit(page.url)
    record = store.capture(page.capture_sha256)
    if record is None:
        raise ScreenshotError(f"页面 {page.id} 的抓取记录不存在。")
    return shooter.submit(record.final_url, record.body, _content_type(record))


def _pages(store: EvidenceStore, run_id: int, pages_with_findings: Sequence[int] | None) -> list[PageRef]:
    if pages_with_findings is None:
        return store.pages_with_findings(run_id)
    return [p for p in (store.page(pid) for pid in pages_with_findings) if p is not None]


def _screenshot_pages(shooter: Screenshotter, store: EvidenceStore, pages: Sequence[PageRef], *, live: bool,
                      warc: WarcWriter | None, result: EvidenceResult) -> None:
    """Screenshot ``pages`` at the same time (the browser renders several at once); the outcomes
    go into ``result``, each page's on its own."""
    started: list[tuple[PageRef, Future[bytes] | Exception]] = []
    for page in pages:
        try:
            started.append((page, _start_shot(shooter, store, page, live)))
        except Exception as exc:  # one page's failure must not stop the others
            started.append((page, exc))
    note = "live" if live else "rendered-from-capture"
    for page, shot in started:
        try:
            if isinstance(shot, Exception):
                raise shot
            png = shot.result(timeout=shooter.timeout_s * 3 + 30)
        except Exception as exc:
            result.failed[page.id] = str(exc)
            continue
        result.saved[page.id] = keep_screenshot(store, page.id, page.url, page.capture_sha256, png, warc, note=note)


def keep_screenshot(store: EvidenceStore, page_id: int, url: str, capture_sha256: str, png: bytes,
                    warc: WarcWriter | None, *, note: str = "rendered-from-capture") -> str:
    """Store a page's screenshot and, with ``warc``, write it there as a resource record; its SHA-256."""
    sha = store.save_screenshot(page_id, png, note=note)
    if warc is not None:
        warc.write_resource(url, "image/png", png, extra_headers={"WARC-Mdwatch-Kind": "screenshot",
                                                                 "WARC-Mdwatch-Capture-SHA256": capture_sha256})
    return sha


def capture_evidence(
    db_url: str | None,
    run_id: int,
    pages_with_findings: Sequence[int] | None = None,
    *,
    screenshotter: Screenshotter | None = None,
    warc: WarcWriter | None = None,
    live: bool = False,
    data_dir: Path | str | None = None,
) -> EvidenceResult:
    """Screenshot the run's pages with findings that have none yet, and store the PNGs.

    ``pages_with_findings``: page ids (None: every page of the run with a finding). By default the
    captured HTML is rendered at its URL from the captured bytes alone (so the picture shows the
    bytes that were hashed; nothing else of the page is fetched); ``live=True`` loads the live
    page instead, through the fetch policy. With ``warc`` each screenshot
    is also written to it as a resource record. Failures are reported per page, never raised.
    """
    result = EvidenceResult()
    own = screenshotter is None
    shooter = screenshotter or Screenshotter()
    try:
        with EvidenceStore(db_url, data_dir=data_dir) as store:
            todo = []
            for page in _pages(store, run_id, pages_with_findings):
                if any(f.kind == "screenshot" for f in store.files_for_page(page.id)):
                    result.skipped.append(page.id)
                else:
                    todo.append(page)
            # as many at a time as the browser renders at once (its reused pages), twice over so
            # that the next one is ready when one finishes
            step = max(1, 2 * shooter.pages)
            for start in range(0, len(todo), step):
                _screenshot_pages(shooter, store, todo[start : start + step], live=live, warc=warc, result=result)
    finally:
        if own:
            shooter.close()
    return result


# -------------------------------------------------------------------- a scan's or a campaign's run


@dataclass(frozen=True, slots=True)
class RunEvidence:
    """What was preserved for one stored run: its WARC file and the screenshots taken."""

    warc: EvidenceFile | None = None
    screenshots: EvidenceResult = field(default_factory=EvidenceResult)
    error: str | None = None  # one Chinese sentence when the WARC could not be written


def capture_run_evidence(db_url: str | None, run_id: int, captures: Sequence[Capture], *,
                         screenshots: bool = True, data_dir: Path | str | None = None) -> RunEvidence:
    """Preserve a stored run as a sweep preserves its pages, in the same run: a WARC of every
    capture (each page and the related pages it was judged with, at their fetch time) and a
    screenshot of each page with findings, rendered from the captured bytes. Never raises: the
    run is stored already, and a full disk must not turn a scan into an error."""
    try:
        writer = WarcWriter.new_part(evidence_dir(run_id, data_dir), f"run-{run_id}",
                                     info={"software": f"mdwatch/{__version__}", "mdwatch-run-id": str(run_id)})
    except OSError as exc:
        return RunEvidence(error=f"无法写入证据文件：{exc}")
    shots, error = EvidenceResult(), None
    try:
        for capture in captures:
            writer.write_capture(capture)
        if screenshots:
            shots = capture_evidence(db_url, run_id, None, warc=writer, data_dir=data_dir)
    except Exception as exc:
        error = f"保存证据时出错：{type(exc).__name__}：{exc}"
    try:
        warc: EvidenceFile | None = close_sweep_warc(db_url, run_id, writer, data_dir=data_dir)
    except Exception as exc:
        warc, error = None, error or f"无法登记证据文件：{type(exc).__name__}：{exc}"
    return RunEvidence(warc=warc, screenshots=shots, error=error)
