"""Headless browser rendering: scrapy-playwright on Debian's Chromium.

- :func:`browser_settings` gives the Scrapy settings that route requests marked
  ``meta["playwright"] = True`` through Chromium (all other requests keep Scrapy's HTTP client);
- :class:`NeedsBrowserMiddleware` sends profile-marked requests (``meta["mdwatch_browser"]``)
  straight to the browser, and re-requests through the browser a page fetched over plain HTTP
  whose static HTML lacks the content (:func:`needs_browser`). A response that came through the
  browser carries ``meta["mdwatch_via_browser"] = True``; spiders record ``method="browser"``;
- :func:`page_needs_browser` is the middleware's automatic decision, shared with ``mdwatch scan``
  (:mod:`mdwatch.crawler.browser_fetch`); :func:`browser_unavailable` says why Chromium cannot run;
- :func:`render_html` renders one URL outside Scrapy (``mdwatch profile check``, tests), behind
  the same pinning proxy and fetch policy as a crawl's browser;
- :func:`wait_until_ready` runs on every rendered page after ``load``: until the CSS selector of
  ``meta["mdwatch_ready"]`` (a profile's ``content_selector``) is on the page, or else until the
  DOM has settled (no mutation for :data:`READY_QUIET_MS`, no loading placeholder such as 加载中,
  visible text, no empty app root), at most :data:`READY_CAP_S`; then the page is captured
  as it is. Content injected shortly after ``load`` is captured, not the empty shell.

Chromium is launched as ``/usr/lib/chromium/chromium`` (the ``/usr/bin/chromium`` wrapper adds
flags and noise) with the background-networking flags off, so it opens no connections of its own.
The browser starts lazily, at the first request that needs it. Fonts and media are never
downloaded; images only for a request with ``meta["mdwatch_screenshot"] = True`` (a screenshot
needs them).
"""

from __future__ import annotations

import asyncio
import re
import threading
import weakref
from collections.abc import Iterable
from copy import deepcopy
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import lxml.html
from lxml import etree

from .netpolicy import FetchPolicy, Refusal, check_scheme

if TYPE_CHECKING:
    from playwright.async_api import Page
    from playwright.async_api import Request as PlaywrightRequest
    from scrapy import Request, Spider
    from scrapy.crawler import Crawler
    from scrapy.http import Response

__all__ = [
    "BROWSER_FAILED_META",
    "BROWSER_META",
    "CHROMIUM_ARGS",
    "LOADING_WORDS",
    "MIDDLEWARE_PATH",
    "READY_CAP_S",
    "READY_META",
    "READY_QUIET_MS",
    "SCREENSHOT_META",
    "VIA_BROWSER_META",
    "BrowserOptions",
    "NeedsBrowserMiddleware",
    "abort_request",
    "browser_settings",
    "browser_unavailable",
    "keep_images",
    "needs_browser",
    "page_needs_browser",
    "render_html",
    "visible_text",
    "wait_until_ready",
]

#: request meta: the profile says this URL always needs the browser
BROWSER_META = "mdwatch_browser"
#: request meta: a screenshot will be taken, so images must load
SCREENSHOT_META = "mdwatch_screenshot"
#: response meta: the response was rendered by the browser (Capture.method = "browser")
VIA_BROWSER_META = "mdwatch_via_browser"
#: response meta: the automatic browser retry failed (why); the static page was fetched again instead
BROWSER_FAILED_META = "mdwatch_browser_failed"
#: request meta: this request is the browser retry of a static fetch (never retried again)
_RETRIED_META = "mdwatch_browser_retry"
#: request meta: the CSS selector a rendered page shows once its content is in (a profile's content_selector)
READY_META = "mdwatch_ready"

MIDDLEWARE_PATH = "mdwatch.crawler.browser.NeedsBrowserMiddleware"
_HANDLER_PATH = "scrapy_playwright.handler.ScrapyPlaywrightDownloadHandler"
_CONTEXT_NAME = "mdwatch"
_CONTEXT_KWARGS: dict[str, Any] = {
    "locale": "zh-CN",
    "timezone_id": "Asia/Shanghai",
    "viewport": {"width": 1280, "height": 900},
    "service_workers": "block",
}

#: Debian's Chromium binary itself (the /usr/bin/chromium wrapper adds flags and noise)
CHROMIUM_PATH = "/usr/lib/chromium/chromium"
CHROMIUM_ARGS: tuple[str, ...] = (
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
)

