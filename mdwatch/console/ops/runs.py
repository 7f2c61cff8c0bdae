"""运行: every scan, sweep and campaign run with its status, duration and progress while running;
its report (HTML, XLSX, JSON: ``outputs.reports``), its evidence package (``jobs.evidence.export``)
and each finding's or lead's 取证报告 PDF (``jobs.evidence`` PDF report) — the CLI's own code."""

from __future__ import annotations

import shutil
import tempfile
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mdwatch.console.auth import Principal, can
from mdwatch.console.errors import ConsoleError, bad_request, forbidden, not_found
from mdwatch.scheduler.outputs.labels import RUN_KIND_ZH
from mdwatch.storage.dashboard import run_progress
from mdwatch.storage.leads import CampaignRun

if TYPE_CHECKING:
    from mdwatch.console.core import Console
    from mdwatch.storage.records import StoredRun

__all__ = ["RunView", "campaign_runs", "evidence_package", "finding_pdf", "run_report", "run_view", "runs"]

RUN_STATUS_ZH = {"running": "运行中", "done": "完成", "interrupted": "已中断", "partial": "部分目标无法访问",
                 "failed": "失败", "ok": "完成"}
REPORT_TYPES = {"html": "text/html; charset=utf-8", "xlsx":
                "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
                "json": "application/json"}


@dataclass(frozen=True, slots=True)
class RunView:
    id: int
    kind: str
    kind_zh: str
    target: str
    status: str
    status_zh: str
    started_at: datetime
    finished_at: datetime | None
    seconds: float | None
    pages: int
    findings: int
    stats: dict[str, Any]

    @property
    def running(self) -> bool:
        return self.status == "running"

    def as_json(self) -> dict[str, Any]:
        return {"id": self.id, "kind": self.kind, "target": self.target, "status": self.status,
                "started_at": self.started_at.isoformat(),
                "finished_at": self.finished_at.isoformat() if self.finished_at else None,
                "seconds": self.seconds, "pages": self.pages, "findings": self.findings}


def _view(run: StoredRun, progress: dict[int, tuple[int, int]], now: datetime) -> RunView:
    stats = dict(run.stats or {})
    pages, findings = int(stats.get("pages", 0) or 0), int(stats.get("findings", 0) or 0)
    if run.status == "running" and run.id in progress:  # a running sweep commits page by page
        pages, findings = progress[run.id]
    end = run.finished_at or (now if run.status == "running" else None)
    seconds = max(0.0, (end - run.started_at).total_seconds()) if end else None
    return RunView(run.id, run.kind, RUN_KIND_ZH.get(run.kind, run.kind), run.target, run.status,
                   RUN_STATUS_ZH.get(run.status, run.status), run.started_at, run.finished_at, seconds, pages,
                   findings, stats)


def runs(console: Console, limit: int = 50, kind: str | None = None) -> list[RunView]:
    stored = console.store.runs(max(1, min(limit, 500)), kind or None)
    progress = run_progress(console.engine, [r.id for r in stored if r.status == "running"])
    now = console.now()
    return [_view(r, progress, now) for r in stored]


def run_view(console: Console, run_id: int) -> RunView:
    run = console.evidence.run(run_id)
    if run is None:
        raise not_found(f"没有编号为 {run_id} 的运行。")
    return _view(run, run_progress(console.engine, [run_id]) if run.status == "running" else {}, console.now())


def campaign_runs(console: Console, limit: int = 20) -> list[tuple[str, CampaignRun]]:
    """(campaign name, run), newest first."""
    out = [(c.name, r) for c in console.leads.campaigns() for r in console.leads.campaign_runs(c.id)]
    out.sort(key=lambda pair: (pair[1].started_at, pair[1].id), reverse=True)
    return out[:limit]


def run_report(console: Console, run_ids: list[int], fmt: str) -> bytes:
    """The monitoring report of ``run_ids`` in ``fmt`` (html, xlsx, json), as the CLI writes it."""
    from mdwatch.scheduler.outputs.reports import ReportError, build_report, render

    if fmt not in REPORT_TYPES:
        raise bad_request("报告格式只能是 html、xlsx 或 json。")
    try:
        return render(build_report(console.app.db_url, run_ids=run_ids), fmt)
    except ReportError as exc:
        raise not_found(str(exc)) from exc


def evidence_package(console: Console, who: Principal, *, run_id: int | None = None,
                     finding_id: int | None = None, lead_id: int | None = None) -> tuple[Path, str]:
    """Export the evidence package (ZIP) into a temporary directory: (path, download name). The
    export is entered in the chain of custody with the console user as operator."""
    from mdwatch.scheduler.jobs.evidence import EvidenceError, export
    from mdwatch.scheduler.jobs.evidence.custody_log import export_target, record

    if not can(who.user, "evidence"):
        raise forbidden(f"{who.user.role_zh}无权导出证据包（导出会记入保管链）。")

    kind, value = next((k, v) for k, v in (("run", run_id), ("finding", finding_id), ("lead", lead_id))
                       if v is not None)
    name = f"evidence-{kind}-{value}.zip"
    out = Path(tempfile.mkdtemp(prefix="mdwatch-console-")) / name
    try:
        result = export(console.app.db_url, out, run_id=run_id, finding_id=finding_id, lead_id=lead_id)
    except EvidenceError as exc:
        shutil.rmtree(out.parent, ignore_errors=True)
        raise not_found(str(exc)) from exc
    assert result.target is not None
    record(console.app.db_url, operator=f"{who.user.name}（工作台）", action="export",
           target=export_target(result.target), result="ok", manifest_sha256=result.manifest_sha256,
           package=name, detail=f"{result.findings} 条问题，{result.files} 个文件")
    console.audit(who.user, who.address, "evidence.export", kind, str(value), {"manifest": result.manifest_sha256})
    return out, name


def finding_pdf(console: Console, who: Principal, *, finding_id: int | None = None,
                lead_id: int | None = None) -> tuple[Path, str]:
    """The 取证报告 PDF of a finding or a lead (every finding one page), as ``evidence report`` writes it."""
    from mdwatch.scheduler.jobs.evidence.pdf_report import ReportError, finding_facts, render_finding_pdf
    from mdwatch.scheduler.jobs.evidence.selection import EvidenceError, Target, select_target

    target = Target("finding", str(finding_id)) if finding_id is not None else Target("lead", str(lead_id))
    name = f"report-{target.kind}-{target.value}.pdf"
    out = Path(tempfile.mkdtemp(prefix="mdwatch-console-")) / name
    operator = f"{who.user.name}（工作台）"
    try:
        ids = [finding_id] if finding_id is not None else [
            f.id for f in select_target(console.evidence, target, []).findings]
        facts = [finding_facts(console.app.db_url, int(i), operator=operator) for i in ids if i is not None]
        render_finding_pdf(facts, out, title=target.scope)
    except EvidenceError as exc:
        shutil.rmtree(out.parent, ignore_errors=True)
        raise not_found(str(exc)) from exc
    except ReportError as exc:
        shutil.rmtree(out.parent, ignore_errors=True)
        raise (not_found(str(exc)) if "没有编号" in str(exc) else ConsoleError(503, str(exc))) from exc
    console.audit(who.user, who.address, "evidence.report", target.kind, target.value, {})
    return out, name
