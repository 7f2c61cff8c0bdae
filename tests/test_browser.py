"""The headless browser: settings, the needs-browser heuristic, a real Scrapy crawl through Chromium.

The crawl runs in a child Python process (a Twisted reactor cannot be restarted) against the demo
server: three browser launches in all (the crawl, two ``render_html`` calls), a few seconds each.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from mdwatch.crawler.browser import (
    CHROMIUM_ARGS,
    MIDDLEWARE_PATH,
    BrowserOptions,
    NeedsBrowserMiddleware,
    abort_request,
    browser_settings,
    needs_browser,
    render_html,
    visible_text,
)
from mdwatch.demo import sitegen
from mdwatch.demo.server import DemoServer, manifest, serve

pytestmark = pytest.mark.network

CHROMIUM = "/usr/lib/chromium/chromium"
REPO = Path(__file__).resolve().parents[1]
SITE = sitegen.SITE_DIR


def _site_bytes(path: str) -> bytes:
    return (SITE / path.lstrip("/")).read_bytes()


def _norm(text: str) -> str:
    return "".join(text.split())


@pytest.fixture(scope="module")
def server() -> Iterator[DemoServer]:
    with serve() as srv:
        yield srv


def _need_chromium() -> None:
    if not os.access(CHROMIUM, os.X_OK):
        if os.environ.get("MDWATCH_REQUIRE_SERVICES", "").strip() == "1":
            pytest.fail(f"{CHROMIUM} is missing")
        pytest.skip(f"{CHROMIUM} is missing")


# ----------------------------------------------------------------------------- no browser needed


def test_browser_settings() -> None:
    settings = browser_settings(BrowserOptions(timeout_s=12, max_pages=3))
    handler = "scrapy_playwright.handler.ScrapyPlaywrightDownloadHandler"
    assert settings["DOWNLOAD_HANDLERS"] == {"http": handler, "https": handler}
    assert settings["TWISTED_REACTOR"] == "twisted.internet.asyncioreactor.AsyncioSelectorReactor"
    assert settings["PLAYWRIGHT_BROWSER_TYPE"] == "chromium"
    launch = settings["PLAYWRIGHT_LAUNCH_OPTIONS"]
    assert launch["executable_path"] == CHROMIUM and launch["headless"] is True
    assert launch["args"] == list(CHROMIUM_ARGS)
    assert {"--no-sandbox", "--disable-background-networking", "--disable-component-update"} <= set(launch["args"])
    assert settings["PLAYWRIGHT_MAX_PAGES_PER_CONTEXT"] == 3
    assert settings["PLAYWRIGHT_DEFAULT_NAVIGATION_TIMEOUT"] == 12000
    assert settings["PLAYWRIGHT_ABORT_REQUEST"] == "mdwatch.crawler.browser.abort_request"
    assert settings["DOWNLOADER_MIDDLEWARES"] == {MIDDLEWARE_PATH: 580}
    assert "PLAYWRIGHT_CONTEXTS" not in settings  # no startup context: the browser starts when first needed
    assert browser_settings(BrowserOptions(block_resources=False))["PLAYWRIGHT_ABORT_REQUEST"] is None


class _FakeRequest:
    def __init__(self, resource_type: str, page: object) -> None:
        self.resource_type = resource_type
        self.frame = type("Frame", (), {"page": page})()


def test_abort_request_blocks_fonts_media_and_images_unless_kept() -> None:
    import asyncio

    from mdwatch.crawler.browser import keep_images

    class Page:  # stands in for a Playwright page (weak-referenceable)
        pass

    plain, shot = Page(), Page()
    asyncio.run(keep_images(shot, None))  # type: ignore[arg-type]
    for rtype, page, blocked in [
        ("font", plain, True), ("media", plain, True), ("image", plain, True), ("document", plain, False),
        ("script", plain, False), ("stylesheet", plain, False), ("xhr", plain, False),
        ("font", shot, True), ("media", shot, True), ("image", shot, False),
    ]:  # fmt: skip
        assert abort_request(_FakeRequest(rtype, page)) is blocked, (rtype, page is shot)  # type: ignore[arg-type]


def test_needs_browser_heuristic() -> None:
    shell = _site_bytes("/js/products/p035.html")
    assert needs_browser(shell)
    assert visible_text(shell) == ""
    assert not needs_browser(_site_bytes("/products/p035.html"))
    for entry in manifest():
        assert needs_browser(_site_bytes(entry["path"])) is bool(entry["js"]), entry["path"]
    rich = "<p>" + "康护优选正品医疗器械与健康好物。" * 30 + "</p>"
    assert not needs_browser(b"<html><body><p>short</p></body></html>")  # no script: nothing to run
    assert needs_browser(b"<html><body><p>Loading...</p><script src='/app.js'></script></body></html>")
    assert needs_browser(b'<html><body><div id="root"></div><p>' + "页脚文字".encode() * 60 + b"</p><script></script></body></html>")
    assert needs_browser(
        f"<html><body><noscript>请启用 JavaScript 后浏览</noscript>{rich}<script></script></body></html>".encode()
    )
    assert not needs_browser(f"<html><body>{rich}<script>var x = 1;</script></body></html>".encode())
    assert not needs_browser(f'<html><body><div id="app"><h1>x</h1></div>{rich}<script></script></body></html>'.encode())
    assert not needs_browser(b"")
    assert visible_text(b"<p>a<!-- c -->b</p><script>x</script><style>p{}</style>c") == "abc"


def test_middleware_is_off_without_the_playwright_handler() -> None:
    from scrapy.exceptions import NotConfigured
    from scrapy.utils.test import get_crawler

    with pytest.raises(NotConfigured):
        NeedsBrowserMiddleware.from_crawler(get_crawler(settings_dict={}))
    assert isinstance(NeedsBrowserMiddleware.from_crawler(get_crawler(settings_dict=browser_settings())), NeedsBrowserMiddleware)


def test_middleware_decisions() -> None:
    from scrapy import Request
    from scrapy.http import HtmlResponse

    mw = NeedsBrowserMiddleware()
    url = "http://127.0.0.1/js/products/p035.html"
    shell = HtmlResponse(url, body=_site_bytes("/js/products/p035.html"), headers={"Content-Type": "text/html"})
    request = Request(url, meta={"k": 1})
    retry = mw.process_response(request, shell)
    assert isinstance(retry, Request) and retry is not request
    assert retry.meta["playwright"] is True and retry.dont_filter and retry.meta["k"] == 1
    assert "playwright" not in request.meta
    # the browser's answer goes through, marked; a second shell is never retried again
    rendered = HtmlResponse(url, body=b"<html><body></body></html>", request=retry)
    assert mw.process_response(retry, rendered) is rendered and retry.meta["mdwatch_via_browser"] is True
    static = HtmlResponse(url, body=_site_bytes("/products/p035.html"))
    assert mw.process_response(Request(url), static) is static
    not_html = HtmlResponse(url, body=b"<div id=app></div><script></script>", headers={"Content-Type": "application/json"})
    assert mw.process_response(Request(url), not_html) is not_html
    marked = Request(url, meta={"mdwatch_browser": True, "mdwatch_screenshot": True})
    mw.process_request(marked)
    assert marked.meta["playwright"] is True
    assert marked.meta["playwright_page_init_callback"] == "mdwatch.crawler.browser.keep_images"
    plain = Request(url)
    mw.process_request(plain)
    assert "playwright" not in plain.meta
    # the browser fails on an automatic retry: the static page is fetched again, never retried again
    again = mw.process_exception(retry, TimeoutError("navigation timed out"))
    assert isinstance(again, Request) and again.dont_filter
    assert not any(k.startswith("playwright") for k in again.meta) and "mdwatch_via_browser" not in again.meta
    assert again.meta["mdwatch_browser_failed"].startswith("TimeoutError") and again.meta["k"] == 1
    assert mw.process_response(again, shell) is shell
    assert mw.process_exception(marked, TimeoutError()) is None  # a profile-marked page fails as it is


# ----------------------------------------------------------------------------- a real crawl

_CHILD = textwrap.dedent(
    """
    import json, sys
    import scrapy
    from scrapy.crawler import CrawlerProcess
    from mdwatch.crawler.browser import BrowserOptions, VIA_BROWSER_META, browser_settings

    base = sys.argv[1]
    jobs = [
        ("static", "/products/p035.html", {}),
        ("auto", "/js/products/p035.html", {}),
        ("marked", "/js/shops/huixin/index.html", {"mdwatch_browser": True}),
        ("resources", "/_test/resources.html", {"mdwatch_browser": True}),
    ]
    out = []

    class Probe(scrapy.Spider):
        name = "probe"

        async def start(self):
            for key, path, meta in jobs:
                yield scrapy.Request(base + path, meta={"key": key, **meta}, dont_filter=True)

        def parse(self, response):
            out.append({"key": response.meta["key"], "url": response.url, "status": response.status,
                        "via_browser": bool(response.meta.get(VIA_BROWSER_META)), "text": response.text})
            if response.meta["key"] == "resources":  # then with a screenshot due: images load
                yield scrapy.Request(response.url, meta={"key": "screenshot", "mdwatch_browser": True,
                                     "mdwatch_screenshot": True}, dont_filter=True)

    settings = {**browser_settings(BrowserOptions(max_pages=2, timeout_s=20)), "LOG_LEVEL": "ERROR",
                "TELNETCONSOLE_ENABLED": False, "REMOTE_CONTROL_ENABLED": False, "ROBOTSTXT_OBEY": False,
                "CONCURRENT_REQUESTS": 1}
    process = CrawlerProcess(settings)
    crawler = process.create_crawler(Probe)
    process.crawl(crawler)
    process.start()
    stats = {k: v for k, v in crawler.stats.get_stats().items() if k.startswith("playwright/")}
    print(json.dumps({"pages": out, "stats": stats}, ensure_ascii=False, default=str))
    """
)


@pytest.fixture(scope="module")
def crawl(server: DemoServer) -> dict[str, Any]:
    _need_chromium()
    proc = subprocess.run(
        [sys.executable, "-c", _CHILD, server.base_url],
        capture_output=True,
        text=True,
        timeout=180,
        cwd=REPO,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    data: dict[str, Any] = json.loads(proc.stdout.strip().splitlines()[-1])
    data["by_key"] = {page["key"]: page for page in data["pages"]}
    return data


def test_crawl_static_page_stays_http(crawl: dict[str, Any]) -> None:
    page = crawl["by_key"]["static"]
    assert page["status"] == 200 and page["via_browser"] is False
    assert "惠信理疗仪" in page["text"]


def test_crawl_js_page_rendered_automatically(crawl: dict[str, Any], server: DemoServer) -> None:
    page = crawl["by_key"]["auto"]
    assert page["via_browser"] is True and page["url"].endswith("/js/products/p035.html")
    rendered = visible_text(page["text"].encode("utf-8"))
    assert "惠信理疗仪" in rendered
    assert _norm(rendered) == _norm(visible_text(_site_bytes("/products/p035.html")))  # the static twin (GBK)
    assert server.hits("/js/products/p035.html") >= 2  # once over HTTP (a shell), once by the browser


def test_crawl_marked_page_goes_straight_to_browser(crawl: dict[str, Any], server: DemoServer) -> None:
    page = crawl["by_key"]["marked"]
    assert page["via_browser"] is True
    assert _norm(visible_text(page["text"].encode("utf-8"))) == _norm(visible_text(_site_bytes("/shops/huixin/index.html")))
    assert 'href="/js/products/p035.html"' in page["text"]
    assert server.hits("/js/shops/huixin/index.html") == 1


def test_crawl_blocks_fonts_and_media(crawl: dict[str, Any], server: DemoServer) -> None:
    assert crawl["by_key"]["resources"]["via_browser"] is True
    assert crawl["by_key"]["screenshot"]["via_browser"] is True
    assert server.hits("/_test/resources.html") == 2
    assert server.hits("/_test/font.woff2") == 0
    assert server.hits("/_test/media.ogg") == 0
    assert server.hits("/_test/image.png") == 1  # only for the page a screenshot is taken of
    assert crawl["stats"].get("playwright/request_count/aborted", 0) >= 3
    assert crawl["stats"].get("playwright/browser_count") == 1  # one browser, reused


def test_render_html(server: DemoServer) -> None:
    _need_chromium()
    html, final_url = render_html(server.url("/js/products/p064.html"))
    assert final_url == server.url("/js/products/p064.html")
    assert _norm(visible_text(html.encode("utf-8"))) == _norm(visible_text(_site_bytes("/products/p064.html")))
    assert not needs_browser(html.encode("utf-8"))
    html, final_url = render_html(server.url("/_test/redirect"))
    assert final_url == server.url("/index.html") and "康护优选" in html
