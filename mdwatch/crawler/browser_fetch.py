"""``fetch_rendered``: :func:`~mdwatch.crawler.fetch.fetch_pages` plus the sweep's browser, for scans.

``mdwatch scan`` (and the URL targets of campaigns, which go through the scan) must see a
JavaScript page as ``mdwatch sweep`` does. The work is done in two crawls so that a static
page's scan costs exactly what it did (no Playwright driver, no Chromium, no asyncio reactor):

1. every URL is fetched over plain HTTP (``fetch_pages``, unchanged);
2. the pages whose capture — or one of whose qualification pages — the sweep's middleware would
   send to the browser (:func:`~mdwatch.crawler.browser.page_needs_browser`, the very decision
   :class:`~mdwatch.crawler.browser.NeedsBrowserMiddleware` takes) are fetched again in a second
   crawl that has the sweep's browser settings (:func:`~mdwatch.crawler.browser.browser_settings`):
   the middleware sees the same shell, re-requests it through Chromium, and the capture spider
   captures the rendered page, its qualification links and images as it does any page
   (``Capture.method == "browser"``).

When the browser is off (``browser=False``, ``--no-browser``), unavailable (no Chromium, no
scrapy-playwright) or fails on a page, the static capture of the first crawl is kept and the
page gets a note (one Chinese sentence); nothing is raised.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from .browser import BrowserOptions, browser_settings, browser_unavailable, page_needs_browser
from .capture import Capture, FetchResult, FetchSettings
from .fetch import StartedFetch, fetch_pages

__all__ = ["RenderedFetch", "capture_needs_browser", "fetch_rendered", "result_needs_browser"]

Progress = Callable[[FetchResult], None]

NOTE_OFF = "该页面需要浏览器渲染（静态 HTML 缺少内容），但浏览器已关闭（--no-browser）：按静态 HTML 分析，结果可能不完整。"
NOTE_FAILED = "该页面需要浏览器渲染，但浏览器渲染失败：按静态 HTML 分析，结果可能不完整。"


def _unavailable_note(reason: str) -> str:
    return f"该页面需要浏览器渲染，但{reason.rstrip('。')}：按静态 HTML 分析，结果可能不完整。"


@dataclass(frozen=True, slots=True)
class RenderedFetch:
    """The results of :func:`fetch_rendered`, in input order, and what the browser did."""

    results: list[FetchResult]
    rendered: frozenset[str] = frozenset()  # URLs whose page (or a qualification page) the browser rendered
    notes: dict[str, str] = field(default_factory=dict)  # URL → why a page needing the browser was not rendered
    unavailable: str | None = None  # the browser was needed but cannot run (one Chinese sentence)


def capture_needs_browser(capture: Capture) -> bool:
    """The sweep middleware's automatic decision for a capture fetched over plain HTTP."""
    if capture.method == "browser":
        return False
    return page_needs_browser(capture.status, capture.headers.get("content-type", ""), capture.body)


def result_needs_browser(result: FetchResult) -> bool:
    """True if the page, or one of its qualification pages, needs the browser."""
    if result.capture is None:
        return False
    return capture_needs_browser(result.capture) or any(capture_needs_browser(c) for c in result.related)


def _browser_fetch_settings(settings: FetchSettings, opts: BrowserOptions) -> FetchSettings:
    """``settings`` with the sweep's browser added to the crawl (the caller's dicts merged, not replaced).

    ``fetch_pages`` adds the fetch policy after these (``netguard.apply_fetch_policy`` merges its
    handlers and middlewares with the browser's and checks the browser's sub-requests too).
    """
    extra: dict[str, Any] = dict(settings.extra_scrapy_settings)
    for key, value in browser_settings(opts).items():
        if isinstance(value, dict) and isinstance(extra.get(key), dict):
            extra[key] = {**extra[key], **value}
        else:
            extra[key] = value
    return replace(settings, extra_scrapy_settings=tuple(extra.items()))


def fetch_rendered(
    urls: Sequence[str],
    settings: FetchSettings = FetchSettings(),  # noqa: B008 - frozen, safe as a default
    progress: Progress | None = None,
    *,
    browser: bool = True,
    options: BrowserOptions | None = None,
    meanwhile: Callable[[], object] | None = None,
    started: StartedFetch | None = None,
) -> RenderedFetch:
    """Fetch ``urls`` as :func:`fetch_pages` does; render the pages that need a browser as the sweep does.

    ``progress`` is called once per URL with its final result. A static page never starts the
    browser (nor its driver); ``browser=False`` never does either. ``meanwhile`` runs while the
    first crawl does, and ``started`` is that first crawl begun earlier (:func:`fetch_pages`).
    """

    def first_progress(result: FetchResult) -> None:
        if progress is not None and not (browser and result_needs_browser(result)):
            progress(result)  # a page going to the browser is reported once rendered

    results = fetch_pages(urls, settings, progress=first_progress if progress is not None else None,
                          meanwhile=meanwhile, started=started)
    wanted = [n for n, r in enumerate(results) if result_needs_browser(r)]
    if not wanted:
        return RenderedFetch(results)

    notes: dict[str, str] = {}
    unavailable: str | None = None
    rendered: set[str] = set()
    opts = options or BrowserOptions(timeout_s=max(settings.timeout_s, 1.0))
    if not browser:
        notes.update({results[n].url: NOTE_OFF for n in wanted})
    elif (unavailable := browser_unavailable(opts)) is not None:
        notes.update({results[n].url: _unavailable_note(unavailable) for n in wanted})
    else:
        second = fetch_pages([results[n].url for n in wanted], _browser_fetch_settings(settings, opts))
        for n, again in zip(wanted, second, strict=True):
            first = results[n]
            via = again.capture is not None and (
                again.capture.method == "browser" or any(c.method == "browser" for c in again.related)
            )
            if via:
                results[n] = again
                rendered.add(first.url)
            else:  # the browser failed (or the second fetch did): keep what the first crawl captured
                notes[first.url] = NOTE_FAILED
    if progress is not None and browser:
        for n in wanted:
            progress(results[n])
    return RenderedFetch(results, frozenset(rendered), notes, unavailable)
