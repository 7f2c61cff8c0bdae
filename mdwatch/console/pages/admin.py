"""账户、审计、通知."""

from __future__ import annotations

from fastapi import Form, Request
from fastapi.responses import RedirectResponse, Response

from mdwatch.console.ops import admin as ops
from mdwatch.console.pages.common import form_user, page_router, page_user, render

router = page_router()


@router.get("/admin/users")
def users_page(request: Request) -> Response:
    console, who = page_user(request, "users")
    return render(request, "users.html.j2", who=who, active="users", title="账户",
                  users=console.accounts.users(), tokens=console.accounts.tokens())


@router.post("/admin/users")
def user_add(request: Request, name: str = Form(""), role: str = Form(""), password: str = Form(""),
             org: str = Form(""), csrf_token: str = Form("")) -> Response:
    console, who = form_user(request, csrf_token, "users")
    ops.add_user(console, who, name=name, role=role, password=password, org=org)
    return RedirectResponse("/admin/users", status_code=303)


@router.get("/admin/audit")
def audit_page(request: Request) -> Response:
    console, who = page_user(request, "audit")
    return render(request, "audit.html.j2", who=who, active="audit", title="审计记录",
                  entries=ops.audit_entries(console, who))


@router.get("/notifications")
def notifications_page(request: Request) -> Response:
    console, who = page_user(request)
    records, missing = ops.notifications(console)
    return render(request, "notifications.html.j2", who=who, active="notifications", title="通知记录",
                  records=records, missing=missing)
