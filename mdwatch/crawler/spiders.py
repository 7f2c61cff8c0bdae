"""The capture spider: fetches a list of URLs once each, plus qualification pages one hop away.

It runs inside a Scrapy crawl started by :func:`mdwatch.crawler.fetch.fetch_pages`. Redirects
are followed here (Scrapy's RedirectMiddleware is off) so that a redirect loop can be told
apart from other failures; every outcome is reported through a ``sink`` callable as a
:class:`~mdwatch.crawler.capture.FetchResult`, never raised.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urldefrag, urljoin, urlsplit

import scrapy
from lxml import etree
from scrapy.exceptions import (
    CannotResolveHostError,
    DownloadCancelledError,
    DownloadConnectionRefusedError,
    DownloadFailedError,
    DownloadTimeoutError,
    IgnoreRequest,
    ResponseDataLossError,
    UnsupportedURLSchemeError,
)
from scrapy.http import HtmlResponse, Response, TextResponse
from twisted.internet.defer import CancelledError
from twisted.internet.error import (
    ConnectError,
    ConnectionDone,
    ConnectionLost,
    DNSLookupError,
)
from twisted.internet.error import TimeoutError as TxTimeoutError
from twisted.python.failure import Failure
from w3lib.encoding import html_body_declared_encoding, http_content_type_encoding, read_bom
from w3lib.url import safe_url_string

from .capture import Capture, FetchError, FetchResult, FetchSettings, FrozenHeaders
from .images import ImageCapture, decode_data_uri, image_urls, is_data_uri
from .netguard import BROWSER_REFUSALS_META, FetchRefused, take_browser_refusals
from .urlcheck import url_problem

__all__ = ["CaptureSpider", "classify_failure", "detect_encoding", "is_html", "page_hrefs", "qualification_links"]

Sink = Callable[[int, FetchResult], None]

_HTML_TYPES = ("text/html", "application/xhtml+xml")
_HTML_MARKERS = (b"<!doctype html", b"<html", b"<head", b"<body", b"<meta", b"<title")
_META_KEY = "mdwatch_hop"
_IMAGE_KEY = "mdwatch_image"
_VIA_BROWSER = "mdwatch_via_browser"  # browser.VIA_BROWSER_META: the browser rendered this response
_STARTED_KEY = "mdwatch_started"  # time.monotonic() of the first attempt (retries copy the meta)


# ----------------------------------------------------------------------------- helpers


def _content_type(headers: FrozenHeaders) -> str:
    return headers.get("content-type", "").split(";", 1)[0].strip().lower()


def is_html(content_type: str, body: bytes) -> bool:
    """True if the declared type is HTML, or the body sniffs as HTML whatever the header says."""
    if content_type in _HTML_TYPES:
        return True
    head = body[:2048].removeprefix(b"\xef\xbb\xbf").lstrip().lower()
    if not head.startswith(b"<"):
        return False
    return any(marker in head for marker in _HTML_MARKERS)


def _decode_header(raw: bytes) -> str:
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return raw.decode("latin-1")


def _headers_of(response: Response) -> FrozenHeaders:
    pairs: list[tuple[str, str]] = []
    for key in response.headers:
        name = _decode_header(key if isinstance(key, bytes) else str(key).encode("latin-1"))
        for value in response.headers.getlist(key):
            pairs.append((name, _decode_header(value)))
    return FrozenHeaders(pairs)


def _html_response(response: Response) -> TextResponse:
    if isinstance(response, TextResponse):
        return response
    return HtmlResponse(url=response.url, status=response.status, headers=response.headers, body=response.body)


_LINK_PARSER = etree.HTMLParser(recover=True, encoding="utf-8")


def page_hrefs(page: TextResponse) -> list[str]:
    """The ``href`` of every ``<a>`` of ``page``, as ``page.css("a::attr(href)").getall()`` gives them.

    The same parse as parsel's (Scrapy's decoded text, stripped, NULs dropped, as UTF-8, libxml2
    recovering), with one XPath on the tree instead of a Selector per link: a third of the
    crawl process's cost per page for its links, on every page it fetches.
    """
    text = page.text.strip().replace("\x00", "")
    root = etree.fromstring(text.encode("utf-8"), _LINK_PARSER) if text else None
    if root is None:
        return []
    return [str(href) for href in root.xpath("//a/@href")]


def detect_encoding(page: TextResponse) -> str | None:
    """Scrapy's encoding, except that an undeclared non-UTF-8 body that is valid GB18030 is GB18030.

    Scrapy honours the BOM, the Content-Type charset and ``<meta>`` declarations, then sniffs
    with charset_normalizer, which calls short Chinese texts cp949 or big5. Pages watched here
    are mainland Chinese, so without a declaration GB18030 wins when it decodes cleanly.
    """
    declared = (
        read_bom(page.body)[0]
        or http_content_type_encoding(_decode_header(page.headers.get(b"Content-Type") or b""))
        or html_body_declared_encoding(page.body)
    )
    if declared:
        return page.encoding
    body = page.body
    try:
        body.decode("utf-8")
    except UnicodeDecodeError:
        pass
    else:
        return page.encoding
    try:
        body.decode("gb18030")
    except UnicodeDecodeError:
        return page.encoding
    return "gb18030"


def _host(url: str) -> str:
    return (urlsplit(url).hostname or "").lower()


def qualification_links(
    response: TextResponse, words: Sequence[str], limit: int, exclude: Sequence[str] = ()
) -> list[str]:
    """Absolute same-host URLs of ``<a>`` elements whose text (or title / image alt) has a word."""
    if not words or limit <= 0:
        return []
    page_host = _host(response.url)
    seen = {urldefrag(u)[0] for u in (response.url, *exclude)}
    found: list[str] = []
    for anchor in response.css("a[href]"):
        label = " ".join(
            [
                *anchor.css("*::text").getall(),
                anchor.attrib.get("title", ""),
                *anchor.css("img::attr(alt)").getall(),
            ]
        )
        if not any(word in label for word in words):
            continue
        href = anchor.attrib.get("href", "").strip()
        if not href or href.lower().startswith(("javascript:", "mailto:", "tel:", "#")):
            continue
        absolute = urldefrag(safe_url_string(urljoin(response.url, href)))[0]
        if urlsplit(absolute).scheme not in ("http", "https") or _host(absolute) != page_host:
            continue
        if absolute in seen:
            continue
        seen.add(absolute)
        found.append(absolute)
        if len(found) >= limit:
            break
    return found


def _redirect_problem(target: str) -> str | None:
    """Why an http(s) redirect target cannot be fetched (too long, bad port …); other schemes are
    the fetch policy's to refuse (crawler/netguard.py), in its own words."""
    if target.split(":", 1)[0].lower() not in ("http", "https"):
        return None
    return url_problem(target)


