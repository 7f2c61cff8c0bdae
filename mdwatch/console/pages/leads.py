"""线索: the organisation's inbox grouped by company and shop, one lead, 交办 and the next step."""

from __future__ import annotations

from fastapi import Form, Request
from fastapi.responses import Response

from mdwatch.console.ops import leads as ops
from mdwatch.console.pages.common import after_post, form_user, page_router, page_user, render
from mdwatch.console.params import RowId
from mdwatch.storage.leads import LEAD_STATUSES

router = page_router()


@router.get("/leads")
def leads_page(request: Request, status: str | None = None, overdue: bool = False,
               campaign: str | None = None) -> Response:
    console, who = page_user(request)
    groups = ops.inbox(console, who, status=status, overdue=overdue, campaign=campaign)
    return render(request, "leads.html.j2", who=who, active="leads", title="线索", groups=groups, now=console.now(),
                  status=status or "", overdue=overdue, statuses=LEAD_STATUSES,
                  campaigns=[c.name for c in console.leads.campaigns()], campaign=campaign or "")


@router.get("/leads/{lead_id}")
def lead_page(request: Request, lead_id: RowId) -> Response:
    console, who = page_user(request)
    return render(request, "lead.html.j2", who=who, active="leads", title=f"线索 {lead_id}",
                  detail=ops.lead_detail(console, who, lead_id), now=console.now())


@router.post("/leads/{lead_id}/assign")
def assign_post(request: Request, lead_id: RowId, bureau: str = Form(""), deadline: str = Form(""),
                note: str = Form(""), csrf_token: str = Form("")) -> Response:
    console, who = form_user(request, csrf_token, "lead")
    ops.assign(console, who, lead_id, bureau, deadline, note)
    return after_post(request, f"/leads/{lead_id}", "fragments/lead_panel.html.j2", who=who,
                      detail=ops.lead_detail(console, who, lead_id), now=console.now())


@router.post("/leads/{lead_id}/advance")
def advance_post(request: Request, lead_id: RowId, status: str = Form(""), note: str = Form(""),
                 csrf_token: str = Form("")) -> Response:
    console, who = form_user(request, csrf_token, "lead")
    ops.advance(console, who, lead_id, status, note)
    return after_post(request, f"/leads/{lead_id}", "fragments/lead_panel.html.j2", who=who,
                      detail=ops.lead_detail(console, who, lead_id), now=console.now())
