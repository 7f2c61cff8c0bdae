"""Jobs: an on-demand scan of URLs and the demo sweep. Each fetches, analyzes and stores one run."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from mdwatch.analyzers.model import PageKind
from mdwatch.crawler.capture import FetchResult, FetchSettings
from mdwatch.crawler.fetch import fetch_pages
from mdwatch.scheduler.pipeline import ScanOutcome, analyze_result, make_context, page_record
from mdwatch.scheduler.registry import NOT_LOADED, RegistrySource
from mdwatch.storage.records import RunRecord
from mdwatch.storage.store import Store


@dataclass(frozen=True, slots=True)
class RunResult:
    run_id: int | None
    outcomes: list[ScanOutcome]
    registry_loaded: bool = False
    registry_description: str = NOT_LOADED

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
) -> RunResult:
    """Fetch ``urls`` in one crawl, analyze each page and store the run in one transaction.

    Pages that could not be fetched are reported, never stored half-way; when nothing could be
    fetched, nothing is written at all.
    """
    started = datetime.now(UTC)
    ctx = make_context(started)
    results = fetch_pages(list(urls), settings or FetchSettings(), progress=progress)
    if not any(r.capture is not None for r in results):
        return RunResult(run_id=None, outcomes=[analyze_result(r, ctx, kind) for r in results])
    with RegistrySource(db_url) as registry:
        outcomes = [analyze_result(r, ctx, kind, registry) for r in results]
        registry_loaded, registry_description = registry.loaded, registry.description
    ok = [o for o in outcomes if o.ok]
    run_id: int | None = None
    if store and ok:
        record = RunRecord(
            kind=run_kind,
            target=urls[0] if len(urls) == 1 else f"{len(urls)} URLs",
            started_at=started,
            finished_at=datetime.now(UTC),
            pages=[page_record(o) for o in ok],
            stats={"pages": len(ok), "errors": len(outcomes) - len(ok),
                   "findings": sum(len(o.findings) for o in ok), "registry_loaded": registry_loaded},
        )
        db = Store.open(db_url)
        try:
            run_id = db.save_run(record)
        finally:
            db.close()
    return RunResult(run_id=run_id, outcomes=outcomes, registry_loaded=registry_loaded,
                     registry_description=registry_description)
