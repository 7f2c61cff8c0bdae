"""The console's ASGI application: pages, ``/api/`` (with FastAPI's OpenAPI description at
``/api/openapi.json``), static files shipped in the package, error handling and security headers.

``create_console(app)`` takes the CLI's application object (``scheduler.app.build_app``), so the
console and the command line run the same jobs on the same database with the same settings.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING

from fastapi import FastAPI, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, RedirectResponse
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException as StarletteHTTPException

from mdwatch import __version__
from mdwatch.console.core import Console, ConsoleSettings
from mdwatch.console.errors import ConsoleError
from mdwatch.console.render import is_htmx, render

if TYPE_CHECKING:
    from mdwatch.scheduler.app import App

__all__ = ["create_console"]

API_DESCRIPTION = (
    "mdwatch 监测工作台的 JSON 接口：与网页相同的操作。认证：`Authorization: Bearer <令牌>`"
    "（`mdwatch user token NAME` 生成）；用浏览器会话调用写操作时须带 `X-CSRF-Token`。"
    "错误以 HTTP 状态码和中文说明返回：`{\"detail\": \"…\"}`。时间为 ISO 8601（UTC）。"
)
CSP = ("default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
       "connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'")
_STATUS_TEXT = {400: "请求有误", 401: "需要登录", 403: "无权访问", 404: "未找到", 405: "不支持的请求方法",
                409: "状态冲突", 413: "请求过大", 422: "参数不正确", 500: "服务器内部错误", 503: "暂时无法完成"}


def _wants_json(request: Request) -> bool:
    return request.url.path.startswith("/api/") or request.url.path == "/api"


def _error(request: Request, status: int, detail: str) -> Response:
    if _wants_json(request):
        return JSONResponse({"detail": detail}, status_code=status)
    if status == 401 and request.method == "GET" and not is_htmx(request):
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        from urllib.parse import quote

        return RedirectResponse(f"/login?next={quote(target, safe='')}", status_code=303)
    template = "fragments/error.html.j2" if is_htmx(request) else "error.html.j2"
    return render(request, template, status_code=status, title=_STATUS_TEXT.get(status, "出错了"), detail=detail,
                  status=status)


def _validation_detail(exc: RequestValidationError) -> str:
    fields = []
    for err in exc.errors()[:5]:
        loc = [str(p) for p in err.get("loc", ()) if p not in ("body", "query", "path", "header", "cookie")]
        fields.append(".".join(loc) or "请求")
    return "请求参数不正确：" + "、".join(dict.fromkeys(fields)) + "。"


def _install_handlers(api: FastAPI) -> None:
    @api.exception_handler(ConsoleError)
    async def console_error(request: Request, exc: ConsoleError) -> Response:
        return _error(request, exc.status_code, exc.detail)

    @api.exception_handler(RequestValidationError)
    async def validation_error(request: Request, exc: RequestValidationError) -> Response:
        return _error(request, 422, _validation_detail(exc))

    @api.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> Response:
        detail = exc.detail if isinstance(exc.detail, str) and exc.status_code not in (404, 405) else {
            404: "没有这个页面或接口。", 405: "不支持该请求方法。"}.get(exc.status_code, "请求有误。")
        return _error(request, exc.status_code, detail)

    @api.exception_handler(Exception)
    async def server_error(request: Request, exc: Exception) -> Response:
        return _error(request, 500, f"服务器内部错误（{type(exc).__name__}），请稍后重试或联系管理员。")


MAX_BODY = 1024 * 1024
_NUL = (b"\x00", b"%00", b"\\u0000")


async def _refuse_body(request: Request) -> Response | None:
    """A request too large, or carrying a NUL character (which no text column can hold, and
    PostgreSQL refuses), is refused before any route sees it."""
    raw = (request.scope.get("raw_path") or b"") + b"?" + (request.scope.get("query_string") or b"")
    if any(marker in raw.lower() for marker in _NUL):
        return _error(request, 400, "请求中含有不允许的控制字符（NUL）。")
    if request.method in ("POST", "PUT", "PATCH"):
        length = request.headers.get("content-length", "")
        if length.isdigit() and int(length) > MAX_BODY:
            return _error(request, 413, "请求内容过大。")
        body = await request.body()
        if len(body) > MAX_BODY:
            return _error(request, 413, "请求内容过大。")
        if any(marker in body.lower() for marker in _NUL):
            return _error(request, 400, "请求中含有不允许的控制字符（NUL）。")
    return None


def _install_headers(api: FastAPI) -> None:
    @api.middleware("http")
    async def security_headers(request: Request, call_next: Callable[[Request], Awaitable[Response]]) -> Response:
        refusal = await _refuse_body(request)
        if refusal is not None:
            return refusal
        response = await call_next(request)
        response.headers.setdefault("Content-Security-Policy", CSP)
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("X-Frame-Options", "DENY")
        response.headers.setdefault("Referrer-Policy", "same-origin")
        if not request.url.path.startswith("/static/"):
            response.headers.setdefault("Cache-Control", "no-store")
        return response


def create_console(app: App, settings: ConsoleSettings | None = None) -> FastAPI:
    """The console and its JSON API on ``app`` (the CLI's application object)."""
    from mdwatch.console.api import routers as api_routers
    from mdwatch.console.pages import routers as page_routers

    console = Console(app, settings)

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        yield
        console.close()

    api = FastAPI(title="mdwatch 监测工作台 API", version=__version__, description=API_DESCRIPTION,
                  openapi_url="/api/openapi.json", docs_url="/api/docs", redoc_url=None, lifespan=lifespan)
    api.state.console = console
    api.mount("/static", StaticFiles(packages=[("mdwatch.console", "static")]), name="static")
    for router in page_routers():
        api.include_router(router)
    for router in api_routers():
        api.include_router(router, prefix="/api")
    _install_handlers(api)
    _install_headers(api)
    return api
