"""The console's pages (server-rendered, Chinese), one router per area; none is in the OpenAPI
description (that is ``/api/``)."""

from __future__ import annotations

from fastapi import APIRouter

__all__ = ["routers"]


def routers() -> list[APIRouter]:
    from mdwatch.console.pages import admin, campaigns, leads, login, overview, review, runs, scan

    return [login.router, overview.router, runs.router, review.router, leads.router, scan.router,
            campaigns.router, admin.router]