#: schemes a rendered page may use without the network judging them (in-page data); any other
#: non-http(s) request is refused (file:, ftp: …)
_PAGE_SCHEMES = frozenset({"http", "https", "data", "blob", "about"})

#: resource types never downloaded by the browser; images are added unless a screenshot is taken
_BLOCKED_TYPES = frozenset({"font", "media"})


@dataclass(frozen=True, slots=True)
class BrowserOptions:
    """How to run the headless browser."""

    executable_path: str = CHROMIUM_PATH
    headless: bool = True
    block_resources: bool = True  # fonts and media always; images unless a screenshot is taken
    timeout_s: float = 30.0  # navigation timeout
    # concurrent pages in the (single, reused) browser context: a rendered page spends most of its
    # time waiting (for its scripts, then for a quiet DOM), so more in flight keep the cores busy
    max_pages: int = 8


def launch_options(opts: BrowserOptions) -> dict[str, Any]:
    """Keyword arguments of ``chromium.launch`` for ``opts``."""
    return {
        "executable_path": opts.executable_path,
        "headless": opts.headless,
        "args": list(CHROMIUM_ARGS),
        "timeout": opts.timeout_s * 1000,
    }


def browser_settings(opts: BrowserOptions = BrowserOptions()) -> dict[str, Any]:
    """Scrapy settings that add the browser to a crawl (merge them into the crawl's settings).

    ``DOWNLOADER_MIDDLEWARES`` holds :class:`NeedsBrowserMiddleware`; a caller with its own
    middlewares merges the two dicts. Requests without ``meta["playwright"]`` still go through
    Scrapy's HTTP/1.1 client (the playwright handler delegates them), so a crawl that never needs
    the browser never launches it.
    """
    return {
        "DOWNLOAD_HANDLERS": {"http": _HANDLER_PATH, "https": _HANDLER_PATH},
        "TWISTED_REACTOR": "twisted.internet.asyncioreactor.AsyncioSelectorReactor",
        "PLAYWRIGHT_BROWSER_TYPE": "chromium",
        "PLAYWRIGHT_LAUNCH_OPTIONS": launch_options(opts),
        # one context, created at the first browser request and reused for every page after it
        "PLAYWRIGHT_MAX_CONTEXTS": 2,
        "PLAYWRIGHT_MAX_PAGES_PER_CONTEXT": max(opts.max_pages, 1),
        "PLAYWRIGHT_DEFAULT_NAVIGATION_TIMEOUT": opts.timeout_s * 1000,
        "PLAYWRIGHT_ABORT_REQUEST": "mdwatch.crawler.browser.abort_request" if opts.block_resources else None,
        "DOWNLOADER_MIDDLEWARES": {MIDDLEWARE_PATH: 580},  # below HttpCompression (590): sees decoded bodies
    }


# ----------------------------------------------------------------------------- resource blocking

# Pages whose images must load (a screenshot will be taken); weak, so closed pages drop out.
_IMAGE_PAGES: weakref.WeakSet[Any] = weakref.WeakSet()


async def keep_images(page: Page, request: Request) -> None:
    """scrapy-playwright page-init callback: let this page load its images."""
    _IMAGE_PAGES.add(page)


def _blocked(resource_type: str, images_wanted: bool) -> bool:
    if resource_type in _BLOCKED_TYPES:
        return True
    return resource_type == "image" and not images_wanted


def abort_request(request: PlaywrightRequest) -> bool:
    """``PLAYWRIGHT_ABORT_REQUEST``: fonts and media always; images unless the page keeps them."""
    rtype = request.resource_type
    if rtype not in _BLOCKED_TYPES and rtype != "image":
        return False
    try:
        wanted = request.frame.page in _IMAGE_PAGES
    except Exception:  # a worker's request has no frame: block what it asks for
        wanted = False
    return _blocked(rtype, wanted)


# ----------------------------------------------------------------------------- the heuristic

_APP_ROOT_IDS = frozenset({"app", "root", "__next", "__nuxt", "main-app", "application"})
_NOSCRIPT_WORDS = re.compile(r"javascript|启用\s*js|开启\s*js|启用脚本|允许脚本|浏览器.*脚本", re.IGNORECASE)
_INVISIBLE = ("script", "style", "noscript", "template", "head", "svg")
_SPACE = re.compile(r"\s+")
MIN_VISIBLE_CHARS = 200  # fewer visible characters than this, with scripts present: needs the browser
_ROOT_MAX_CHARS = 600  # an empty app root counts only when the rest of the page is this small


