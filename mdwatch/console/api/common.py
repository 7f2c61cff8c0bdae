"""What the API routers share: the bearer scheme in the OpenAPI description, the caller of a read
and of a write (a write made with a browser session must send ``X-CSRF-Token``), the error shape."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.security import HTTPBearer
from pydantic import BaseModel

from mdwatch.console.auth import Principal, check_csrf, console_of, require
from mdwatch.console.core import Console

__all__ = ["ERRORS", "ErrorOut", "api_router", "reader", "writer"]

bearer = HTTPBearer(auto_error=False, description="`mdwatch user token NAME` 生成的 API 令牌")


class ErrorOut(BaseModel):
    detail: str


ERRORS: dict[int | str, dict[str, Any]] = {
    code: {"model": ErrorOut, "description": text} for code, text in (
        (400, "请求有误"), (401, "未登录或令牌无效"), (403, "无权执行"), (404, "不存在"), (409, "状态冲突"),
        (422, "参数不正确"))
}


def api_router(tag: str) -> APIRouter:
    return APIRouter(tags=[tag], dependencies=[Depends(bearer)], responses=ERRORS)


def reader(request: Request, permission: str = "read") -> tuple[Console, Principal]:
    return console_of(request), require(request, permission)


def writer(request: Request, permission: str) -> tuple[Console, Principal]:
    console = console_of(request)
    who = require(request, "read")
    check_csrf(request, who)
    return console, require(request, permission)
