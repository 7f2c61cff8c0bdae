"""The JSON API under ``/api/``: the pages' operations for scripts, described by FastAPI's OpenAPI
(``/api/openapi.json``). One router per area."""

from __future__ import annotations

from fastapi import APIRouter

__all__ = ["routers"]


def routers() -> list[APIRouter]:
    from mdwatch.console.api import admin, campaigns, findings, leads, runs, scans

    return [admin.router, runs.router, findings.router, leads.router, scans.router, campaigns.router]
