"""/api/overview, /api/runs."""

from __future__ import annotations

from typing import Any

from fastapi import Query, Request

from mdwatch.console.api.common import api_router, reader
from mdwatch.console.ops import runs as ops
from mdwatch.console.ops.overview import overview as overview_data
from mdwatch.console.params import RowId

router = api_router("总览与运行")


@router.get("/overview", summary="总览：按级别、规则、平台、店铺统计，最近运行，变化，精度警戒")
def overview(request: Request) -> dict[str, Any]:
    console, _who = reader(request)
    data = overview_data(console)
    return {
        "charts": data.charts, "severity_totals": data.severity_totals, "runs": [r.as_json() for r in data.runs],
        "changes": [{"label": c.label, "latest_run": c.latest_run, "previous_run": c.previous_run, "new": c.new,
                     "still_present": c.still, "fixed": c.fixed} for c in data.changes],
        "shops": [{"id": s.id, "url": s.url, "name": s.name, "by_severity": s.by_severity, "total": s.total}
                  for s in data.shops],
        "precision_guard": [a.to_dict() | {"run_id": a.run_id} for a in data.alerts],
    }


@router.get("/runs", summary="运行列表（扫描、巡查、专项监测），新的在前")
def runs(request: Request, limit: int = Query(50, ge=1, le=500),
         kind: str | None = Query(None, max_length=32)) -> list[dict[str, Any]]:
    console, _who = reader(request)
    return [r.as_json() for r in ops.runs(console, limit, kind)]


@router.get("/runs/{run_id}", summary="一次运行：状态、进度、统计")
def run(request: Request, run_id: RowId) -> dict[str, Any]:
    console, _who = reader(request)
    view = ops.run_view(console, run_id)
    return view.as_json() | {"stats": view.stats}


@router.get("/campaign-runs", summary="专项监测的运行，新的在前")
def campaign_runs(request: Request, limit: int = Query(20, ge=1, le=200)) -> list[dict[str, Any]]:
    console, _who = reader(request)
    return [{"campaign": name, "id": r.id, "status": r.status, "run_ids": list(r.run_ids),
             "started_at": r.started_at.isoformat(), "finished_at": r.finished_at.isoformat() if r.finished_at
             else None, "stats": r.stats} for name, r in ops.campaign_runs(console, limit)]