def _parse(body: bytes) -> Any:
    """The document; UTF-8 when the bytes decode as such, else as lxml reads it (``<meta charset>``)."""
    try:
        return lxml.html.document_fromstring(body.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, etree.ParserError):
        pass
    try:
        return lxml.html.document_fromstring(body)
    except (etree.ParserError, ValueError):
        return None


def visible_text(body: bytes) -> str:
    """The page's visible text, whitespace collapsed (scripts, styles, noscript and head dropped)."""
    root = _parse(body)
    if root is None:
        return ""
    return _visible(root)


def _visible(root: Any) -> str:
    copy = deepcopy(root)
    etree.strip_elements(copy, *_INVISIBLE, etree.Comment, etree.ProcessingInstruction, with_tail=False)
    return _SPACE.sub(" ", copy.text_content()).strip()


def needs_browser(body: bytes) -> bool:
    """True if this static HTML evidently lacks its content and a browser would build it.

    Any one of: scripts and under :data:`MIN_VISIBLE_CHARS` visible characters; an empty app
    root (``<div id="app"></div>``, ``#root``, ``#__next`` …) with scripts on an otherwise small
    page; a ``<noscript>`` asking for JavaScript. A page without any script never needs it.
    """
    root = _parse(body)
    if root is None:
        return False
    scripts = root.xpath("//script")
    if not scripts:
        return False
    text = _visible(root)
    visible = len(text.replace(" ", ""))
    if visible < MIN_VISIBLE_CHARS:
        return True
    for noscript in root.xpath("//noscript"):
        words = " ".join(noscript.itertext())
        if not words.strip():  # lxml may keep noscript content as raw text
            words = lxml.html.tostring(noscript, encoding="unicode", method="text")
        if _NOSCRIPT_WORDS.search(words):
            return True
    if visible < _ROOT_MAX_CHARS:
        for el in root.xpath("//body//*[@id]"):
            if el.get("id") in _APP_ROOT_IDS and len(el) == 0 and not (el.text or "").strip():
                return True
    return False


# ----------------------------------------------------------------------------- readiness

READY_CAP_S = 3.0  # the longest a rendered page is waited for after load
READY_QUIET_MS = 300  # no DOM mutation this long: the page has settled
#: visible text that says the content is still on its way (lower case; compared case-insensitively)
LOADING_WORDS: tuple[str, ...] = ("加载中", "正在加载", "载入中", "努力加载", "loading...", "loading…")

# Resolves (never rejects) with how the wait ended: "selector", "settled" or "cap". Without a
# selector a page is ready when nothing changed for quietMs and it no longer looks like a shell:
# no loading word in its visible text, enough visible characters, no empty app root.
_READY_JS = r"""
async ([selector, capMs, quietMs, words, minChars, rootIds]) => {
  const t0 = performance.now();
  const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
  if (selector) {
    while (performance.now() - t0 < capMs) {
      try { if (document.querySelector(selector)) return "selector"; } catch (e) { return "cap"; }
      await sleep(50);
    }
    return "cap";
  }
  let last = performance.now();
  const observer = new MutationObserver(() => { last = performance.now(); });
  observer.observe(document, {subtree: true, childList: true, characterData: true});
  const shell = () => {
    const text = document.body ? (document.body.innerText || "") : "";
    const lower = text.toLowerCase();
    if (words.some((w) => lower.includes(w))) return true;
    if (text.replace(/\s+/g, "").length < minChars) return true;
    return rootIds.some((id) => {
      const el = document.getElementById(id);
      return el !== null && el.children.length === 0 && !(el.textContent || "").trim();
    });
  };
  try {
    while (performance.now() - t0 < capMs) {
      if (performance.now() - last >= quietMs && !shell()) return "settled";
      await sleep(50);
    }
    return "cap";
  } finally {
    observer.disconnect();
  }
}
"""


async def wait_until_ready(page: Page, selector: str | None = None, cap_s: float = READY_CAP_S) -> str:
    """Wait until ``page`` shows ``selector``, or else has settled; at most ``cap_s`` (see module docstring).

    Returns how the wait ended (``selector``, ``settled``, ``cap``; ``error`` when the page could
    not be asked, e.g. it navigated away): the page is captured as it then is in every case.
    """
    try:
        how = await page.evaluate(_READY_JS, [selector or "", cap_s * 1000, READY_QUIET_MS, list(LOADING_WORDS),
                                              MIN_VISIBLE_CHARS, sorted(_APP_ROOT_IDS)])
    except Exception:  # a navigation during the wait, a closed page: capture what there is
        return "error"
    return str(how)


