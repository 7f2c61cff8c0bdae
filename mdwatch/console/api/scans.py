"""/api/scans: scan one URL now and answer with ``mdwatch scan --json``'s findings."""

from __future__ import annotations

from typing import Any

from fastapi import Request
from pydantic import BaseModel, Field

from mdwatch.console.api.common import api_router, writer
from mdwatch.console.ops.scans import scan_now

router = api_router("在线检测")


class ScanIn(BaseModel):
    url: str = Field(min_length=1, max_length=2000, description="店铺或商品页面网址（http 或 https）")


@router.post("/scans", summary="检测一个网址（内网、本机回环和链路本地地址除非在白名单中，否则拒绝）")
def scan(request: Request, body: ScanIn) -> dict[str, Any]:
    console, who = writer(request, "scan")
    return scan_now(console, who, body.url)
