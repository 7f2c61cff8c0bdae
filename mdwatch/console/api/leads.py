"""/api/leads: the organisation's leads, one lead with its history, 交办, the next step."""

from __future__ import annotations

from typing import Any, Literal

from fastapi import Query, Request
from pydantic import BaseModel, Field

from mdwatch.console.api.common import api_router, reader, writer
from mdwatch.console.ops import leads as ops
from mdwatch.console.params import RowId

router = api_router("线索")


class AssignIn(BaseModel):
    bureau: str = Field(min_length=1, max_length=200, description="承办单位")
    deadline: str | None = Field(default=None, max_length=40,
                                 description="办理期限：2027-01-31（北京时间当天结束）或 ISO 8601")
    note: str = Field(min_length=1, max_length=2000, description="交办说明")


class AdvanceIn(BaseModel):
    status: Literal["verified", "resolved", "dismissed"] = Field(
        description="verified（核查中）| resolved（已处置）| dismissed（不予处理）")
    note: str = Field(min_length=1, max_length=2000, description="处置说明")


@router.get("/leads", summary="本单位的线索（按企业统一社会信用代码和店铺分组）")
def leads(request: Request, status: str | None = Query(None, max_length=16), overdue: bool = False,
          campaign: str | None = Query(None, max_length=200)) -> dict[str, Any]:
    console, who = reader(request)
    now = console.now()
    groups = ops.inbox(console, who, status=status, overdue=overdue, campaign=campaign)
    return {"companies": [
        {"uscc": g.uscc, "overdue": g.overdue(now), "shops": [
            {"shop_url": s.shop_url, "leads": [ops.lead_json(lead, now) for lead in s.leads]}
            for s in g.shops.values()]} for g in groups]}


@router.get("/leads/{lead_id}", summary="一条线索及其处置记录")
def lead(request: Request, lead_id: RowId) -> dict[str, Any]:
    console, who = reader(request)
    detail = ops.lead_detail(console, who, lead_id)
    return ops.lead_json(detail.lead, console.now()) | {
        "company_uscc": detail.company, "next": list(detail.next_statuses),
        "events": [{"at": e.at.isoformat(), "kind": e.kind, "from": e.from_status, "to": e.to_status,
                    "note": e.note, "actor": e.actor} for e in detail.events]}


@router.post("/leads/{lead_id}/assign", summary="交办线索给承办单位，并设办理期限")
def assign(request: Request, lead_id: RowId, body: AssignIn) -> dict[str, Any]:
    console, who = writer(request, "lead")
    return ops.lead_json(ops.assign(console, who, lead_id, body.bureau, body.deadline, body.note), console.now())


@router.post("/leads/{lead_id}/advance", summary="线索进入下一步：核查中 → 已处置 / 不予处理")
def advance(request: Request, lead_id: RowId, body: AdvanceIn) -> dict[str, Any]:
    console, who = writer(request, "lead")
    return ops.lead_json(ops.advance(console, who, lead_id, body.status, body.note), console.now())
