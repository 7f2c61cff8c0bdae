"""Jobs: an on-demand scan of URLs and the demo sweep. Each fetches, analyzes and stores one run."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime

from mdwatch.analyzers.model import PageKind
from mdwatch.analyzers.packs import EVERY_RULE, RuleSelection
from mdwatch.crawler.browser_fetch import RenderedFetch, fetch_rendered
from mdwatch.crawler.capture import Capture, FetchResult, FetchSettings
from mdwatch.crawler.fetch import StartedFetch
from mdwatch.scheduler.pipeline import (
    ScanOutcome,
    analyze_result,
    few_pages_context,
    page_record,
    ready_analyzers,
)
from mdwatch.scheduler.pipeline.capture import RunEvidence, capture_run_evidence
from mdwatch.scheduler.pipeline.ocr import ImageOutcome, OcrBatch, OcrStage, OcrStats
from mdwatch.scheduler.pipeline.registry import NOT_LOADED, RegistrySource
from mdwatch.storage.records import RunRecord
from mdwatch.storage.store import Store


@dataclass(frozen=True, slots=True)
class RunResult:
    run_id: int | None
    outcomes: list[ScanOutcome]
    registry_loaded: bool = False
    registry_description: str = NOT_LOADED
    ocr_stats: OcrStats | None = None  # None: the scan ran without OCR
    browser_unavailable: str | None = None  # a page needed the browser, which cannot run (one sentence)
    evidence: RunEvidence | None = None  # what was preserved of a stored run (None: not asked)

    @property
    def ok(self) -> list[ScanOutcome]:
        return [o for o in self.outcomes if o.ok]

    @property
    def failed(self) -> list[ScanOutcome]:
        return [o for o in self.outcomes if not o.ok]


def scan_urls(
    urls: Sequence[str],
    *,
    kind: PageKind | None = None,
    db_url: str | None = None,
    store: bool = True,
    run_kind: str = "scan",
    settings: FetchSettings | None = None,
    progress: Callable[[FetchResult], None] | None = None,
    ocr_engine: str | None = None, ocr_workers: int | None = None, ocr_stage: OcrStage | None = None,
    selection: RuleSelection = EVERY_RULE,
    browser: bool = True, evidence: bool = False, early_fetch: StartedFetch | None = None,
) -> RunResult:
    """Fetch ``urls`` in one crawl, analyze each page and store the run in one transaction.

    Pages that could not be fetched are reported, never stored half-way (nothing fetched: nothing written).

    With ``ocr_engine`` (or an ``ocr_stage`` to share between scans) the pages' images are
    downloaded too and read by OCR before analysis: each distinct image once, cached in the
    database. Without, no image is fetched and no process pool is started.

    ``selection`` (rule packs) decides which rules run and at what severity (the ones stored).

    A page that needs a browser is rendered as the sweep renders it (``crawler.browser_fetch``:
    the sweep middleware's detection, its Chromium settings); its outcome's ``extracted`` has
    ``via_browser: true``. With ``browser=False``, or without Chromium, such a page is analysed
    as its static HTML and ``extracted["browser_note"]`` says so; a static page never starts
    the browser.

    With ``evidence`` a stored run is preserved in the same run as a sweep's pages are: a WARC of
    its captures and screenshots of its pages with findings (``capture_run_evidence``).
    ``early_fetch``: the crawl of these URLs begun earlier (``crawler.fetch.start_fetch``).
    """
    started = datetime.now(UTC)
    ctx = few_pages_context(started)
    with_ocr = ocr_engine is not None or ocr_stage is not None
    fetched = _fetch(urls, settings, with_ocr, progress, browser, early_fetch)
    results = fetched.results
    if not any(r.capture is not None for r in results):
        return RunResult(run_id=None, outcomes=[analyze_result(r, ctx, kind, selection=selection) for r in results],
                         browser_unavailable=fetched.unavailable)
    ocr: Mapping[str, ImageOutcome] | None = None
    ocr_stats: OcrStats | None = None
    if with_ocr:
        batch, ocr_engine = _read_images(results, ocr_engine, ocr_workers, ocr_stage, use_db=store or db_url is not None,
                                         db_url=db_url)
        ocr, ocr_stats = batch.results, batch.stats
    with RegistrySource(db_url) as registry:
        outcomes = [analyze_result(r, ctx, kind, registry, ocr, selection=selection) for r in results]
        registry_loaded, registry_description = registry.loaded, registry.description
    _note_browser(outcomes, fetched)
    run_id, preserved = None, None
    if store and any(o.ok for o in outcomes):
        run_id = _save_run(db_url, _run_record(urls, run_kind, started, outcomes, registry_loaded, ocr_engine, ocr_stats))
        preserved = capture_run_evidence(db_url, run_id, run_captures(outcomes)) if evidence else None
    return RunResult(run_id=run_id, outcomes=outcomes, registry_loaded=registry_loaded,
                     registry_description=registry_description, ocr_stats=ocr_stats,
                     browser_unavailable=fetched.unavailable, evidence=preserved)


def run_captures(outcomes: Sequence[ScanOutcome]) -> list[Capture]:
    """Every capture a stored run rests on: each page and the related pages judged with it."""
    out: list[Capture] = []
    for o in outcomes:
        if o.ok and o.capture is not None:
            out.append(o.capture)
            out.extend(o.related)
    return out


def _fetch(urls: Sequence[str], settings: FetchSettings | None, with_ocr: bool,
           progress: Callable[[FetchResult], None] | None, browser: bool,
           started: StartedFetch | None = None) -> RenderedFetch:
    """Fetch ``urls`` in one crawl (their images too when they are to be read)."""
    fetch_settings = settings or FetchSettings()
    if with_ocr and not fetch_settings.fetch_images:
        fetch_settings = replace(fetch_settings, fetch_images=True)
    return fetch_rendered(list(urls), fetch_settings, progress=progress, browser=browser,
                          meanwhile=_ready_analyzers, started=started)


def _ready_analyzers() -> None:
    """Build what the analyzers build once per process while the crawl fetches: it takes that
    time off the answer."""
    ready_analyzers(few_pages_context())


def _read_images(results: Sequence[FetchResult], ocr_engine: str | None, ocr_workers: int | None,
                 ocr_stage: OcrStage | None, *, use_db: bool, db_url: str | None) -> tuple[OcrBatch, str | None]:
    """OCR of the fetched pages' images: (the batch, the engine that read it).

    A shared ``ocr_stage`` reads them (its engine wins); otherwise a stage of this scan's own,
    closed (its pool with it) as soon as the batch is read.
    """
    images = [image for r in results if r.capture is not None for image in r.images]
    if ocr_stage is not None:
        return ocr_stage.run(images), ocr_stage.engine_name
    assert ocr_engine is not None
    with OcrStage(ocr_engine, workers=ocr_workers, db_url=db_url, use_db=use_db) as stage:
        return stage.run(images), ocr_engine


def _note_browser(outcomes: Sequence[ScanOutcome], fetched: RenderedFetch) -> None:
    """Mark the pages the browser rendered, and say why one that needed it was not."""
    for o in outcomes:
        if not o.ok:
            continue
        if o.url in fetched.rendered:
            o.extracted["via_browser"] = True  # as the sweep pipeline records it
        if (note := fetched.notes.get(o.url)) is not None:
            o.extracted["browser_note"] = note


def _run_record(urls: Sequence[str], run_kind: str, started: datetime, outcomes: Sequence[ScanOutcome],
                registry_loaded: bool, ocr_engine: str | None, ocr_stats: OcrStats | None) -> RunRecord:
    """The run to store: its pages (those fetched and analysed), its counts and its OCR stats."""
    ok = [o for o in outcomes if o.ok]
    record = RunRecord(
        kind=run_kind,
        target=urls[0] if len(urls) == 1 else f"{len(urls)} URLs",
        started_at=started,
        finished_at=datetime.now(UTC),
        pages=[page_record(o) for o in ok],
        stats={"pages": len(ok), "errors": len(outcomes) - len(ok),
               "findings": sum(len(o.findings) for o in ok), "registry_loaded": registry_loaded},
    )
    if ocr_stats is not None:
        record.stats["ocr"] = {"engine": ocr_engine, **ocr_stats.as_dict()}
    return record


def _save_run(db_url: str | None, record: RunRecord) -> int:
    """Store the run and its pages in one transaction; the run id."""
    db = Store.open(db_url)
    try:
        return db.save_run(record)
    finally:
        db.close()