def _with_readiness(meta: dict[str, Any]) -> None:
    """Put :func:`wait_until_ready` first in the request's scrapy-playwright page methods (in place)."""
    from scrapy_playwright.page import PageMethod

    methods = meta.get("playwright_page_methods") or []
    listed = list(methods.values()) if isinstance(methods, dict) else list(methods)
    if any(getattr(m, "method", None) is wait_until_ready for m in listed):
        return
    ready = PageMethod(wait_until_ready, meta.get(READY_META) or None)
    if isinstance(methods, dict):
        meta["playwright_page_methods"] = {"mdwatch_ready": ready, **methods}
    else:
        meta["playwright_page_methods"] = [ready, *listed]


# ----------------------------------------------------------------------------- the middleware


def _is_html(content_type: str | bytes, body: bytes) -> bool:
    ctype = content_type.encode("latin-1", "replace") if isinstance(content_type, str) else content_type
    kind = ctype.split(b";", 1)[0].strip().lower()
    if kind in (b"text/html", b"application/xhtml+xml"):
        return True
    if kind:
        return False
    head = body[:1024].lstrip().lower()
    return head.startswith((b"<!doctype html", b"<html"))


def page_needs_browser(status: int, content_type: str | bytes, body: bytes, method: str = "GET") -> bool:
    """The automatic decision of :class:`NeedsBrowserMiddleware` for a page fetched over plain HTTP.

    True for a successful (200) GET of HTML whose static body lacks its content
    (:func:`needs_browser`). ``mdwatch scan`` decides with this same function which of its
    captures to render (:mod:`mdwatch.crawler.browser_fetch`).
    """
    return status == 200 and method == "GET" and _is_html(content_type, body) and needs_browser(body)


def browser_unavailable(opts: BrowserOptions = BrowserOptions()) -> str | None:
    """None when the headless browser can be used; else why not, as one Chinese sentence."""
    import importlib.util
    import os

    for module in ("playwright", "scrapy_playwright"):
        if importlib.util.find_spec(module) is None:
            return f"无头浏览器不可用：未安装 Python 包 {module.replace('_', '-')}。"
    if not os.access(opts.executable_path, os.X_OK):
        return f"无头浏览器不可用：找不到 Chromium（{opts.executable_path}），请安装 Debian 的 chromium 包。"
    return None


def _browser_meta(meta: dict[str, Any]) -> None:
    """Mark a request's meta for the browser (in place)."""
    meta["playwright"] = True
    meta.setdefault("playwright_context", _CONTEXT_NAME)
    meta.setdefault("playwright_context_kwargs", dict(_CONTEXT_KWARGS))
    _with_readiness(meta)
    if meta.get(SCREENSHOT_META):
        meta.setdefault("playwright_page_init_callback", "mdwatch.crawler.browser.keep_images")


class NeedsBrowserMiddleware:
    """Downloader middleware: browser for marked requests and for static pages lacking content.

    Enabled only when the crawl's download handlers are scrapy-playwright's (see
    :func:`browser_settings`); otherwise Scrapy drops it (``NotConfigured``).
    """

    def __init__(self, auto: bool = True) -> None:
        self.auto = auto

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> NeedsBrowserMiddleware:
        from scrapy.exceptions import NotConfigured

        handlers = crawler.settings.getdict("DOWNLOAD_HANDLERS")
        if _HANDLER_PATH not in (handlers.get("http"), handlers.get("https")):
            raise NotConfigured("the playwright download handler is not installed")
        return cls(auto=crawler.settings.getbool("MDWATCH_BROWSER_AUTO", True))

    def process_request(self, request: Request, spider: Spider | None = None) -> None:
        if request.meta.get(BROWSER_META) and not request.meta.get("playwright"):
            _browser_meta(request.meta)
        return None

    def process_response(
        self, request: Request, response: Response, spider: Spider | None = None
    ) -> Request | Response:
        if request.meta.get("playwright"):
            request.meta[VIA_BROWSER_META] = True  # response.meta is request.meta
            return response
        if (
            not self.auto
            or request.meta.get(_RETRIED_META)
            or not page_needs_browser(
                response.status, response.headers.get(b"Content-Type") or b"", response.body, request.method
            )
        ):
            return response
        meta = dict(request.meta)
        meta[_RETRIED_META] = True
        _browser_meta(meta)
        return request.replace(meta=meta, dont_filter=True)

    def process_exception(
        self, request: Request, exception: Exception, spider: Spider | None = None
    ) -> Request | None:
        """The browser failed on an automatic retry: fetch the static page again rather than lose it."""
        if not (request.meta.get(_RETRIED_META) and request.meta.get("playwright")):
            return None
        meta = {k: v for k, v in request.meta.items() if not k.startswith("playwright")}
        meta[BROWSER_FAILED_META] = f"{type(exception).__name__}: {exception}"[:300]
        meta.pop(VIA_BROWSER_META, None)
        return request.replace(meta=meta, dont_filter=True)


