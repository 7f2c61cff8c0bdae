"""Who is asking, and may they: session cookies (browsers), API tokens (scripts), roles.

A browser logs in with name and password (argon2, ``storage.accounts``) and gets a session
cookie: HttpOnly, SameSite=Lax, Secure when served over https. A script sends
``Authorization: Bearer <token>`` (``mdwatch user token NAME``). Every write made with a session
must carry the session's CSRF token (:mod:`mdwatch.console.csrf`); a token request carries no
cookie, so it needs none.

Roles (:data:`PERMISSIONS`): a viewer reads (reports and 取证报告 included) and changes nothing; a
reviewer also confirms or dismisses findings, runs on-demand scans and exports evidence packages;
an inspector handles the leads of their own organisation, runs scans and exports evidence; an
admin does everything, including users, campaigns and schedules. Leads are scoped by
organisation (:func:`lead_scope`).
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from typing import TYPE_CHECKING

from fastapi import Request

from mdwatch.console.errors import ConsoleError, forbidden, unauthorized

if TYPE_CHECKING:
    from mdwatch.console.core import Console
    from mdwatch.storage.accounts import User
    from mdwatch.storage.leads import Lead

__all__ = [
    "LOGIN_CSRF_COOKIE",
    "PERMISSIONS",
    "SESSION_COOKIE",
    "Principal",
    "can",
    "client_address",
    "console_of",
    "lead_scope",
    "may_act_on_lead",
    "may_assign_lead",
    "principal",
    "require",
]

SESSION_COOKIE = "mdwatch_session"
LOGIN_CSRF_COOKIE = "mdwatch_login_csrf"
CSRF_HEADER = "X-CSRF-Token"
ALL_ROLES = frozenset({"admin", "inspector", "reviewer", "viewer"})
PERMISSIONS: dict[str, frozenset[str]] = {
    "read": ALL_ROLES,
    "review": frozenset({"admin", "reviewer"}),
    "scan": frozenset({"admin", "inspector", "reviewer"}),
    # an export is entered in the chain of custody and may store the screenshot it takes
    "evidence": frozenset({"admin", "inspector", "reviewer"}),
    "lead": frozenset({"admin", "inspector"}),
    "campaign": frozenset({"admin"}),
    "schedule": frozenset({"admin"}),
    "users": frozenset({"admin"}),
    "audit": frozenset({"admin"}),
}
PERMISSION_ZH = {
    "review": "审核问题", "scan": "在线检测", "evidence": "导出证据包", "lead": "处置线索", "campaign": "管理监测任务",
    "schedule": "管理计划", "users": "管理账户", "audit": "查看审计记录",
}


@dataclass(frozen=True, slots=True)
class Principal:
    """The user behind a request and how they proved it."""

    user: User
    via: str  # session | token
    csrf: str | None  # the session's CSRF token (None for API tokens)
    address: str


def console_of(request: Request) -> Console:
    console: Console = request.app.state.console
    return console


def client_address(request: Request) -> str:
    return request.client.host if request.client is not None else "未知"


def _bearer(request: Request) -> str | None:
    header = request.headers.get("authorization", "")
    scheme, _, value = header.partition(" ")
    return value.strip() if scheme.lower() == "bearer" and value.strip() else None


def principal(request: Request) -> Principal | None:
    """The logged-in user of ``request`` (cached on it), None when anonymous; a bearer token that
    is not valid is an error, not anonymity."""
    if hasattr(request.state, "principal"):
        found: Principal | None = request.state.principal
        return found
    console = console_of(request)
    address = client_address(request)
    result: Principal | None = None
    token = _bearer(request)
    if token is not None:
        user = console.accounts.user_for_token(token, at=console.now())
        if user is None:
            raise unauthorized("API 令牌无效或已停用。")
        result = Principal(user, "token", None, address)
    elif (sid := request.cookies.get(SESSION_COOKIE)) is not None:
        found_session = console.accounts.session_user(sid, at=console.now())
        if found_session is not None:
            result = Principal(found_session[0], "session", found_session[1], address)
    request.state.principal = result
    return result


def can(user: User, permission: str) -> bool:
    return user.role in PERMISSIONS.get(permission, frozenset())


def require(request: Request, permission: str = "read") -> Principal:
    """The request's user, who must hold ``permission`` (401 when not logged in, 403 otherwise)."""
    who = principal(request)
    if who is None:
        raise unauthorized()
    if not can(who.user, permission):
        raise forbidden(f"{who.user.role_zh}无权{PERMISSION_ZH.get(permission, '执行此操作')}。")
    return who


def check_csrf(request: Request, who: Principal, form_token: str | None = None) -> None:
    """A write made with a session must carry its CSRF token (form field or ``X-CSRF-Token``)."""
    if who.via != "session":
        return
    sent = form_token or request.headers.get(CSRF_HEADER) or ""
    if not who.csrf or not secrets.compare_digest(sent.encode(), who.csrf.encode()):
        raise ConsoleError(403, "安全校验（CSRF）失败：请刷新页面后重新提交。")


def lead_scope(user: User) -> str | None:
    """The organisation whose leads ``user`` sees (None: every lead). An admin sees all; anyone
    with an organisation sees theirs; an inspector without one sees none."""
    if user.role == "admin":
        return None
    if user.org:
        return user.org
    return "" if user.role == "inspector" else None


def may_see_lead(user: User, lead: Lead) -> bool:
    scope = lead_scope(user)
    return scope is None or lead.belongs_to(scope)


def may_act_on_lead(user: User, lead: Lead) -> bool:
    """Handle a lead (核查, 处置): an admin, or an inspector whose organisation it is."""
    return user.role == "admin" or (user.role == "inspector" and lead.belongs_to(user.org))


def may_assign_lead(user: User, lead: Lead) -> bool:
    """Hand a lead to a bureau: an admin, or an inspector of the bureau running its campaign."""
    return user.role == "admin" or (user.role == "inspector" and bool(user.org) and lead.campaign_org == user.org)
