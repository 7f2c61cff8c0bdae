"""What each finding of a package rests on, added to the package once and named in its finding.json.

A finding is proven by:

- ``page``: the capture of the page it was found on (``pages/<id>/page.html``);
- ``related``: the captures stored with that page (a shop's qualification pages, certificate
  images: ``PageRecord.related_captures``), under ``captures/<sha256>/``;
- ``product_page``: for ``SHOP_SCOPE_EXCEEDED``, the product pages of the shop that the finding
  names (its evidence's ``page_url``), when the same run stored them (``pages/<id>/``).

``"proven_by"`` in finding.json lists them by SHA-256 and URL with their paths in the package.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from mdwatch.crawler.evidence import Screenshotter
from mdwatch.scheduler.jobs.evidence.documents import _capture_doc
from mdwatch.scheduler.jobs.evidence.package_format import _json
from mdwatch.scheduler.jobs.evidence.package_pages import _add_page, _has_screenshot
from mdwatch.scheduler.jobs.evidence.package_zip import _Package
from mdwatch.scheduler.jobs.evidence.selection import EvidenceError
from mdwatch.scheduler.pipeline.capture import _content_type
from mdwatch.storage.evidence import EvidenceStore, PageRef
from mdwatch.storage.proof import related_captures, run_pages_at
from mdwatch.storage.records import CaptureRecord, StoredFinding

# A page of the package: its reference, its capture and the paths of its files in the package.
PageFiles = tuple[PageRef, CaptureRecord, dict[str, str | None]]

SCOPE_RULE = "SHOP_SCOPE_EXCEEDED"  # names product pages of the shop in its evidence
ROLE_NOTES = {
    "page": "问题所在页面的抓取内容",
    "related": "与该页面一同保存的相关抓取（如店铺资质页、证照图片）",
    "product_page": "问题所列商品的页面（同一次运行中抓取）",
}
_SUFFIXES = {"text/html": ".html", "image/png": ".png", "image/jpeg": ".jpg", "image/gif": ".gif",
             "image/webp": ".webp", "application/json": ".json", "text/plain": ".txt"}


class LazyShooter:
    """The caller's screenshotter, or one started only when a page without a screenshot needs it."""

    def __init__(self, given: Screenshotter | None, enabled: bool) -> None:
        self.given = given
        self.shooter = given
        self.enabled = enabled

    def for_page(self, store: EvidenceStore, page_id: int) -> Screenshotter | None:
        if not self.enabled:
            return None
        if self.shooter is None and not _has_screenshot(store, page_id):
            self.shooter = Screenshotter()
        return self.shooter

    def close(self) -> None:
        if self.shooter is not None and self.given is None:
            self.shooter.close()


@dataclass
class Grounds:
    """The pages and related captures added to one package so far (each added once)."""

    pkg: _Package
    store: EvidenceStore
    shooter: LazyShooter
    notes: list[str]
    pages: dict[int, PageFiles] = field(default_factory=dict)
    related: dict[str, tuple[CaptureRecord, str]] = field(default_factory=dict)  # sha → (capture, path)
    related_by_run: dict[int, list[CaptureRecord]] = field(default_factory=dict)  # for generated WARC files

    def finding_page(self, f: StoredFinding) -> PageFiles:
        """The finding's page with its files (added now when new)."""
        if f.page_id not in self.pages:
            page = self.store.page(f.page_id)
            capture = self.store.capture(f.capture_sha256)
            if page is None or capture is None:
                raise EvidenceError(f"问题 {f.id} 的页面或抓取记录缺失，无法导出。")
            self._add(page, capture)
        return self.pages[f.page_id]

    def proven_by(self, f: StoredFinding, page: PageRef, capture: CaptureRecord,
                  files: dict[str, str | None]) -> list[dict[str, Any]]:
        """The captures ``f`` rests on, each added to the package; entries for its finding.json."""
        out = [_proof("page", capture, files["page_html"], page.id)]
        for related in related_captures(self.store.engine, page.id):
            out.append(_proof("related", related, self._add_related(page.run_id, related)))
        for product in self._product_pages(f, page):
            p_page, p_capture, p_files = product
            out.append(_proof("product_page", p_capture, p_files["page_html"], p_page.id))
        return out

    def _add(self, page: PageRef, capture: CaptureRecord) -> PageFiles:
        files = _add_page(self.pkg, self.store, page, capture, self.shooter.for_page(self.store, page.id),
                          self.notes)
        self.pages[page.id] = (page, capture, files)
        return self.pages[page.id]

    def _add_related(self, run_id: int, capture: CaptureRecord) -> str:
        if capture.sha256 not in self.related:
            base = f"captures/{capture.sha256}"
            suffix = _SUFFIXES.get(_content_type(capture).split(";")[0].strip().lower(), ".bin")
            path = f"{base}/content{suffix}"
            self.pkg.add_bytes(path, capture.body, "related_capture", "与页面一同保存的相关抓取的原始内容")
            self.pkg.add_bytes(f"{base}/capture.json", _json(_capture_doc(capture)), "capture")
            self.related[capture.sha256] = (capture, path)
            self.related_by_run.setdefault(run_id, []).append(capture)
        return self.related[capture.sha256][1]

    def _product_pages(self, f: StoredFinding, page: PageRef) -> list[PageFiles]:
        """For SHOP_SCOPE_EXCEEDED, the stored pages of the product URLs its evidence names."""
        if f.rule != SCOPE_RULE:
            return []
        urls = {str(e["page_url"]) for e in f.evidence if isinstance(e, dict) and e.get("page_url")}
        urls.discard(page.url)
        found: list[PageFiles] = []
        for product in run_pages_at(self.store.engine, f.run_id, urls):
            if product.id == page.id:
                continue
            if product.id not in self.pages:
                capture = self.store.capture(product.capture_sha256)
                if capture is None:
                    continue
                self._add(product, capture)
            found.append(self.pages[product.id])
        return found


def _proof(role: str, capture: CaptureRecord, path: str | None, page_id: int | None = None) -> dict[str, Any]:
    entry: dict[str, Any] = {"role": role, "sha256": capture.sha256, "url": capture.url,
                             "final_url": capture.final_url, "file": path, "note": ROLE_NOTES[role]}
    if page_id is not None:
        entry["page_id"] = page_id
    return entry