def _mb(n: int) -> str:
    return f"{n / (1024 * 1024):g} MB" if n >= 1024 * 1024 else f"{n} 字节"


def classify_failure(failure: Failure, url: str, settings: FetchSettings) -> FetchError:
    """Map a download failure to an error kind and a one-sentence Chinese message."""
    exc = failure.value
    if isinstance(exc, FetchRefused):  # the fetch policy (crawler/netguard.py): its own one line
        return FetchError(url, "refused", str(exc))
    if isinstance(exc, DownloadTimeoutError | TxTimeoutError):
        return FetchError(url, "timeout", f"无法获取 {url}：{_timeout_said(failure, settings)}。")
    if isinstance(exc, CannotResolveHostError | DNSLookupError):
        return FetchError(url, "dns", f"无法获取 {url}：无法解析域名 {_host(url)}。")
    if isinstance(exc, DownloadCancelledError | CancelledError):
        # DOWNLOAD_MAXSIZE is the only thing that cancels a download before the crawl ends.
        return FetchError(url, "too_large", f"无法获取 {url}：页面超过大小上限 {_mb(settings.max_bytes)}。")
    if isinstance(
        exc,
        DownloadConnectionRefusedError
        | ConnectError
        | ConnectionLost
        | ConnectionDone
        | DownloadFailedError
        | ResponseDataLossError
        | ConnectionError,
    ):
        return FetchError(url, "connection", f"无法获取 {url}：无法连接到服务器或连接中断。")
    if isinstance(exc, UnsupportedURLSchemeError):
        return FetchError(url, "other", f"无法获取 {url}：不支持该网址协议。")
    if isinstance(exc, IgnoreRequest):
        said = str(exc)
        if "during decompression" in said:  # HttpCompressionMiddleware: a compression bomb, or just too big
            return FetchError(url, "too_large",
                              f"无法获取 {url}：页面解压后超过大小上限 {_mb(settings.max_bytes)}（压缩数据异常膨胀），已停止读取。")
        if "robots.txt" in said:
            return FetchError(url, "other", f"无法获取 {url}：robots.txt 禁止抓取该页面。")
        return FetchError(url, "other", f"无法获取 {url}：请求被忽略。")
    return FetchError(url, "other", f"无法获取 {url}：{type(exc).__name__}。")


