"""/api/findings, /api/findings/{id}/review, /api/precision, /api/feedback."""

from __future__ import annotations

from typing import Any, Literal

from fastapi import Query, Request
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, Field

from mdwatch.console.api.common import api_router, reader, writer
from mdwatch.console.ops import findings as ops
from mdwatch.console.params import QueryId, RowId

router = api_router("问题审核")


class ReviewIn(BaseModel):
    decision: Literal["confirmed", "dismissed"] = Field(description="confirmed（确认违规）| dismissed（误报驳回）")
    reason: str = Field(min_length=1, max_length=2000, description="审核理由")


@router.get("/findings", summary="问题列表（可按规则、级别、平台、店铺、审核状态筛选），新的在前")
def findings(request: Request, rule: str | None = Query(None, max_length=64),
             severity: str | None = Query(None, max_length=16), platform: str | None = Query(None, max_length=300),
             shop_id: QueryId = None, status: str | None = Query(None, max_length=16),
             run_id: QueryId = None, page: int = Query(1, ge=1, le=100000),
             size: int = Query(50, ge=1, le=500)) -> dict[str, Any]:
    console, _who = reader(request)
    items, total = ops.queue(console, ops.make_filter(rule, severity, platform, shop_id, status, run_id), page, size)
    return {"total": total, "page": page, "size": size, "findings": [ops.finding_json(i) for i in items]}


@router.get("/findings/{finding_id}", summary="一条问题及其证据、截图与 OCR 文本")
def finding(request: Request, finding_id: RowId) -> dict[str, Any]:
    console, _who = reader(request)
    view = ops.finding_view(console, finding_id)
    return ops.finding_json(view.item) | {
        "rule_title": view.title,
        "ocr": [{"image_url": e.image_url, "engine": engine, "text": text} for e in view.evidence
                for engine, text in e.ocr],
        "files": [{"id": f.id, "kind": f.kind, "sha256": f.sha256, "size": f.size, "content_type": f.content_type,
                   "created_at": f.created_at.isoformat()} for f in view.files],
    }


@router.post("/findings/{finding_id}/review", summary="确认或驳回一条问题（审核人员、管理员）")
def review(request: Request, finding_id: RowId, body: ReviewIn) -> dict[str, Any]:
    console, who = writer(request, "review")
    return ops.decide(console, who, finding_id, body.decision, body.reason).as_json()


@router.get("/precision", summary="各规则的现场精确率（确认 /（确认 + 驳回））与语料精确率")
def precision(request: Request) -> list[dict[str, Any]]:
    console, _who = reader(request)
    return [{"rule": p.rule, "title": p.title, "confirmed": p.confirmed, "dismissed": p.dismissed,
             "field_precision": p.field_precision, "corpus_precision": p.corpus_precision,
             "corpus_tp": p.corpus_tp, "corpus_fp": p.corpus_fp} for p in ops.precision_rows(console)]


@router.get("/feedback", summary="审核结论作为标注数据（JSON Lines）：默认为驳回的问题",
            response_class=StreamingResponse,
            responses={200: {"content": {"application/x-ndjson": {}}, "description": "每行一条审核结论"}})
def feedback(request: Request, decision: Literal["confirmed", "dismissed", "all"] = "dismissed") -> StreamingResponse:
    console, _who = reader(request, "review")
    lines = ops.feedback_jsonl(console, None if decision == "all" else decision)
    return StreamingResponse(lines, media_type="application/x-ndjson; charset=utf-8")
