"""The sweep spider: platform home → shops (+ qualification pages, one hop) → products, with pagination.

Driven by a :class:`~mdwatch.crawler.profile.Profile` (docs/sweep-design.md). Every captured
page is yielded as a :class:`SweepItem` for the item pipeline (``mdwatch.scheduler.sweep_pipeline``);
every page that could not be captured as a :class:`SweepFailure`. A shop's item is yielded
once its qualification pages are in (or failed), so the shop is judged with them as in ``scan``.

Resume: ``done_urls`` are pages already stored by this sweep. A done product page is not
requested again; a done platform / shop / listing page is fetched (to rediscover its links) but
not yielded. ``budget`` caps the pages yielded; once reached no new page is requested.
Pages marked by the profile as needing the browser get ``meta["mdwatch_browser"] = True``, which
``mdwatch.crawler.browser.NeedsBrowserMiddleware`` routes through Chromium when the crawl has the
browser configured (ignored otherwise); a response it rendered has ``meta["mdwatch_via_browser"]``.

Distributed (``distributed``, crawler/distributed.py): requests go through a shared Redis queue
and dupe filter, so callbacks and meta must survive pickling; only the seeder yields the start
requests (then marks the sweep seeded); a shop's qualification requests carry
``meta["mdwatch_local"]`` and stay in the process holding the shop; qualification URLs claimed by
any process are not crawled as pages of their own.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import scrapy
from scrapy.http import Response, TextResponse
from twisted.python.failure import Failure

from .capture import Capture, FetchSettings
from .profile import Profile, Role
from .spiders import (
    _content_type,
    _headers_of,
    _html_response,
    classify_failure,
    detect_encoding,
    is_html,
    qualification_links,
)

if TYPE_CHECKING:
    from .distributed import DistributedSweep

__all__ = ["SweepFailure", "SweepItem", "SweepSpider"]

_ROLE = "mdwatch_role"
_SHOP = "mdwatch_shop"
_RELATED_OF = "mdwatch_related_of"
LOCAL_META = "mdwatch_local"  # crawler/distributed.py: stays in this process (a shop's qualification pages)
BROWSER_META = "mdwatch_browser"  # the names of crawler/browser.py (docs/sweep-design.md)
VIA_BROWSER_META = "mdwatch_via_browser"

# Products first (they are the bulk and need nothing more), then qualification pages (a shop
# waits for them), then shops, listing pages and home pages: the frontier stays small.
PRIORITY: dict[str, int] = {"related": 40, "product": 30, "shop": 20, "pagination": 15, "page": 10, "platform": 0}
STORED_ROLES: frozenset[str] = frozenset({"platform", "shop", "product", "page"})


@dataclass(frozen=True, slots=True)
class SweepItem:
    """One captured page of a sweep (docs/sweep-design.md)."""

    capture: Capture
    role: str  # platform | shop | product | page
    kind_hint: str | None  # page kind for extraction; None: the heuristic decides
    shop_url: str | None = None  # the shop a product / listing page was found on
    related: tuple[Capture, ...] = ()  # qualification pages of a shop, one hop away
    via_browser: bool = False


@dataclass(frozen=True, slots=True)
class SweepFailure:
    """A page of the sweep that could not be captured."""

    url: str
    role: str
    kind: str  # one of capture.ERROR_KINDS
    message: str  # one Chinese sentence


@dataclass(slots=True)
class _PendingShop:
    capture: Capture
    role: str
    kind_hint: str | None
    shop_url: str | None
    via_browser: bool
    links: list[str]
    pending: int
    related: dict[str, Capture] = field(default_factory=dict)

    def item(self) -> SweepItem:
        order = {u: n for n, u in enumerate(self.links)}
        related = tuple(sorted(self.related.values(), key=lambda c: order.get(c.url, len(order))))
        return SweepItem(self.capture, self.role, self.kind_hint, self.shop_url, related, self.via_browser)


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
        self._pending: dict[str, _PendingShop] = {}

    # ------------------------------------------------------------------ requests

    def _budget_left(self) -> bool:
        return self.budget is None or self.requested < self.budget

    def _request(self, url: str, role: Role, shop_url: str | None = None) -> scrapy.Request | None:
        if role == "product" and url in self.done_urls:
            self.skipped_done += 1
            return None
        if not self._budget_left():
            return None
        if role in STORED_ROLES and url not in self.done_urls:
            self.requested += 1
        meta: dict[str, Any] = {_ROLE: role, _SHOP: shop_url}
        if self.profile.needs_browser(url):
            meta[BROWSER_META] = True  # NeedsBrowserMiddleware (crawler/browser.py) routes it
        return scrapy.Request(
            url, callback=self.parse, errback=self.failed, priority=PRIORITY[role], meta=meta
        )

    async def start(self) -> AsyncIterator[Any]:
        if self.distributed is not None and not self.distributed.seeder:
            return  # a worker takes its requests from the shared queue
        for url in self.profile.start_urls:
            request = self._request(url, "platform")
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

    def parse(self, response: Response, **kwargs: Any) -> Iterator[Any]:
        role: Role = response.meta.get(_ROLE, "page")
        shop_url: str | None = response.meta.get(_SHOP)
        capture = self._capture(response)
        if capture is None:
            if role != "pagination":
                yield SweepFailure(response.url, role, "not_html",
                                   f"无法获取 {response.url}：返回的内容不是网页。")
            return
        page = _html_response(response)
        try:
            hrefs = page.css("a::attr(href)").getall()
        except Exception:  # a pathological page: no links rather than no page
            hrefs = []
        url = capture.url
        links = self.profile.links_of(response.url, hrefs)
        own_shop = url if role == "shop" else shop_url
        follow: list[scrapy.Request | None] = []
        follow += [self._request(u, "product", own_shop) for u in links.products]
        follow += [self._request(u, "pagination", own_shop) for u in links.pagination]
        follow += [self._request(u, "shop") for u in links.shops]
        other = [u for u in links.other if u not in self._related_urls]
        if other and self.distributed is not None:
            claimed = self.distributed.related(other)  # qualification pages of shops parsed elsewhere
            other = [u for u in other if u not in claimed]
        follow += [self._request(u, "page") for u in other]

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
        kind_hint = self.profile.page_kind(role)
        via_browser = capture.method == "browser"
        if role not in ("shop", "page") or not self.profile.qualification_link_words:
            return SweepItem(capture, role, kind_hint, shop_url, (), via_browser)
        links = _qualification_links(page, self.profile, capture.url)
        if not links:
            return SweepItem(capture, role, kind_hint, shop_url, (), via_browser)
        self._pending[capture.url] = _PendingShop(capture, role, kind_hint, shop_url, via_browser, links, len(links))
        requests = []
        meta: dict[str, Any] = {_RELATED_OF: capture.url}
        if self.distributed is not None:
            self.distributed.add_related(links)
            meta[LOCAL_META] = True  # the shop waits here: its qualification pages come back here
        for link in links:
            self._related_urls.add(link)
            requests.append(scrapy.Request(
                link, callback=self.parse_related, errback=self.related_failed, dont_filter=True,
                priority=PRIORITY["related"], meta=dict(meta),
            ))
        return requests

    def parse_related(self, response: Response, **kwargs: Any) -> Iterator[SweepItem]:
        owner = response.meta[_RELATED_OF]
        pending = self._pending.get(owner)
        if pending is None:
            return
        capture = self._capture(response)
        if capture is not None and 200 <= response.status < 300:
            pending.related[capture.url] = capture
        yield from self._related_done(owner, pending)

    def related_failed(self, failure: Failure) -> Iterator[SweepItem]:
        request = getattr(failure, "request", None)
        owner = request.meta.get(_RELATED_OF) if request is not None else None
        pending = self._pending.get(owner) if owner else None
        if pending is None or owner is None:
            return
        yield from self._related_done(owner, pending)  # a failed qualification page never fails the shop

    def _related_done(self, owner: str, pending: _PendingShop) -> Iterator[SweepItem]:
        pending.pending -= 1
        if pending.pending <= 0:
            del self._pending[owner]
            yield pending.item()

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