# ----------------------------------------------------------------------------- one-off rendering


async def _render(url: str, opts: BrowserOptions, screenshot: bool, policy: FetchPolicy,
                  refusals: list[str], ready_selector: str | None = None) -> tuple[str, str]:
    from playwright.async_api import Route, async_playwright

    from .netguard import browser_own_request
    from .pinproxy import PinProxy, proxy_launch_options

    def refused(refusal: Refusal) -> None:
        if refusal.message not in refusals:  # one line per refused request
            refusals.append(refusal.message)

    # Chromium connects only through the pinning proxy: the typed URL is the user's, every other
    # request and every redirect is judged by the fetch policy and connected to the checked address
    proxy = PinProxy(policy, timeout_s=opts.timeout_s, on_refusal=refused, own_request=browser_own_request)
    await proxy.start()
    try:
        async with async_playwright() as pw:
            browser = await pw.chromium.launch(**proxy_launch_options(launch_options(opts), proxy.url))
            try:
                context = await browser.new_context(**_CONTEXT_KWARGS)
                context.set_default_navigation_timeout(opts.timeout_s * 1000)
                page = await context.new_page()

                async def route(r: Route) -> None:
                    scheme = r.request.url.split(":", 1)[0].lower()
                    refusal = None if scheme in _PAGE_SCHEMES else check_scheme(r.request.url, url)
                    if refusal is not None:
                        refused(refusal)
                        await r.abort()
                    elif opts.block_resources and _blocked(r.request.resource_type, screenshot):
                        await r.abort()
                    else:
                        await r.continue_()

                await page.route("**/*", route)
                await page.goto(url, wait_until="load")
                await wait_until_ready(page, ready_selector)
                return await page.content(), page.url
            finally:
                await browser.close()
    finally:
        await proxy.close()


def render_html(
    url: str,
    opts: BrowserOptions = BrowserOptions(),
    *,
    screenshot: bool = False,
    allow_hosts: Iterable[str] = (),
    refusals: list[str] | None = None,
    ready_selector: str | None = None,
) -> tuple[str, str]:
    """Render ``url`` in a fresh headless Chromium: ``(html after scripts ran, final URL)``.

    The page is captured once it is ready (:func:`wait_until_ready`; ``ready_selector``: a
    profile's ``content_selector``).

    ``url`` is the user's (typed); every other request of the page and every redirect goes
    through a :class:`~mdwatch.crawler.pinproxy.PinProxy` judged by the fetch policy (internal
    addresses refused unless allow-listed: ``allow_hosts`` and ``MDWATCH_ALLOW_HOSTS``). Each
    refused request's one Chinese line is appended to ``refusals`` (once).

    Runs its own event loop in a worker thread, so it can be called from synchronous code
    and from inside a running event loop alike. Raises Playwright's errors (timeouts, navigation).
    """
    from .netpolicy import allow_hosts_from_env

    policy = FetchPolicy.build([url], [*allow_hosts, *allow_hosts_from_env()])
    lines: list[str] = [] if refusals is None else refusals
    outcome: dict[str, Any] = {}

    def work() -> None:
        try:
            outcome["value"] = asyncio.run(_render(url, opts, screenshot, policy, lines, ready_selector))
        except BaseException as exc:  # re-raised in the caller's thread
            outcome["error"] = exc

    thread = threading.Thread(target=work, name="mdwatch-render", daemon=True)
    thread.start()
    thread.join()
    if "error" in outcome:
        raise outcome["error"]
    value: tuple[str, str] = outcome["value"]
    return value
