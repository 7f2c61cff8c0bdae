"""总览."""

from __future__ import annotations

from fastapi import Request
from fastapi.responses import Response

from mdwatch.console.ops.overview import overview
from mdwatch.console.pages.common import page_router, page_user, render

router = page_router()


@router.get("/")
def overview_page(request: Request) -> Response:
    console, who = page_user(request)
    return render(request, "overview.html.j2", who=who, active="overview", title="总览", data=overview(console),
                  now=console.now())
