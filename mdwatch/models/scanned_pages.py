"""Labelled corpus pages as ``mdwatch scan`` sees them, for the claim classifier's training.

The thresholds' page floors (``claim_training.guard_floors``) and the page negatives
(``page_negatives``) must read a page the way the scan and ``make eval`` do. Reading the file
with ``extract_page`` alone misses what only the browser shows — a page that carries its
description as embedded JSON and renders it with a script — so a model could pass its floors and
still add a false finding on that page in the evaluation (「如需推荐合作诊所，请咨询客服。」 as an
endorsement on a JSON-embedded page of the format corpus). Here a writer's folder is served on
loopback and its pages are scanned in one crawl (the browser where the scan would use it; no OCR,
no storage), once per process.
"""

from __future__ import annotations

import functools
import tempfile
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from mdwatch.analyzers.model import Page

__all__ = ["scanned_pages", "serve_folder"]

_cache: dict[tuple[Path, tuple[str, ...]], dict[str, Page]] = {}


class _Quiet(SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        return


@contextmanager
def serve_folder(folder: Path) -> Iterator[str]:
    """Serve ``folder``'s files on loopback (a free port) while the block runs; yields the base URL."""
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(_Quiet, directory=str(folder)))
    httpd.daemon_threads = True
    thread = threading.Thread(target=httpd.serve_forever, name="mdwatch-corpus-server", daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}"
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(timeout=5)


def scanned_pages(folder: Path, files: Sequence[str]) -> dict[str, Page]:
    """``file`` (relative to ``folder``) → the page as scanned, for every file the scan could read."""
    from mdwatch.crawler.capture import FetchSettings
    from mdwatch.scheduler.jobs.scan import scan_urls

    key = (folder.resolve(), tuple(files))
    if key not in _cache:
        with tempfile.TemporaryDirectory() as tmp, serve_folder(folder) as base:  # no registry: claims only
            result = scan_urls([f"{base}/{f}" for f in files], db_url=f"sqlite:///{Path(tmp) / 'scan.sqlite3'}",
                               store=False, settings=FetchSettings(timeout_s=15), ocr_engine=None)
        _cache[key] = {f: o.page for f, o in zip(files, result.outcomes, strict=True) if o.page is not None}
    return _cache[key]
