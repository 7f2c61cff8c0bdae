"""/api/campaigns, /api/schedules."""

from __future__ import annotations

from typing import Any

from fastapi import Request
from pydantic import BaseModel, Field

from mdwatch.console.api.common import api_router, reader, writer
from mdwatch.console.ops import campaigns as ops

router = api_router("监测任务与计划")


class CampaignIn(BaseModel):
    name: str = Field(min_length=1, max_length=150)
    targets: list[str] = Field(min_length=1, max_length=500, description="目标网址（http 或 https）")
    packs: list[str] = Field(min_length=1, max_length=20, description="规则包，如 device-national、hainan")
    cron: str | None = Field(default=None, max_length=200, description="执行计划（cron，5 或 6 个字段）")
    org: str | None = Field(default=None, max_length=200, description="负责的单位（默认：当前账户的单位）")


@router.get("/campaigns", summary="监测任务：目标、规则包、执行计划、下次运行、线索统计")
def campaigns(request: Request) -> list[dict[str, Any]]:
    console, _who = reader(request)
    return [c.as_json() for c in ops.campaigns(console)]


@router.post("/campaigns", status_code=201, summary="创建监测任务（管理员）")
def create(request: Request, body: CampaignIn) -> dict[str, Any]:
    console, who = writer(request, "campaign")
    created = ops.create(console, who, name=body.name, targets=body.targets, packs=body.packs, cron=body.cron,
                         org=body.org)
    return {"name": created.name, "org": created.org, "packs": list(created.packs), "cron": created.cron,
            "targets": [t.target for t in created.targets]}


@router.post("/campaigns/{name}/run", status_code=202, summary="立即运行一次监测任务（管理员；在独立进程中运行）")
def run(request: Request, name: str) -> dict[str, Any]:
    console, who = writer(request, "campaign")
    return {"campaign": name, "pid": ops.run_now(console, who, name)}


@router.get("/schedules", summary="计划任务：计划、下次运行、状态")
def schedules(request: Request) -> list[dict[str, Any]]:
    console, _who = reader(request)
    return [s.to_json() for s in ops.schedules(console)]


@router.post("/schedules/{name}/pause", summary="暂停计划（管理员）")
def pause(request: Request, name: str) -> dict[str, Any]:
    console, who = writer(request, "schedule")
    return ops.pause_schedule(console, who, name).to_json()


@router.post("/schedules/{name}/resume", summary="恢复计划（管理员）")
def resume(request: Request, name: str) -> dict[str, Any]:
    console, who = writer(request, "schedule")
    return ops.resume_schedule(console, who, name).to_json()
