"""问题审核: the queue with its filters, one finding with its evidence, confirm / dismiss, the
labelled-data download."""

from __future__ import annotations

from fastapi import Form, Query, Request
from fastapi.responses import Response, StreamingResponse

from mdwatch.console.ops import findings as ops
from mdwatch.console.pages.common import after_post, form_user, page_router, page_user, render
from mdwatch.console.params import QueryId, RowId
from mdwatch.scheduler.outputs.labels import SEVERITIES

router = page_router()


@router.get("/review")
def review_page(request: Request, rule: str | None = None, severity: str | None = None,
                platform: str | None = None, shop: QueryId = None, status: str | None = None,
                page: int = Query(1, ge=1, le=100000)) -> Response:
    console, who = page_user(request)
    flt = ops.make_filter(rule, severity, platform, shop, status)
    items, total = ops.queue(console, flt, page)
    size = console.settings.page_size
    return render(request, "review.html.j2", who=who, active="review", title="问题审核", items=items, total=total,
                  page=max(1, page), pages=max(1, (total + size - 1) // size), flt=flt,
                  rules=console.reviews.rules(), shops=console.reviews.shops(), severities=SEVERITIES,
                  statuses=ops.STATUS_ZH, precision=ops.precision_rows(console))


@router.get("/findings/{finding_id}")
def finding_page(request: Request, finding_id: RowId) -> Response:
    console, who = page_user(request)
    view = ops.finding_view(console, finding_id)
    return render(request, "finding.html.j2", who=who, active="review", title=f"问题 {finding_id}", view=view,
                  precision=ops.precision_rows(console, [view.item.rule])[0])


@router.post("/findings/{finding_id}/review")
def review_post(request: Request, finding_id: RowId, decision: str = Form(""), reason: str = Form(""),
                csrf_token: str = Form("")) -> Response:
    console, who = form_user(request, csrf_token, "review")
    ops.decide(console, who, finding_id, decision, reason)
    view = ops.finding_view(console, finding_id)
    return after_post(request, f"/findings/{finding_id}", "fragments/review_panel.html.j2", who=who, view=view,
                      precision=ops.precision_rows(console, [view.item.rule])[0], saved=True)


@router.get("/review/feedback.jsonl")
def feedback(request: Request, decision: str | None = "dismissed") -> Response:
    console, _who = page_user(request, "review")
    lines = ops.feedback_jsonl(console, decision or None)
    name = f"mdwatch-feedback-{decision or 'all'}.jsonl"
    return StreamingResponse(lines, media_type="application/x-ndjson; charset=utf-8",
                             headers={"Content-Disposition": f'attachment; filename="{name}"'})
