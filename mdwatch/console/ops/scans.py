"""检测: scan one URL typed into the console. Server-side fetching is where SSRF happens, so the
target is judged first (``App.web_target_refusal``: no private, loopback or link-local address
unless allow-listed) and the crawl judges every hop again against the address it connects to
(``App.scan(web=True)``)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from mdwatch.console.auth import Principal, can
from mdwatch.console.errors import ConsoleError, bad_request, forbidden

if TYPE_CHECKING:
    from mdwatch.console.core import Console
    from mdwatch.console.jobs import ScanJob

__all__ = ["check_target", "scan_now", "start_scan"]

MAX_URL = 2000


def check_target(console: Console, who: Principal, url: str) -> str:
    """The URL to scan, or a 400 with one Chinese line (a refused target is audited)."""
    if not can(who.user, "scan"):
        raise forbidden(f"{who.user.role_zh}无权在线检测。")
    url = (url or "").strip()
    if not url:
        raise bad_request("请输入要检测的网址。")
    if len(url) > MAX_URL:
        raise bad_request(f"网址过长（不超过 {MAX_URL} 个字符）。")
    refusal = console.app.web_target_refusal(url)
    if refusal is not None:
        console.audit(who.user, who.address, "scan.refused", "url", url[:500], {"reason": refusal})
        raise ConsoleError(400, refusal)
    return url


def start_scan(console: Console, who: Principal, url: str) -> ScanJob:
    url = check_target(console, who, url)
    job = console.jobs.submit(url, who.user.name)
    console.audit(who.user, who.address, "scan.start", "url", url[:500], {"job": job.id})
    return job


def scan_now(console: Console, who: Principal, url: str) -> dict[str, Any]:
    url = check_target(console, who, url)
    result = console.jobs.run_now(url)
    console.audit(who.user, who.address, "scan.run", "url", url[:500], {"run_id": result["run_id"]})
    return result