def _timeout_said(failure: Failure, settings: FetchSettings) -> str:
    """"服务器在 20 秒内没有响应", saying the retries and the time they took when there were any."""
    request = getattr(failure, "request", None)
    meta = request.meta if request is not None else {}
    retries = int(meta.get("retry_times") or 0)
    if retries <= 0:
        return f"服务器在 {settings.timeout_s:g} 秒内没有响应"
    started = meta.get(_STARTED_KEY)
    total = f"，共约 {time.monotonic() - started:.0f} 秒" if isinstance(started, float) else ""
    return f"服务器在 {settings.timeout_s:g} 秒内无响应（已重试 {retries} 次{total}）"


# ----------------------------------------------------------------------------- state


@dataclass(frozen=True, slots=True)
class _Hop:
    index: int  # position in the caller's URL list
    url: str  # URL as first requested (before redirects)
    related: bool  # a qualification page rather than the page itself
    chain: tuple[str, ...] = ()  # URLs already visited in this redirect chain


@dataclass(slots=True)
class _Job:
    url: str
    capture: Capture | None = None
    error: FetchError | None = None
    pending: int = 0
    related: list[Capture] = field(default_factory=list)
    links: list[str] = field(default_factory=list)  # qualification links, in page order
    image_urls: list[str] = field(default_factory=list)  # images of the page and related pages
    image_skips: dict[str, ImageCapture] = field(default_factory=dict)  # over this job's limit
    notices: list[str] = field(default_factory=list)  # refused qualification pages (fetch policy)
    done: bool = False


@dataclass(frozen=True, slots=True)
class _ImageHop:
    url: str  # image URL as found on the page
    chain: tuple[str, ...] = ()  # redirect chain so far


# ----------------------------------------------------------------------------- spider


