"""``export``: the ZIP evidence package of one finding or of every finding of a run."""

from __future__ import annotations

import hashlib
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from mdwatch import __version__
from mdwatch.crawler.evidence import Screenshotter
from mdwatch.scheduler.jobs.evidence.documents import _finding_doc, _readme
from mdwatch.scheduler.jobs.evidence.package_format import FORMAT, README, _json, _times
from mdwatch.scheduler.jobs.evidence.package_pages import _add_page, _add_warcs, _has_screenshot
from mdwatch.scheduler.jobs.evidence.package_zip import _Package
from mdwatch.storage.evidence import EvidenceStore, PageRef
from mdwatch.storage.records import CaptureRecord, StoredFinding, StoredRun

# A page of the package: its reference, its capture and the paths of its files in the package.
_PageFiles = tuple[PageRef, CaptureRecord, dict[str, str | None]]


class EvidenceError(Exception):
    """An export that cannot be made (unknown finding or run); the message is Chinese."""


@dataclass(frozen=True, slots=True)
class ExportResult:
    path: Path
    findings: int
    files: int
    manifest_sha256: str
    notes: list[str]


@dataclass(frozen=True, slots=True)
class _Selection:
    findings: list[StoredFinding]
    run_id: int  # the run the findings belong to
    scope: str  # as named in README.txt


class _LazyShooter:
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


def _select(store: EvidenceStore, finding_id: int | None, run_id: int | None, notes: list[str]) -> _Selection:
    if finding_id is not None:
        found = store.finding(finding_id)
        if found is None:
            raise EvidenceError(f"数据库中没有编号为 {finding_id} 的违规线索。")
        return _Selection([found], found.run_id, f"线索 {finding_id}")
    assert run_id is not None
    if store.run(run_id) is None:
        raise EvidenceError(f"数据库中没有编号为 {run_id} 的扫描或巡检任务。")
    findings = store.findings(run_id)
    if not findings:
        notes.append("该任务没有违规线索。")
    return _Selection(findings, run_id, f"任务 {run_id} 的全部线索")


def _manifest_head(run: StoredRun, finding_id: int | None, run_id: int | None) -> dict[str, Any]:
    return {
        "format": FORMAT,
        "tool": {"name": "mdwatch", "version": __version__},
        "exported_at": _times(datetime.now(UTC)),
        "scope": {"finding_id": finding_id} if finding_id is not None else {"run_id": run_id},
        "run": {"id": run.id, "kind": run.kind, "target": run.target, "status": run.status,
                "started_at": _times(run.started_at)},
    }


def _add_findings(pkg: _Package, store: EvidenceStore, findings: Sequence[StoredFinding],
                  shooter: _LazyShooter, notes: list[str]) -> dict[int, _PageFiles]:
    """Add each finding's finding.json and, once per page, the page's files; returns the pages by id."""
    pages: dict[int, _PageFiles] = {}
    for f in findings:
        if f.page_id not in pages:
            pages[f.page_id] = _add_finding_page(pkg, store, f, shooter, notes)
        page, capture, files = pages[f.page_id]
        pkg.add_bytes(f"findings/{f.id}/finding.json", _json(_finding_doc(f, page, capture, files)),
                      "finding")
    return pages


def _add_finding_page(pkg: _Package, store: EvidenceStore, f: StoredFinding, shooter: _LazyShooter,
                      notes: list[str]) -> _PageFiles:
    page = store.page(f.page_id)
    capture = store.capture(f.capture_sha256)
    if page is None or capture is None:
        raise EvidenceError(f"线索 {f.id} 的页面或抓取记录缺失，无法导出。")
    files = _add_page(pkg, store, page, capture, shooter.for_page(store, page.id), notes)
    return page, capture, files


def _write_package(tmp: Path, store: EvidenceStore, selection: _Selection, manifest: dict[str, Any], *,
                   include_warc: bool, shooter: _LazyShooter, notes: list[str]) -> tuple[int, bytes]:
    """Write the whole ZIP to ``tmp``; returns its number of files and the manifest's bytes."""
    with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_DEFLATED, allowZip64=True) as zf:
        pkg = _Package(zf)
        pages = _add_findings(pkg, store, selection.findings, shooter, notes)
        if include_warc:
            _add_warcs(pkg, store, selection.run_id, [(p, c) for p, c, _ in pages.values()], notes)
        manifest_note = "".join(f"\n说明：{n}" for n in notes) + ("\n" if notes else "")
        pkg.add_bytes(README, _readme(selection.scope, manifest_note).encode("utf-8"), "readme")
        manifest["notes"] = notes
        manifest_bytes = pkg.write_manifest(manifest)
    return len(pkg.entries) + 1, manifest_bytes  # + 1: the manifest itself


def export(
    db_url: str | None,
    out_zip: Path | str,
    *,
    finding_id: int | None = None,
    run_id: int | None = None,
    screenshots: bool = True,
    include_warc: bool = True,
    screenshotter: Screenshotter | None = None,
    data_dir: Path | str | None = None,
) -> ExportResult:
    """Write the evidence package of one finding or of every finding of a run to ``out_zip``."""
    if (finding_id is None) == (run_id is None):
        raise ValueError("give exactly one of finding_id and run_id")
    out = Path(out_zip)
    notes: list[str] = []
    shooter = _LazyShooter(screenshotter, screenshots)
    try:
        with EvidenceStore(db_url, data_dir=data_dir) as store:
            selection = _select(store, finding_id, run_id, notes)
            run = store.run(selection.run_id)
            assert run is not None
            out.parent.mkdir(parents=True, exist_ok=True)
            tmp = out.with_name(out.name + ".part")  # renamed only once complete
            manifest = _manifest_head(run, finding_id, run_id)
            files, manifest_bytes = _write_package(tmp, store, selection, manifest, include_warc=include_warc,
                                                   shooter=shooter, notes=notes)
            tmp.replace(out)
            return ExportResult(path=out, findings=len(selection.findings), files=files,
                                manifest_sha256=hashlib.sha256(manifest_bytes).hexdigest(), notes=notes)
    finally:
        shooter.close()
