"""Pages from Jinja2 templates (``templates/``, autoescape on for every template), with the
filters every page uses: Beijing time, Chinese labels of severities, statuses and kinds."""

from __future__ import annotations

import functools
from datetime import datetime
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse
from jinja2 import Environment, PackageLoader, StrictUndefined

from mdwatch import __version__
from mdwatch.console.auth import PERMISSIONS, Principal, can, principal
from mdwatch.scheduler.outputs.labels import KIND_ZH, RUN_KIND_ZH, SEVERITIES, SEVERITY_ZH
from mdwatch.scheduler.settings import BEIJING
from mdwatch.storage.accounts import ROLE_ZH, ROLES
from mdwatch.storage.leads import WORKFLOW_ZH
from mdwatch.storage.reviews import DECISION_ZH

__all__ = ["beijing", "environment", "is_htmx", "render"]

NAV = (
    ("overview", "/", "总览"),
    ("runs", "/runs", "运行"),
    ("review", "/review", "问题审核"),
    ("leads", "/leads", "线索"),
    ("scan", "/scan", "检测"),
    ("campaigns", "/campaigns", "任务"),
    ("notifications", "/notifications", "通知"),
)
ADMIN_NAV = (("users", "/admin/users", "账户"), ("audit", "/admin/audit", "审计"))


def beijing(at: datetime | None, fmt: str = "%Y-%m-%d %H:%M") -> str:
    """A stored (UTC) time as shown: Beijing time."""
    return "—" if at is None else at.astimezone(BEIJING).strftime(fmt)


def _duration(seconds: float | None) -> str:
    if seconds is None:
        return "—"
    seconds = int(seconds)
    if seconds < 60:
        return f"{seconds} 秒"
    if seconds < 3600:
        return f"{seconds // 60} 分 {seconds % 60} 秒"
    return f"{seconds // 3600} 小时 {seconds % 3600 // 60} 分"


def _percent(value: float | None) -> str:
    return "—" if value is None else f"{value:.1%}"


def _isotime(value: str | None) -> str:
    if not value:
        return "—"
    try:
        return beijing(datetime.fromisoformat(value), "%Y-%m-%d %H:%M:%S")
    except ValueError:
        return value


def _pagequery(params: Any, page: int) -> str:
    from urllib.parse import urlencode

    pairs = [(k, v) for k, v in params.multi_items() if k != "page"]
    return urlencode([*pairs, ("page", str(page))])


def _pathseg(value: str) -> str:
    from urllib.parse import quote

    return quote(str(value), safe="")


def _pieces(snippet: str, match: str) -> list[tuple[str, bool]]:
    from mdwatch.console.ops.findings import highlight

    return highlight(str(snippet or ""), str(match or ""))


@functools.cache
def environment() -> Environment:
    env = Environment(loader=PackageLoader("mdwatch.console", "templates"), autoescape=True,
                      undefined=StrictUndefined, trim_blocks=True, lstrip_blocks=True)
    env.filters.update(bj=beijing, duration=_duration, percent=_percent,
                       sev=lambda s: SEVERITY_ZH.get(s, s), kind=lambda k: KIND_ZH.get(k, k),
                       runkind=lambda k: RUN_KIND_ZH.get(k, k), leadstatus=lambda s: WORKFLOW_ZH.get(s, s),
                       decision=lambda d: DECISION_ZH.get(d, d), role=lambda r: ROLE_ZH.get(r, r),
                       isotime=_isotime, pagequery=_pagequery, pathseg=_pathseg, pieces=_pieces)
    env.globals.update(version=__version__, NAV=NAV, ADMIN_NAV=ADMIN_NAV, SEVERITIES=SEVERITIES,
                       SEVERITY_ZH=SEVERITY_ZH, WORKFLOW_ZH=WORKFLOW_ZH, ROLES=ROLES, ROLE_ZH=ROLE_ZH,
                       PERMISSIONS=PERMISSIONS)
    return env


def is_htmx(request: Request) -> bool:
    return request.headers.get("hx-request") == "true"


def render(request: Request, template: str, *, status_code: int = 200, active: str = "",
           who: Principal | None = None, **context: Any) -> HTMLResponse:
    """``template`` with the page's user, its CSRF token and the navigation."""
    if who is None:
        try:
            who = principal(request)
        except Exception:  # an invalid bearer token on a page: shown as logged out
            who = None
    html = environment().get_template(template).render(
        request=request, who=who, csrf=(who.csrf if who is not None else "") or "", active=active,
        can=(lambda permission: who is not None and can(who.user, permission)), **context)
    return HTMLResponse(html, status_code=status_code)
