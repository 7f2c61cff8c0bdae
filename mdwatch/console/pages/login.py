"""登录 / 退出. The login form is protected against login CSRF by a double-submit token (a cookie
and a form field that must match); failed logins are slowed down per name and address."""

from __future__ import annotations

import secrets
import threading
import time
from urllib.parse import urlsplit

from fastapi import Form, Request
from fastapi.responses import RedirectResponse, Response

from mdwatch.console.auth import LOGIN_CSRF_COOKIE, SESSION_COOKIE, client_address, console_of, principal
from mdwatch.console.errors import ConsoleError
from mdwatch.console.pages.common import form_user, page_router, render
from mdwatch.storage.audit import Actor

router = page_router()

MAX_FAILURES = 10
WINDOW_S = 600.0
_failures: dict[tuple[str, str], list[float]] = {}
_lock = threading.Lock()


def _safe_next(target: str | None) -> str:
    """Only a path of this site (never ``//host`` or ``https://…``): no open redirect."""
    target = (target or "/").strip()
    parts = urlsplit(target)
    if not target.startswith("/") or target.startswith("//") or parts.scheme or parts.netloc or "\\" in target:
        return "/"
    return target


def _throttled(key: tuple[str, str]) -> bool:
    now = time.monotonic()
    with _lock:
        recent = [t for t in _failures.get(key, []) if now - t < WINDOW_S]
        _failures[key] = recent
        return len(recent) >= MAX_FAILURES


def _failed(key: tuple[str, str]) -> None:
    with _lock:
        _failures.setdefault(key, []).append(time.monotonic())


def _secure(request: Request) -> bool:
    configured = console_of(request).settings.secure_cookies
    return request.url.scheme == "https" if configured is None else configured


def _login_form(request: Request, next_url: str, error: str | None = None, status_code: int = 200) -> Response:
    token = secrets.token_urlsafe(24)
    response = render(request, "login.html.j2", status_code=status_code, title="登录", token=token,
                      next_url=next_url, error=error)
    response.set_cookie(LOGIN_CSRF_COOKIE, token, httponly=True, samesite="strict", secure=_secure(request),
                        max_age=3600, path="/login")
    return response


@router.get("/login")
def login_page(request: Request, next: str = "/") -> Response:
    if principal(request) is not None:
        return RedirectResponse(_safe_next(next), status_code=303)
    return _login_form(request, _safe_next(next))


@router.post("/login")
def login(request: Request, name: str = Form(""), password: str = Form(""), csrf_token: str = Form(""),
          next: str = Form("/")) -> Response:
    console = console_of(request)
    address = client_address(request)
    cookie = request.cookies.get(LOGIN_CSRF_COOKIE, "")
    if not csrf_token or not secrets.compare_digest(cookie.encode(), csrf_token.encode()):
        raise ConsoleError(403, "安全校验（CSRF）失败：请刷新登录页后重试。")
    key = (name.strip(), address)
    if _throttled(key):
        return _login_form(request, _safe_next(next), "登录失败次数过多，请 10 分钟后再试。", 429)
    user = console.accounts.authenticate(name, password) if name and password else None
    if user is None:
        _failed(key)
        console.audit_log.record(_anonymous(name, address), "login.failed", "user", name.strip()[:100] or "—",
                                 {}, at=console.now())
        return _login_form(request, _safe_next(next), "用户名或密码错误，或账户已停用。", 401)
    sid, _csrf = console.accounts.create_session(user.id, ttl=console.session_ttl, address=address,
                                                 at=console.now())
    console.audit(user, address, "login", "user", user.name)
    response = RedirectResponse(_safe_next(next), status_code=303)
    response.set_cookie(SESSION_COOKIE, sid, httponly=True, samesite="lax", secure=_secure(request),
                        max_age=int(console.session_ttl.total_seconds()), path="/")
    response.delete_cookie(LOGIN_CSRF_COOKIE, path="/login")
    return response


def _anonymous(name: str, address: str) -> Actor:
    return Actor(name.strip()[:100] or "（未填写）", None, None, address)


@router.post("/logout")
def logout(request: Request, csrf_token: str = Form("")) -> Response:
    console, who = form_user(request, csrf_token)
    sid = request.cookies.get(SESSION_COOKIE)
    if sid:
        console.accounts.end_session(sid)
    console.audit(who.user, who.address, "logout", "user", who.user.name)
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response
