"""任务: campaigns and schedules."""

from __future__ import annotations

from typing import Annotated

from fastapi import Form, Request
from fastapi.responses import RedirectResponse, Response

from mdwatch.console.ops import campaigns as ops
from mdwatch.console.pages.common import form_user, page_router, page_user, render

router = page_router()


@router.get("/campaigns")
def campaigns_page(request: Request) -> Response:
    from mdwatch.analyzers.packs import load_pack, pack_names

    console, who = page_user(request)
    packs = [(name, load_pack(name).title) for name in pack_names()]
    return render(request, "campaigns.html.j2", who=who, active="campaigns", title="监测任务与计划",
                  campaigns=ops.campaigns(console), schedules=ops.schedules(console), packs=packs, now=console.now())


@router.post("/campaigns")
def campaign_create(request: Request, name: str = Form(""), targets: str = Form(""), packs: Annotated[list[str] | None, Form()] = None,
                    cron: str = Form(""), org: str = Form(""), csrf_token: str = Form("")) -> Response:
    console, who = form_user(request, csrf_token, "campaign")
    ops.create(console, who, name=name, targets=targets, packs=packs or [], cron=cron, org=org)
    return RedirectResponse("/campaigns", status_code=303)


@router.post("/campaigns/{name:path}/run")
def campaign_run(request: Request, name: str, csrf_token: str = Form("")) -> Response:
    console, who = form_user(request, csrf_token, "campaign")
    ops.run_now(console, who, name)
    return RedirectResponse("/runs", status_code=303)


@router.post("/schedules/{name:path}/{action}")
def schedule_action(request: Request, name: str, action: str, csrf_token: str = Form("")) -> Response:
    console, who = form_user(request, csrf_token, "schedule")
    if action == "pause":
        ops.pause_schedule(console, who, name)
    elif action == "resume":
        ops.resume_schedule(console, who, name)
    else:
        from mdwatch.console.errors import not_found

        raise not_found("不支持的计划操作。")
    return RedirectResponse("/campaigns", status_code=303)
