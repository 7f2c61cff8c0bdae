"""The sweep spider: platform home → shops (+ qualification pages, one hop) → products, with pagination.

Driven by a :class:`~mdwatch.crawler.profile.Profile` (docs/design/sweeps.md). Every captured
page is yielded as a :class:`SweepItem` for the item pipeline (``mdwatch.scheduler.pipeline.sweep``);
every page that could not be captured as a :class:`SweepFailure`. A shop's item is yielded
once its qualification pages are in (or failed), so the shop is judged with them as in ``scan``.

Crawl traps (crawler/traps.py): every link is asked of the spider's :class:`TrapGuard` before it
is requested (depth in ``meta["mdwatch_depth"]``: link hops from a start URL, pagination hops not
counted); what it stops is logged once per rule and pattern and counted in ``spider.traps``.
Listing and navigation pages the profile declares get their kind as ``kind_hint``; a profile's
``content_selector`` goes with every request (``meta["mdwatch_ready"]``) so that a page rendered in
the browser is captured once it shows it.

Resume: ``done_urls`` are pages already stored by this sweep. A done product page is not
requested again; a done platform / shop / listing page is fetched (to rediscover its links) but
not yielded. ``budget`` caps the pages yielded; once reached no new page is requested.
Pages marked by the profile as needing the browser get ``meta["mdwatch_browser"] = True``, which
``mdwatch.crawler.browser.NeedsBrowserMiddleware`` routes through Chromium when the crawl has the
browser configured (ignored otherwise); a response it rendered has ``meta["mdwatch_via_browser"]``.

Images (``fetch_settings.fetch_images``, for OCR): a stored page's ``<img>`` images and those of
its qualification pages are downloaded in the same crawl (at most ``max_images_per_page`` per
HTML page, the rest recorded as skipped; each URL once per crawl, recent downloads kept in a
bounded memory cache) and the page's item is yielded once they are in, with them in
``SweepItem.images``. Image requests stay in this process (``meta["mdwatch_local"]``).

Distributed (``distributed``, crawler/distributed.py): requests go through a shared Redis queue
and dupe filter, so callbacks and meta must survive pickling; only the seeder yields the start
requests (then marks the sweep seeded); a shop's qualification requests carry
``meta["mdwatch_local"]`` and stay in the process holding the shop; qualification URLs claimed by
any process are not crawled as pages of their own.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import AsyncIterator, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import scrapy
from scrapy.http import Response, TextResponse
from twisted.python.failure import Failure

from .capture import Capture, FetchSettings
from .images import ImageCapture, decode_data_uri, image_urls, is_data_uri
from .netguard import BROWSER_REFUSALS_META, FetchRefused
from .profile import KindHint, Profile, Role
from .spiders import (
    _content_type,
    _headers_of,
    _html_response,
    _mb,
    classify_failure,
    detect_encoding,
    is_html,
    page_hrefs,
    qualification_links,
)
from .sweep_items import SweepFailure, SweepItem
from .traps import TrapGuard
from .urlcanon import canonical_url

if TYPE_CHECKING:
    from .distributed import DistributedSweep

__all__ = ["SweepFailure", "SweepItem", "SweepSpider"]

_ROLE = "mdwatch_role"
_SHOP = "mdwatch_shop"
_RELATED_OF = "mdwatch_related_of"
_IMAGE_OF = "mdwatch_image"  # the image URL as found on the page
IMAGE_CACHE_BYTES = 64 * 1024 * 1024  # downloaded images kept for other pages of the crawl
LOCAL_META = "mdwatch_local"  # crawler/distributed.py: stays in this process (a shop's qualification pages)
BROWSER_META = "mdwatch_browser"  # the names of crawler/browser.py (docs/design/sweeps.md)
VIA_BROWSER_META = "mdwatch_via_browser"
READY_META = "mdwatch_ready"  # crawler/browser.py: the CSS selector a rendered page is ready with
DEPTH_META = "mdwatch_depth"  # link hops from a start URL (crawler/traps.py)

# Products first (they are the bulk and need nothing more), then qualification pages (a shop
# waits for them), then shops, listing pages and home pages: the frontier stays small.
PRIORITY: dict[str, int] = {"image": 45, "related": 40, "product": 30, "shop": 20, "pagination": 15, "page": 10, "platform": 0}
STORED_ROLES: frozenset[str] = frozenset({"platform", "shop", "product", "page"})


@dataclass(slots=True)
class _PendingPage:
    """A stored page waiting for its qualification pages and its images."""

    capture: Capture
    role: str
    kind_hint: KindHint | None
    shop_url: str | None
    via_browser: bool
    links: list[str]
    pending: int
    related: dict[str, Capture] = field(default_factory=dict)
    image_urls: list[str] = field(default_factory=list)  # images of the page and related pages
    images: dict[str, ImageCapture] = field(default_factory=dict)  # finished (or skipped) ones

    def item(self) -> SweepItem:
        order = {u: n for n, u in enumerate(self.links)}
        related = tuple(sorted(self.related.values(), key=lambda c: order.get(c.url, len(order))))
        images = tuple(self.images[u] for u in self.image_urls if u in self.images)
        return SweepItem(self.capture, self.role, self.kind_hint, self.shop_url, related, self.via_browser, images)


class SweepSpider(scrapy.Spider):
    """Crawl one platform as its profile says; yield SweepItem / SweepFailure."""

    name = "mdwatch_sweep"

    def __init__(
        self,
        profile: Profile,
        done_urls: Iterable[str] = (),
        budget: int | None = None,
        fetch_settings: FetchSettings | None = None,
        distributed: DistributedSweep | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.distributed = distributed  # None: a one-process sweep
        self.profile = profile
        self.done_urls = frozenset(done_urls)
        self.budget = budget
        self.fetch_settings = fetch_settings or FetchSettings()
        self.allowed_domains = sorted(profile.hosts())
        self.requested = 0  # stored-role pages requested (counts against the budget)
        self.skipped_done = 0  # done product pages not requested again (resume)
        self._related_urls: set[str] = set()
        self._pending: dict[str, _PendingPage] = {}
        # images: finished downloads by URL (bounded, oldest dropped), in-flight ones → pages waiting
        self._images: OrderedDict[str, ImageCapture] = OrderedDict()
        self._image_bytes = 0
        self._image_waiters: dict[str, list[str]] = {}
        self.images_requested = 0
        self._refusals_said: set[str] = set()  # the browser's refused requests, one line each per sweep
        self._asked: set[str] = set()  # canonical URLs this process has requested (or skipped as done)
        self.traps = TrapGuard(profile.traps)

    # ------------------------------------------------------------------ requests

    def _budget_left(self) -> bool:
        return self.budget is None or self.requested < self.budget

    def _request(self, url: str, role: Role, shop_url: str | None = None, depth: int = 0,
                 start: bool = False) -> scrapy.Request | None:
        # one URL per listing: tracking parameters and fragments dropped, parameters in order, and a
        # URL asked for once (so the page budget counts pages, not links to the same page)
        url = canonical_url(url)
        if url in self._asked:
            return None
        if role == "product" and url in self.done_urls:
            self._asked.add(url)
            self.skipped_done += 1
            return None
        if not self._budget_left():
            return None
        if start:
            self.traps.admit_start(url)
        elif self.traps.check(url, role, depth) is not None:
            return None  # not asked: a shorter way to a page stopped for its depth may turn up
        self._asked.add(url)
        if role in STORED_ROLES and url not in self.done_urls:
            self.requested += 1
        meta: dict[str, Any] = {_ROLE: role, _SHOP: shop_url, DEPTH_META: depth}
        if self.profile.needs_browser(url):
            meta[BROWSER_META] = True  # NeedsBrowserMiddleware (crawler/browser.py) routes it
        if self.profile.content_selector:
            meta[READY_META] = self.profile.content_selector
        return scrapy.Request(
            url, callback=self.parse, errback=self.failed, priority=PRIORITY[role], meta=meta
        )

    async def start(self) -> AsyncIterator[Any]:
        if self.distributed is not None and not self.distributed.seeder:
            return  # a worker takes its requests from the shared queue
        for url in self.profile.start_urls:
            request = self._request(url, "platform", start=True)
            if request is not None:
                yield request
        if self.distributed is not None:
            # resumed after the last yield: every start request is in the shared queue
            self.distributed.mark_seeded()

    # ------------------------------------------------------------------ responses

    def _capture(self, response: Response) -> Capture | None:
        headers = _headers_of(response)
        if not is_html(_content_type(headers), response.body):
            return None
        page = _html_response(response)
        first = (response.meta.get("redirect_urls") or [response.request.url if response.request else response.url])[0]
        via_browser = bool(response.meta.get(VIA_BROWSER_META))
        return Capture.build(
            url=first,
            final_url=response.url,
            status=response.status,
            headers=headers,
            body=response.body,
            fetched_at=datetime.now(UTC),
            method="browser" if via_browser else "http",
            encoding=detect_encoding(page),
        )

    def _browser_refusals(self, response: Response, role: str) -> Iterator[SweepFailure]:
        """What the browser was refused while it rendered this page: one SweepFailure per line, once."""
        for line in response.meta.get(BROWSER_REFUSALS_META) or ():
            if line not in self._refusals_said:
                self._refusals_said.add(line)
                yield SweepFailure(response.url, role, "refused", line)

    def parse(self, response: Response, **kwargs: Any) -> Iterator[Any]:
        role: Role = response.meta.get(_ROLE, "page")
        shop_url: str | None = response.meta.get(_SHOP)
        yield from self._browser_refusals(response, role)
        capture = self._capture(response)
        if capture is None:
            if role != "pagination":
                yield SweepFailure(response.url, role, "not_html",
                                   f"无法获取 {response.url}：返回的内容不是网页。")
            return
        page = _html_response(response)
        try:
            hrefs = page_hrefs(page)
        except Exception:  # a pathological page: no links rather than no page
            hrefs = []
        url = capture.url
        links = self.profile.links_of(response.url, hrefs)
        own_shop = url if role == "shop" else shop_url
        depth = int(response.meta.get(DEPTH_META) or 0)
        follow: list[scrapy.Request | None] = []
        follow += [self._request(u, "product", own_shop, depth + 1) for u in links.products]
        # the next page of an index is no deeper than the index: a long index is no trap
        follow += [self._request(u, "pagination", own_shop, depth) for u in links.pagination]
        follow += [self._request(u, "shop", None, depth + 1) for u in links.shops]
        other = [u for u in links.other if u not in self._related_urls]
        if other and self.distributed is not None:
            claimed = self.distributed.related(other)  # qualification pages of shops parsed elsewhere
            other = [u for u in other if u not in claimed]
        follow += [self._request(u, "page", None, depth + 1) for u in other]

        if role in STORED_ROLES and url not in self.done_urls:
            item = self._item_or_wait(page, capture, role, shop_url)
            if isinstance(item, SweepItem):
                yield item
            else:
                yield from item
        yield from (r for r in follow if r is not None)

    def _item_or_wait(
        self, page: TextResponse, capture: Capture, role: Role, shop_url: str | None
    ) -> SweepItem | list[scrapy.Request]:
        kind_hint = self.profile.page_kind(role, capture.url)
        via_browser = capture.method == "browser"
        links: list[str] = []
        if role in ("shop", "page") and self.profile.qualification_link_words:
            links = _qualification_links(page, self.profile, capture.url)
        pending = _PendingPage(capture, role, kind_hint, shop_url, via_browser, links, len(links))
        image_requests = self._image_requests(pending, page)
        if pending.pending <= 0:
            return pending.item()
        self._pending[capture.url] = pending
        requests = []
        meta: dict[str, Any] = {_RELATED_OF: capture.url}
        if self.distributed is not None and links:
            self.distributed.add_related(links)
            meta[LOCAL_META] = True  # the shop waits here: its qualification pages come back here
        for link in links:
            self._related_urls.add(link)
            requests.append(scrapy.Request(
                link, callback=self.parse_related, errback=self.related_failed, dont_filter=True,
                priority=PRIORITY["related"], meta=dict(meta),
            ))
        return requests + image_requests

    def parse_related(self, response: Response, **kwargs: Any) -> Iterator[Any]:
        owner = response.meta[_RELATED_OF]
        yield from self._browser_refusals(response, "page")
        pending = self._pending.get(owner)
        if pending is None:
            return
        capture = self._capture(response)
        requests: list[scrapy.Request] = []
        if capture is not None and 200 <= response.status < 300:
            pending.related[capture.url] = capture
            requests = self._image_requests(pending, _html_response(response))
        yield from self._related_done(owner, pending)
        yield from requests

    def related_failed(self, failure: Failure) -> Iterator[SweepItem | SweepFailure]:
        request = getattr(failure, "request", None)
        owner = request.meta.get(_RELATED_OF) if request is not None else None
        if request is not None and isinstance(failure.value, FetchRefused):
            yield SweepFailure(request.url, "page", "refused", str(failure.value))  # its one line
        pending = self._pending.get(owner) if owner else None
        if pending is None or owner is None:
            return
        yield from self._related_done(owner, pending)  # a failed qualification page never fails the shop

    def _related_done(self, owner: str, pending: _PendingPage) -> Iterator[SweepItem]:
        pending.pending -= 1
        if pending.pending <= 0:
            del self._pending[owner]
            yield pending.item()

    # ------------------------------------------------------------------ images

    def _image_requests(self, pending: _PendingPage, page: TextResponse) -> list[scrapy.Request]:
        """Register an HTML page's images with the page waiting for them; requests for new ones."""
        settings = self.fetch_settings
        if not settings.fetch_images:
            return []
        try:
            found = image_urls(page, exclude=set(pending.image_urls))
        except Exception:  # a pathological page: no images rather than no page
            return []
        owner = pending.capture.url
        requests: list[scrapy.Request] = []
        for n, url in enumerate(found):
            pending.image_urls.append(url)
            if n >= settings.max_images_per_page:
                pending.images[url] = ImageCapture.skipped(
                    url, "limit", f"超过每页图片数量上限（{settings.max_images_per_page} 张），未下载。"
                )
            elif (known := self._images.get(url)) is not None:
                self._images.move_to_end(url)
                pending.images[url] = known
            elif url in self._image_waiters:
                if owner not in self._image_waiters[url]:
                    self._image_waiters[url].append(owner)
                    pending.pending += 1
            elif is_data_uri(url):
                pending.images[url] = self._data_image(url)
            else:
                self._image_waiters[url] = [owner]
                pending.pending += 1
                self.images_requested += 1
                requests.append(self._image_request(url))
        return requests

    def _image_request(self, url: str) -> scrapy.Request:
        # redirects and retries by Scrapy's middlewares; an HTTP error arrives at image_failed
        meta: dict[str, Any] = {_IMAGE_OF: url, "download_maxsize": self.fetch_settings.max_image_bytes,
                                LOCAL_META: True}
        return scrapy.Request(url, callback=self.parse_image, errback=self.image_failed, dont_filter=True,
                              priority=PRIORITY["image"], meta=meta)

    def _data_image(self, uri: str) -> ImageCapture:
        try:
            media_type, body = decode_data_uri(uri)
        except ValueError:
            return ImageCapture.skipped(uri, "bad_data_uri", "内嵌图片（data: URI）无法解码。")
        limit = self.fetch_settings.max_image_bytes
        if len(body) > limit:
            return ImageCapture.skipped(uri, "too_large", f"图片超过大小上限 {_mb(limit)}，未读取。", 0, media_type)
        return ImageCapture.downloaded(uri, 0, media_type, body)

    def parse_image(self, response: Response, **kwargs: Any) -> Iterator[SweepItem]:
        url: str = response.meta[_IMAGE_OF]
        status = response.status
        content_type = _content_type(_headers_of(response))
        limit = self.fetch_settings.max_image_bytes
        if not 200 <= status < 300:
            image = ImageCapture.skipped(url, "http_status", f"图片下载失败：服务器返回 HTTP {status}。", status,
                                         content_type)
        elif len(response.body) > limit:
            image = ImageCapture.skipped(url, "too_large", f"图片超过大小上限 {_mb(limit)}，未下载。", status,
                                         content_type)
        else:
            image = ImageCapture.downloaded(url, status, content_type, response.body)
        yield from self._image_done(url, image)

    def image_failed(self, failure: Failure) -> Iterator[SweepItem | SweepFailure]:
        request = getattr(failure, "request", None)
        url: str | None = request.meta.get(_IMAGE_OF) if request is not None else None
        if url is None:
            return
        if isinstance(failure.value, FetchRefused):
            message = str(failure.value)
            yield SweepFailure(url, "image", "refused", message)  # the run's one line for it
            yield from self._image_done(url, ImageCapture.skipped(url, "refused", message))
            return
        response = getattr(failure.value, "response", None)
        if response is not None:
            status = int(response.status)
            yield from self._image_done(url, ImageCapture.skipped(
                url, "http_status", f"图片下载失败：服务器返回 HTTP {status}。", status))
            return
        error = classify_failure(failure, url, self.fetch_settings)
        if error.kind == "too_large":
            message = f"图片超过大小上限 {_mb(self.fetch_settings.max_image_bytes)}，未下载。"
        else:
            message = "图片下载失败：" + error.message.split("：", 1)[-1]
        yield from self._image_done(url, ImageCapture.skipped(url, error.kind, message))

    def _image_done(self, url: str, image: ImageCapture) -> Iterator[SweepItem]:
        self._remember(url, image)
        for owner in self._image_waiters.pop(url, []):
            pending = self._pending.get(owner)
            if pending is None:
                continue
            pending.images[url] = image
            pending.pending -= 1
            if pending.pending <= 0:
                del self._pending[owner]
                yield pending.item()

    def _remember(self, url: str, image: ImageCapture) -> None:
        self._images[url] = image
        self._image_bytes += len(image.body)
        while self._image_bytes > IMAGE_CACHE_BYTES and len(self._images) > 1:
            _, old = self._images.popitem(last=False)
            self._image_bytes -= len(old.body)

    def failed(self, failure: Failure) -> Iterator[SweepFailure]:
        request = getattr(failure, "request", None)
        if request is None:
            return
        role = request.meta.get(_ROLE, "page")
        url = (request.meta.get("redirect_urls") or [request.url])[0]
        response = getattr(failure.value, "response", None)
        if response is not None:
            error = SweepFailure(url, role, "http_status", f"无法获取 {url}：服务器返回 HTTP {response.status}。")
        else:
            fe = classify_failure(failure, url, self.fetch_settings)
            error = SweepFailure(url, role, fe.kind, fe.message)
        yield error


def _qualification_links(page: TextResponse, profile: Profile, url: str) -> list[str]:
    return qualification_links(page, profile.qualification_link_words, profile.max_related, exclude=(url,))
