"""What the page routers share: the user of a page (or a redirect to the login page), the CSRF
check of a form post, and the answer to a form (an htmx fragment, or a redirect back)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response

from mdwatch.console.auth import Principal, check_csrf, console_of, require
from mdwatch.console.core import Console
from mdwatch.console.render import is_htmx, render

__all__ = ["after_post", "form_user", "page_router", "page_user", "render"]


def page_router() -> APIRouter:
    return APIRouter(include_in_schema=False)


def page_user(request: Request, permission: str = "read") -> tuple[Console, Principal]:
    return console_of(request), require(request, permission)


def form_user(request: Request, csrf_token: str | None, permission: str = "read") -> tuple[Console, Principal]:
    """The user of a form post, whose CSRF token must match their session's (checked first: a
    forged post learns nothing, not even whether the user may act)."""
    console = console_of(request)
    who = require(request, "read")
    check_csrf(request, who, csrf_token)
    return console, require(request, permission)


def after_post(request: Request, back: str, fragment: str | None = None, **context: Any) -> Response:
    """An htmx post gets ``fragment`` rendered; a plain form post is sent back to ``back``."""
    if fragment is not None and is_htmx(request):
        return render(request, fragment, **context)
    return RedirectResponse(back, status_code=303)
