"""检测: paste a URL, see the findings as ``mdwatch scan`` shows them (the job is polled with htmx)."""

from __future__ import annotations

from fastapi import Form, Request
from fastapi.responses import RedirectResponse, Response

from mdwatch.console.errors import not_found
from mdwatch.console.ops.scans import start_scan
from mdwatch.console.pages.common import form_user, page_router, page_user, render
from mdwatch.console.render import is_htmx

router = page_router()


@router.get("/scan")
def scan_page(request: Request) -> Response:
    _console, who = page_user(request)
    return render(request, "scan.html.j2", who=who, active="scan", title="在线检测", job=None, url="")


@router.post("/scan")
def scan_post(request: Request, url: str = Form(""), csrf_token: str = Form("")) -> Response:
    console, who = form_user(request, csrf_token, "scan")
    job = start_scan(console, who, url)
    if is_htmx(request):
        return render(request, "fragments/scan_job.html.j2", who=who, job=job)
    return RedirectResponse(f"/scan/jobs/{job.id}", status_code=303)


@router.get("/scan/jobs/{job_id}")
def scan_job(request: Request, job_id: str) -> Response:
    console, who = page_user(request)
    job = console.jobs.get(job_id)
    if job is None or (job.owner != who.user.name and who.user.role != "admin"):
        raise not_found("没有这个检测任务（服务重启后检测任务不保留，结果可在“运行”中查看）。")
    if is_htmx(request):
        return render(request, "fragments/scan_job.html.j2", who=who, job=job)
    return render(request, "scan.html.j2", who=who, active="scan", title="在线检测", job=job, url=job.url)
