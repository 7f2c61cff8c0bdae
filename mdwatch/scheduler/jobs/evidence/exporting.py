"""``export``: the ZIP evidence package of one finding, one lead, one run or one campaign."""

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
from mdwatch.scheduler.jobs.evidence.grounds import Grounds, LazyShooter
from mdwatch.scheduler.jobs.evidence.package_format import FORMAT, README, _json, _times
from mdwatch.scheduler.jobs.evidence.package_pages import _add_warcs
from mdwatch.scheduler.jobs.evidence.package_zip import _Package
from mdwatch.scheduler.jobs.evidence.selection import EvidenceError, Selection, Target, select_target
from mdwatch.storage.evidence import EvidenceStore
from mdwatch.storage.records import StoredFinding, StoredRun

__all__ = ["EvidenceError", "ExportResult", "Target", "export"]


@dataclass(frozen=True, slots=True)
class ExportResult:
    path: Path
    findings: int
    files: int
    manifest_sha256: str
    notes: list[str]
    target: Target | None = None  # what was exported

    @property
    def scope(self) -> str:
        return self.target.scope if self.target is not None else ""


def _run_doc(run: StoredRun) -> dict[str, Any]:
    return {"id": run.id, "kind": run.kind, "target": run.target, "status": run.status,
            "started_at": _times(run.started_at)}


def _manifest_head(runs: Sequence[StoredRun], selection: Selection) -> dict[str, Any]:
    """The manifest's head: ``run`` when the package holds one run's findings, ``runs`` when several."""
    head: dict[str, Any] = {
        "format": FORMAT,
        "tool": {"name": "mdwatch", "version": __version__},
        "exported_at": _times(datetime.now(UTC)),
        "scope": {**selection.target.manifest(), **selection.extra},
    }
    if len(runs) == 1:
        head["run"] = _run_doc(runs[0])
    elif runs:
        head["runs"] = [_run_doc(r) for r in runs]
    return head


def _add_findings(grounds: Grounds, findings: Sequence[StoredFinding]) -> None:
    """Add each finding's finding.json and, once each, the captures it rests on (see :mod:`.grounds`)."""
    for f in findings:
        page, capture, files = grounds.finding_page(f)
        proof = grounds.proven_by(f, page, capture, files)
        grounds.pkg.add_bytes(f"findings/{f.id}/finding.json",
                              _json(_finding_doc(f, page, capture, files, proof)), "finding")


def _write_package(tmp: Path, store: EvidenceStore, selection: Selection, manifest: dict[str, Any], *,
                   include_warc: bool, shooter: LazyShooter, notes: list[str],
                   tsa_url: str | None = None) -> tuple[int, bytes]:
    """Write the whole ZIP to ``tmp``; returns its number of files and the manifest's bytes."""
    with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_DEFLATED, allowZip64=True) as zf:
        pkg = _Package(zf, tsa_url=tsa_url)
        grounds = Grounds(pkg, store, shooter, notes)
        _add_findings(grounds, selection.findings)
        if include_warc:
            for run_id in selection.run_ids:
                pages = [(p, c) for p, c, _ in grounds.pages.values() if p.run_id == run_id]
                _add_warcs(pkg, store, run_id, pages, notes, grounds.related_by_run.get(run_id, ()))
        notes[:] = list(dict.fromkeys(notes))  # one run's note said once, however many runs
        manifest_note = "".join(f"\n说明：{n}" for n in notes) + ("\n" if notes else "")
        pkg.add_bytes(README, _readme(selection.target.scope, manifest_note).encode("utf-8"), "readme")
        manifest["notes"] = notes
        manifest_bytes = pkg.write_manifest(manifest)
    return len(pkg.entries) + 1, manifest_bytes  # + 1: the manifest itself


def _target(finding_id: int | None, run_id: int | None, lead_id: int | None, campaign: str | None) -> Target:
    given = [(kind, value) for kind, value in (("finding", finding_id), ("lead", lead_id), ("run", run_id),
                                                ("campaign", campaign)) if value is not None]
    if len(given) != 1:
        raise ValueError("give exactly one of finding_id, lead_id, run_id and campaign")
    kind, value = given[0]
    return Target(kind, str(value))


def export(
    db_url: str | None,
    out_zip: Path | str,
    *,
    finding_id: int | None = None,
    run_id: int | None = None,
    lead_id: int | None = None,
    campaign: str | None = None,
    screenshots: bool = True,
    include_warc: bool = True,
    screenshotter: Screenshotter | None = None,
    data_dir: Path | str | None = None,
    tsa_url: str | None = None,
) -> ExportResult:
    """Write the evidence package of one finding, one lead (all its findings), one run or one
    campaign (every finding of its runs) to ``out_zip``; ``tsa_url`` (else ``MDWATCH_TSA_URL``) seals
    the manifest with a trusted timestamp, else the local key signs it (package_zip.py)."""
    target = _target(finding_id, run_id, lead_id, campaign)
    out = Path(out_zip)
    notes: list[str] = []
    shooter = LazyShooter(screenshotter, screenshots)
    try:
        with EvidenceStore(db_url, data_dir=data_dir) as store:
            selection = select_target(store, target, notes)
            runs = [r for r in (store.run(i) for i in selection.run_ids) if r is not None]
            out.parent.mkdir(parents=True, exist_ok=True)
            tmp = out.with_name(out.name + ".part")  # renamed only once complete
            manifest = _manifest_head(runs, selection)
            files, manifest_bytes = _write_package(tmp, store, selection, manifest, include_warc=include_warc,
                                                   shooter=shooter, notes=notes, tsa_url=tsa_url)
            tmp.replace(out)
            return ExportResult(path=out, findings=len(selection.findings), files=files,
                                manifest_sha256=hashlib.sha256(manifest_bytes).hexdigest(), notes=notes,
                                target=target)
    finally:
        shooter.close()