class CaptureSpider(scrapy.Spider):
    """Fetch each job once; report each finished job through ``sink``."""

    name = "mdwatch_capture"

    def __init__(
        self,
        jobs: Sequence[tuple[int, str]],
        fetch_settings: FetchSettings,
        sink: Sink,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self._settings = fetch_settings
        self._sink = sink
        self._jobs: dict[int, _Job] = {index: _Job(url) for index, url in jobs}
        self._images: dict[str, ImageCapture] = {}  # finished downloads, by URL, for the whole crawl
        self._image_waiters: dict[str, list[int]] = {}  # in-flight downloads → jobs waiting

    # -- requests

    def _request(self, url: str, hop: _Hop) -> scrapy.Request:
        return scrapy.Request(
            url,
            callback=self.parse,
            errback=self.failed,
            dont_filter=True,
            meta={_META_KEY: hop, "handle_httpstatus_all": True, "dont_redirect": True,
                  _STARTED_KEY: time.monotonic()},
        )

    async def start(self) -> AsyncIterator[Any]:
        for index, job in self._jobs.items():
            yield self._request(job.url, _Hop(index, job.url, related=False))

    # -- outcomes

    def parse(self, response: Response, **kwargs: Any) -> Iterator[scrapy.Request]:
        hop: _Hop = response.meta[_META_KEY]
        try:
            requests = list(self._handle(response, hop))
        except Exception as exc:  # a bug or a pathological page must not lose the result
            job = self._jobs[hop.index]
            self._fail(hop, job, FetchError(hop.url, "other", f"无法处理 {hop.url}：{type(exc).__name__}。"))
            return
        yield from requests

    def _handle(self, response: Response, hop: _Hop) -> Iterator[scrapy.Request]:
        job = self._jobs[hop.index]
        settings = self._settings
        status = response.status

        if 300 <= status < 400 and (location := response.headers.get(b"Location")):
            target = urldefrag(safe_url_string(urljoin(response.url, _decode_header(location))))[0]
            chain = (*hop.chain, urldefrag(response.url)[0])
            if target in chain or len(chain) > settings.max_redirects:
                self._fail(
                    hop,
                    job,
                    FetchError(
                        hop.url,
                        "redirect_loop",
                        f"无法获取 {hop.url}：重定向形成循环或超过 {settings.max_redirects} 次。",
                    ),
                )
                return
            if (problem := _redirect_problem(target)) is not None:
                self._fail(hop, job, FetchError(hop.url, "other", f"无法获取 {hop.url}：重定向目标{problem}。"))
                return
            yield self._request(target, _Hop(hop.index, hop.url, hop.related, chain))
            return

        if status >= 400:
            self._fail(hop, job, FetchError(hop.url, "http_status", f"无法获取 {hop.url}：服务器返回 HTTP {status}。"))
            return

        headers = _headers_of(response)
        content_type = _content_type(headers)
        if not is_html(content_type, response.body):
            shown = content_type or "未声明"
            self._fail(
                hop,
                job,
                FetchError(hop.url, "not_html", f"无法获取 {hop.url}：返回的内容不是网页（Content-Type：{shown}）。"),
            )
            return

        page = _html_response(response)
        capture = Capture.build(
            url=hop.url,
            final_url=response.url,
            status=status,
            headers=headers,
            body=response.body,
            fetched_at=datetime.now(UTC),
            method="browser" if response.meta.get(_VIA_BROWSER) else "http",
            encoding=detect_encoding(page),
        )
        job.notices.extend(response.meta.get(BROWSER_REFUSALS_META, ()))  # the browser's refused requests
        image_requests = self._image_requests(hop.index, job, page) if settings.fetch_images else []
        if hop.related:
            job.related.append(capture)
            job.pending -= 1
            self._maybe_finish(hop.index, job)
            yield from image_requests
            return

        job.capture = capture
        links: list[str] = []
        if settings.follow_qualification:
            links = qualification_links(
                page, settings.qualification_link_words, settings.max_related, exclude=(hop.url,)
            )
        job.links = links
        job.pending += len(links)
        self._maybe_finish(hop.index, job)
        for link in links:
            yield self._request(link, _Hop(hop.index, link, related=True))
        yield from image_requests

    # -- images

    def _image_request(self, url: str, hop: _ImageHop) -> scrapy.Request:
        return scrapy.Request(
            url,
            callback=self.parse_image,
            errback=self.image_failed,
            dont_filter=True,
            priority=-1,  # pages first: a page's qualification links are found sooner
            meta={
                _IMAGE_KEY: hop,
                "handle_httpstatus_all": True,
                "dont_redirect": True,
                "download_maxsize": self._settings.max_image_bytes,
            },
        )

    def _image_requests(self, index: int, job: _Job, page: TextResponse) -> list[scrapy.Request]:
        """Register the page's images with its job; requests for those not yet seen in this crawl."""
        settings = self._settings
        try:
            found = image_urls(page, exclude=set(job.image_urls))
        except Exception:  # a pathological page: no images rather than no page
            return []
        requests: list[scrapy.Request] = []
        for n, url in enumerate(found):
            job.image_urls.append(url)
            if n >= settings.max_images_per_page:
                job.image_skips[url] = ImageCapture.skipped(
                    url, "limit", f"超过每页图片数量上限（{settings.max_images_per_page} 张），未下载。"
                )
            elif url in self._images:
                continue
            elif url in self._image_waiters:
                self._image_waiters[url].append(index)
                job.pending += 1
            elif is_data_uri(url):
                self._images[url] = self._data_image(url)
            else:
                self._image_waiters[url] = [index]
                job.pending += 1
                requests.append(self._image_request(safe_url_string(url), _ImageHop(url)))
        return requests

    def _data_image(self, uri: str) -> ImageCapture:
        try:
            media_type, body = decode_data_uri(uri)
        except ValueError:
            return ImageCapture.skipped(uri, "bad_data_uri", "内嵌图片（data: URI）无法解码。")
        if len(body) > self._settings.max_image_bytes:
            return ImageCapture.skipped(
                uri, "too_large", f"图片超过大小上限 {_mb(self._settings.max_image_bytes)}，未读取。", 0, media_type
            )
        return ImageCapture.downloaded(uri, 0, media_type, body)

    def parse_image(self, response: Response, **kwargs: Any) -> Iterator[scrapy.Request]:
        hop: _ImageHop = response.meta[_IMAGE_KEY]
        try:
            request = self._handle_image(response, hop)
        except Exception as exc:  # never lose the page over an image
            self._image_done(hop.url, ImageCapture.skipped(hop.url, "other", f"图片处理出错：{type(exc).__name__}。"))
            return
        if request is not None:
            yield request

    def _handle_image(self, response: Response, hop: _ImageHop) -> scrapy.Request | None:
        status = response.status
        settings = self._settings
        if 300 <= status < 400 and (location := response.headers.get(b"Location")):
            target = urldefrag(safe_url_string(urljoin(response.url, _decode_header(location))))[0]
            chain = (*hop.chain, urldefrag(response.url)[0])
            if target in chain or len(chain) > settings.max_redirects:
                self._image_done(
                    hop.url, ImageCapture.skipped(hop.url, "redirect_loop", "图片重定向形成循环或次数过多。", status)
                )
                return None
            if (problem := _redirect_problem(target)) is not None:
                self._image_done(hop.url, ImageCapture.skipped(hop.url, "other", f"图片重定向目标{problem}。", status))
                return None
            return self._image_request(target, _ImageHop(hop.url, chain))
        content_type = _content_type(_headers_of(response))
        if status >= 400 or status < 200:
            self._image_done(
                hop.url,
                ImageCapture.skipped(hop.url, "http_status", f"图片下载失败：服务器返回 HTTP {status}。", status,
                                     content_type),
            )
            return None
        body = response.body
        if len(body) > settings.max_image_bytes:
            self._image_done(
                hop.url,
                ImageCapture.skipped(hop.url, "too_large", f"图片超过大小上限 {_mb(settings.max_image_bytes)}，未下载。",
                                     status, content_type),
            )
            return None
        self._image_done(hop.url, ImageCapture.downloaded(hop.url, status, content_type, body))
        return None

    def image_failed(self, failure: Failure) -> None:
        request = getattr(failure, "request", None)
        hop: _ImageHop | None = request.meta.get(_IMAGE_KEY) if request is not None else None
        if hop is None:
            return
        error = classify_failure(failure, hop.url, self._settings)
        if error.kind == "too_large":
            message = f"图片超过大小上限 {_mb(self._settings.max_image_bytes)}，未下载。"
        elif error.kind == "refused":
            message = error.message
        else:
            message = "图片下载失败：" + error.message.split("：", 1)[-1]
        self._image_done(hop.url, ImageCapture.skipped(hop.url, error.kind, message))

    def _image_done(self, url: str, image: ImageCapture) -> None:
        self._images[url] = image
        for index in self._image_waiters.pop(url, []):
            job = self._jobs[index]
            job.pending -= 1
            self._maybe_finish(index, job)

    def failed(self, failure: Failure) -> None:
        request = getattr(failure, "request", None)
        hop: _Hop | None = request.meta.get(_META_KEY) if request is not None else None
        if hop is None:
            return
        job = self._jobs[hop.index]
        self._fail(hop, job, classify_failure(failure, hop.url, self._settings))

    def _fail(self, hop: _Hop, job: _Job, error: FetchError) -> None:
        if hop.related:  # a failed qualification page never fails the page itself
            job.pending -= 1
            if error.kind == "refused":
                job.notices.append(error.message)
        else:
            job.error = error
        self._maybe_finish(hop.index, job)

    def _maybe_finish(self, index: int, job: _Job) -> None:
        if job.done or job.pending > 0 or (job.capture is None and job.error is None):
            return
        job.done = True
        job.notices.extend(take_browser_refusals())  # refused after its page came back (a late fetch())
        order = {link: n for n, link in enumerate(job.links)}
        related = tuple(sorted(job.related, key=lambda c: order.get(c.url, len(order))))
        images: tuple[ImageCapture, ...] = ()
        if job.error is None:
            images = tuple(
                found
                for url in job.image_urls
                if (found := job.image_skips.get(url) or self._images.get(url)) is not None
            )
        notices = (*job.notices, *(i.error for i in images if i.error_kind == "refused" and i.error))
        result = FetchResult(job.url, job.capture if job.error is None else None, job.error, related, images,
                             notices)
        self._sink(index, result)

    def unfinished(self) -> list[int]:
        """Indices of jobs that never reported (should be empty after a clean crawl)."""
        return [index for index, job in self._jobs.items() if not job.done]
