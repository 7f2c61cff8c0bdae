"""``mdwatch profile check PROFILE URL``: what a platform profile makes of one page (Chinese)."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING

from rich.console import Console

from mdwatch.crawler.capture import FetchSettings
from mdwatch.crawler.profile import Profile, ProfileError, load_profile

if TYPE_CHECKING:
    from mdwatch.analyzers.model import Page
    from mdwatch.crawler.capture import Capture, FetchResult

__all__ = ["check_profile"]

_ROLE_ZH = {"platform": "平台首页（起始网址）", "shop": "店铺页", "product": "商品页",
            "pagination": "列表分页", "page": "列表页或导航页（平台配置声明，不适用规则）",
            None: "未匹配任何链接规则"}


def _browser_verdict(body: bytes) -> bool | None:
    try:
        from mdwatch.crawler.browser import needs_browser
    except ImportError:
        return None
    return bool(needs_browser(body))


def _check_rendered(url: str, allow_hosts: tuple[str, ...], console: Console, timeout_s: float,
                    ready_selector: str = "") -> None:
    """Render the page as the sweep would (pinned browser, fetch policy); each refused request on stderr."""
    from mdwatch.crawler.browser import BrowserOptions, browser_unavailable, render_html, visible_text

    opts = BrowserOptions(timeout_s=timeout_s)
    reason = browser_unavailable(opts)
    if reason is not None:
        console.print(reason, markup=False)
        return
    refusals: list[str] = []
    try:
        html, final_url = render_html(url, opts, allow_hosts=allow_hosts, refusals=refusals,
                                      ready_selector=ready_selector or None)
    except Exception as exc:
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        console.print(f"浏览器渲染失败：{first}", markup=False)
        html, final_url = "", url
    finally:
        for line in refusals:  # what the page asked for and the fetch policy refused: one line each
            sys.stderr.write(line + "\n")
        sys.stderr.flush()
    if html:
        text = visible_text(html.encode("utf-8"))
        shown = f"（最终网址：{final_url}）" if final_url != url else ""
        console.print(f"浏览器渲染后：可见文字 {len(text)} 字{shown}", markup=False)


def check_profile(profile_name: str, url: str, console: Console, timeout_s: float = 20.0) -> int:
    """``mdwatch profile check PROFILE URL``: what the profile extracts from one page (Chinese)."""
    from urllib.parse import urlsplit

    from mdwatch.analyzers.extract import ExtractError
    from mdwatch.crawler.fetch import fetch_pages
    from mdwatch.scheduler.outputs.terminal import KIND_ZH
    from mdwatch.scheduler.pipeline import page_from_capture

    parts = urlsplit(url)
    base = f"{parts.scheme}://{parts.netloc}"
    try:
        profile = load_profile(profile_name, base)
    except ProfileError as exc:
        console.print(f"[red]{exc}[/red]", soft_wrap=True)
        return 2
    result = fetch_pages([url], FetchSettings(timeout_s=timeout_s, max_related=profile.max_related,
                                              qualification_link_words=profile.qualification_link_words))[0]
    if result.capture is None:
        console.print(f"[red]{result.error.message if result.error else '无法获取 ' + url}[/red]", soft_wrap=True)
        return 3
    capture = result.capture
    role = "platform" if url in profile.start_urls else profile.role_of(capture.final_url)
    _print_page(console, profile, url, capture, role)
    try:
        page = page_from_capture(capture, profile.page_kind(role, capture.final_url) if role else None)
        detected = page_from_capture(capture).kind
    except ExtractError as exc:
        console.print(f"[red]无法解析页面：{exc}[/red]")
        return 3
    console.print(f"页面类型：{KIND_ZH[page.kind]}（页面内容识别：{KIND_ZH[detected]}）　标题：{page.title or '无'}",
                  markup=False)
    _print_links(console, profile, capture, page, result)
    _print_browser(console, profile, url, capture, timeout_s)
    if profile.fields:
        console.print("字段选择器：" + "，".join(f"{k}={v}" for k, v in profile.fields.items()), markup=False)
    return 0


def _print_page(console: Console, profile: Profile, url: str, capture: Capture, role: str | None) -> None:
    """The profile, the page's URL (and where it ended up) and its role by the link rules."""
    console.print(f"[bold]平台配置：{profile.name}（{profile.title}）[/bold]  来源：{profile.source}")
    console.print(f"网址：{url}", markup=False)
    if capture.final_url != url:
        console.print(f"最终网址：{capture.final_url}", markup=False)
    shown_role = _ROLE_ZH.get(role, "普通页面") if not (role is None and profile.follow_all) else "普通页面（按页面内容识别类型）"
    console.print(f"按链接规则的角色：{shown_role}")


def _print_links(console: Console, profile: Profile, capture: Capture, page: Page, result: FetchResult) -> None:
    """The page's links as the profile sorts them (ten of each), then its qualification pages."""
    # scripted links (pop-ups) point at the page itself, "#": nothing to follow
    links = profile.links_of(capture.final_url, [link.href for link in page.links if not link.href.endswith("#")])
    for label, found in (("店铺链接", links.shops), ("商品链接", links.products),
                         ("分页链接", links.pagination), ("其他同站链接", links.other)):
        console.print(f"{label}：{len(found)} 个")
        for link in found[:10]:
            console.print(f"  {link}", markup=False)
        if len(found) > 10:
            console.print(f"  …另有 {len(found) - 10} 个")
    if result.related:
        console.print(f"资质页（与店铺一并检查）：{len(result.related)} 个")
        for rel in result.related:
            console.print(f"  {rel.url}", markup=False)


def _print_browser(console: Console, profile: Profile, url: str, capture: Capture, timeout_s: float) -> None:
    """Whether the sweep would render the page in the browser, and if so what the browser sees."""
    marked = profile.needs_browser(capture.final_url)
    auto = _browser_verdict(capture.body)
    if marked:
        verdict = "是（平台配置标记此类页面需要浏览器）"
    elif auto:
        verdict = "是（静态 HTML 缺少内容，将自动改用浏览器渲染）"
    elif auto is None:
        verdict = "否（浏览器模块不可用）"
    else:
        verdict = "否（静态 HTML 已包含内容）"
    console.print(f"使用浏览器：{verdict}")
    if marked or auto:
        _check_rendered(url, profile.allow_hosts, console, timeout_s, profile.content_selector)
