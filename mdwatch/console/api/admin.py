"""/api/me, /api/users, /api/audit, /api/notifications."""

from __future__ import annotations

from typing import Any

from fastapi import Query, Request
from pydantic import BaseModel, Field

from mdwatch.console.api.common import api_router, reader, writer
from mdwatch.console.ops import admin as ops

router = api_router("账户与记录")


class UserIn(BaseModel):
    name: str = Field(min_length=1, max_length=100)
    role: str = Field(description="admin | inspector | reviewer | viewer")
    password: str = Field(min_length=8, max_length=1024)
    org: str | None = Field(default=None, max_length=200)


@router.get("/me", summary="当前账户")
def me(request: Request) -> dict[str, Any]:
    _console, who = reader(request)
    return {**ops.user_json(who.user), "via": who.via}


@router.get("/users", summary="账户列表（管理员）")
def users(request: Request) -> list[dict[str, Any]]:
    console, _who = reader(request, "users")
    return [ops.user_json(u) for u in console.accounts.users()]


@router.post("/users", status_code=201, summary="添加账户（管理员）")
def add_user(request: Request, body: UserIn) -> dict[str, Any]:
    console, who = writer(request, "users")
    return ops.user_json(ops.add_user(console, who, name=body.name, role=body.role, password=body.password,
                                      org=body.org))


@router.get("/audit", summary="审计记录（管理员），新的在前")
def audit(request: Request, limit: int = Query(100, ge=1, le=1000)) -> list[dict[str, Any]]:
    console, who = reader(request)
    return [{"id": e.id, "at": e.at.isoformat(), "actor": e.actor, "role": e.role, "org": e.org,
             "address": e.address, "action": e.action, "target_kind": e.target_kind, "target": e.target,
             "detail": e.detail} for e in ops.audit_entries(console, who, limit)]


@router.get("/notifications", summary="最近的通知及其发送结果")
def notifications(request: Request, limit: int = Query(50, ge=1, le=500)) -> dict[str, Any]:
    console, _who = reader(request)
    records, missing = ops.notifications(console, limit)
    return {"available": missing is None, "note": missing,
            "notifications": [{"id": r.id, "sent_at": r.sent_at.isoformat(), "channel": r.channel,
                               "target": r.target, "title": r.title, "ok": r.ok, "detail": r.detail,
                               "run_id": r.run_id} for r in records]}
