"""运行: the list (polled while something runs), one run with its progress, reports and evidence."""

from __future__ import annotations

from pathlib import Path

from fastapi import Request
from fastapi.responses import FileResponse, Response
from starlette.background import BackgroundTask

from mdwatch.console.errors import not_found
from mdwatch.console.ops import runs as ops
from mdwatch.console.ops.findings import make_filter, queue
from mdwatch.console.ops.leads import lead_detail
from mdwatch.console.pages.common import page_router, page_user, render
from mdwatch.console.params import RowId
from mdwatch.storage.dashboard import evidence_page_id

router = page_router()


def _cleanup(path: Path) -> BackgroundTask:
    def remove() -> None:
        path.unlink(missing_ok=True)
        path.parent.rmdir()

    return BackgroundTask(remove)


@router.get("/runs")
def runs_page(request: Request, kind: str | None = None) -> Response:
    console, who = page_user(request)
    console.reap()
    return render(request, "runs.html.j2", who=who, active="runs", title="运行", runs=ops.runs(console, 50, kind),
                  campaign_runs=ops.campaign_runs(console), kind=kind or "")


@router.get("/runs/table")
def runs_table(request: Request, kind: str | None = None) -> Response:
    console, who = page_user(request)
    return render(request, "fragments/runs_table.html.j2", who=who, runs=ops.runs(console, 50, kind),
                  kind=kind or "")


@router.get("/runs/{run_id}")
def run_page(request: Request, run_id: RowId) -> Response:
    console, who = page_user(request)
    run = ops.run_view(console, run_id)
    items, total = queue(console, make_filter(run_id=run_id), 1, 200)
    return render(request, "run.html.j2", who=who, active="runs", title=f"运行 {run_id}", run=run, items=items,
                  total=total, files=console.evidence.files_for_run(run_id))


@router.get("/runs/{run_id}/progress")
def run_progress(request: Request, run_id: RowId) -> Response:
    console, who = page_user(request)
    return render(request, "fragments/run_progress.html.j2", who=who, run=ops.run_view(console, run_id))


@router.get("/runs/{run_id}/report.{fmt}")
def run_report(request: Request, run_id: RowId, fmt: str) -> Response:
    console, _who = page_user(request)
    ops.run_view(console, run_id)
    body = ops.run_report(console, [run_id], fmt)
    disposition = "inline" if fmt == "html" else "attachment"
    return Response(body, media_type=ops.REPORT_TYPES[fmt],
                    headers={"Content-Disposition": f'{disposition}; filename="report-{run_id}.{fmt}"'})


@router.get("/runs/{run_id}/evidence.zip")
def run_evidence(request: Request, run_id: RowId) -> Response:
    console, who = page_user(request)
    path, name = ops.evidence_package(console, who, run_id=run_id)
    return FileResponse(path, media_type="application/zip", filename=name, background=_cleanup(path))


@router.get("/findings/{finding_id}/evidence.zip")
def finding_evidence(request: Request, finding_id: RowId) -> Response:
    console, who = page_user(request)
    path, name = ops.evidence_package(console, who, finding_id=finding_id)
    return FileResponse(path, media_type="application/zip", filename=name, background=_cleanup(path))


@router.get("/findings/{finding_id}/report.pdf")
def finding_pdf(request: Request, finding_id: RowId) -> Response:
    console, who = page_user(request)
    path, name = ops.finding_pdf(console, who, finding_id=finding_id)
    return FileResponse(path, media_type="application/pdf", filename=name, background=_cleanup(path))


@router.get("/leads/{lead_id}/report.pdf")
def lead_pdf(request: Request, lead_id: RowId) -> Response:
    console, who = page_user(request)
    lead_detail(console, who, lead_id)  # another bureau's lead is not there for this user
    path, name = ops.finding_pdf(console, who, lead_id=lead_id)
    return FileResponse(path, media_type="application/pdf", filename=name, background=_cleanup(path))


@router.get("/leads/{lead_id}/evidence.zip")
def lead_evidence(request: Request, lead_id: RowId) -> Response:
    console, who = page_user(request)
    lead_detail(console, who, lead_id)
    path, name = ops.evidence_package(console, who, lead_id=lead_id)
    return FileResponse(path, media_type="application/zip", filename=name, background=_cleanup(path))


@router.get("/evidence/{file_id}")
def evidence_file(request: Request, file_id: RowId) -> Response:
    """A screenshot (or other small evidence file) of a page, for the review page."""
    console, _who = page_user(request)
    page_id = evidence_page_id(console.engine, file_id)
    files = console.evidence.files_for_page(page_id) if page_id is not None else []
    found = next((f for f in files if f.id == file_id and f.kind == "screenshot"), None)
    if found is None:
        raise not_found(f"没有编号为 {file_id} 的截图。")
    return Response(console.evidence.read(found), media_type="image/png",
                    headers={"Cache-Control": "private, max-age=86400"})
