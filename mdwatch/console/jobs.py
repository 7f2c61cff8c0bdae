"""On-demand scans started from the console, run one at a time on a worker thread.

The crawl itself runs in its own process (``crawler.fetch``); the worker only waits for it,
analyses and stores the run through the same ``App.scan`` the CLI uses, with the console's fetch
policy (``web=True``: no typed URL is trusted). A page polls the job (htmx) until it is done.
"""

from __future__ import annotations

import secrets
import threading
from collections import OrderedDict
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from mdwatch.scheduler.app import App
    from mdwatch.scheduler.jobs.scan import RunResult

__all__ = ["ScanJob", "ScanJobs", "scan_view"]

_KEEP = 200


@dataclass(slots=True)
class ScanJob:
    id: str
    url: str
    owner: str
    status: str = "queued"  # queued | running | done | failed
    created_at: datetime = field(default_factory=lambda: datetime.now(UTC))
    finished_at: datetime | None = None
    result: dict[str, Any] | None = None
    error: str | None = None

    @property
    def finished(self) -> bool:
        return self.status in ("done", "failed")


class ScanJobs:
    """The console's scan queue (in memory: a job lives as long as the server process)."""

    def __init__(self, app: App, workers: int = 1) -> None:
        self.app = app
        self._pool = ThreadPoolExecutor(max_workers=max(1, workers), thread_name_prefix="mdwatch-console-scan")
        self._jobs: OrderedDict[str, ScanJob] = OrderedDict()
        self._lock = threading.Lock()

    def submit(self, url: str, owner: str) -> ScanJob:
        job = ScanJob(secrets.token_urlsafe(9), url, owner)
        with self._lock:
            self._jobs[job.id] = job
            while len(self._jobs) > _KEEP:
                self._jobs.popitem(last=False)
        self._pool.submit(self._run, job)
        return job

    def get(self, job_id: str) -> ScanJob | None:
        with self._lock:
            return self._jobs.get(job_id)

    def run_now(self, url: str) -> dict[str, Any]:
        """Scan in the caller's thread (the JSON API answers when the scan is done)."""
        return scan_view(self.app.scan([url], web=True))

    def _run(self, job: ScanJob) -> None:
        job.status = "running"
        try:
            job.result = scan_view(self.app.scan([job.url], web=True))
            job.status = "done"
        except Exception as exc:  # one scan's failure is said on its page, never kills the worker
            job.error = f"检测出错：{type(exc).__name__}：{exc}"
            job.status = "failed"
        finally:
            job.finished_at = datetime.now(UTC)

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)


def scan_view(result: RunResult) -> dict[str, Any]:
    """What the console shows of a scan: ``mdwatch scan --json`` per page, plus what the CLI
    prints around it (title, failed pages, the registry note)."""
    from mdwatch.scheduler.outputs.labels import SEVERITIES
    from mdwatch.scheduler.pipeline import outcome_json
    from mdwatch.scheduler.pipeline.registry import registry_rules

    order = {s: i for i, s in enumerate(SEVERITIES)}
    pages = []
    for outcome in result.ok:
        doc = outcome_json(outcome)
        doc["title"] = outcome.page.title if outcome.page is not None else None
        doc["findings"] = sorted(doc["findings"], key=lambda f: order.get(str(f["severity"]), 99))  # type: ignore[call-overload]
        pages.append(doc)
    return {
        "run_id": result.run_id,
        "pages": pages,
        "failed": [{"url": o.url, "error": o.error or f"无法获取 {o.url}。"} for o in result.failed],
        "registry": {"loaded": result.registry_loaded, "description": result.registry_description,
                     "skipped_rules": [] if result.registry_loaded else list(registry_rules())},
        "browser_unavailable": result.browser_unavailable,
    }
