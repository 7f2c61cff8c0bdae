"""The fetch policy in a Scrapy crawl: a DNS resolver and a downloader middleware.

The decisions are :mod:`mdwatch.crawler.netpolicy`'s; this module applies them at every hop:

- :class:`PolicyResolver` (``TWISTED_DNS_RESOLVER``) resolves each host once per crawl and hands
  the connection only addresses the policy allows for that host and port: the address connected
  to is the address checked (no DNS rebinding between check and fetch);
- :class:`FetchPolicyMiddleware` (first downloader middleware) refuses a request whose scheme is
  not http(s) or whose host resolves (through the same resolver and its cache) to a refused
  address, and a response that redirects to another scheme or to a refused IP literal, with a
  :class:`FetchRefused` carrying the one Chinese line; it also checks the final URL of a page the
  browser rendered (Chromium follows redirects itself);
- :func:`browser_abort_request`: the same checks for the requests Chromium makes while it
  renders a page; Chromium itself connects only through :class:`~mdwatch.crawler.pinproxy.PinProxy`
  (``PLAYWRIGHT_BROWSER_PROVIDER``), which connects to the very address judged here (its cache is
  this check's); a refused browser request is one Chinese line among the page's notices
  (:func:`note_browser_refusal`, :data:`BROWSER_REFUSALS_META`);
- :func:`apply_fetch_policy` puts all of it into a crawl's settings, with Scrapy's ``file``,
  ``data``, ``ftp`` and ``s3`` download handlers switched off.

Settings: ``MDWATCH_FETCH_TYPED`` (the start URLs: their host and port may be any address) and
``MDWATCH_ALLOW_HOSTS`` (hosts that may be internal; the ``MDWATCH_ALLOW_HOSTS`` environment
variable is added by :func:`apply_fetch_policy`).
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any
from urllib.parse import urljoin, urlsplit

from scrapy.exceptions import IgnoreRequest
from twisted.internet.interfaces import IHostnameResolver, IHostResolution
from zope.interface import implementer

from .netpolicy import (
    FetchPolicy,
    Refusal,
    allow_hosts_from_env,
    check_address,
    check_scheme,
    literal_ip,
    origin_of,
)
from .urlcheck import shown_url, url_problem

if TYPE_CHECKING:
    from playwright.async_api import Request as PlaywrightRequest
    from scrapy import Request, Spider
    from scrapy.crawler import Crawler
    from scrapy.http import Response
    from twisted.internet.defer import Deferred
    from twisted.internet.interfaces import IAddress

__all__ = [
    "BROWSER_ABORT_PATH",
    "BROWSER_REFUSALS_META",
    "MIDDLEWARE_PATH",
    "RESOLVER_PATH",
    "FetchPolicyMiddleware",
    "FetchRefused",
    "PolicyResolver",
    "RedirectPolicyMiddleware",
    "apply_fetch_policy",
    "browser_abort_request",
    "browser_own_request",
    "crawl_limits",
    "crawl_policy",
    "note_browser_refusal",
    "policy_from_settings",
    "shared_browser_dns",
    "take_browser_refusals",
]

RESOLVER_PATH = "mdwatch.crawler.netguard.PolicyResolver"
MIDDLEWARE_PATH = "mdwatch.crawler.netguard.FetchPolicyMiddleware"
REDIRECT_MIDDLEWARE_PATH = "mdwatch.crawler.netguard.RedirectPolicyMiddleware"
BROWSER_ABORT_PATH = "mdwatch.crawler.netguard.browser_abort_request"
#: response meta of a browser-rendered page: the browser requests refused while it rendered (one line each)
BROWSER_REFUSALS_META = "mdwatch_browser_refusals"
#: Scrapy's download handlers that are not http(s): off in every crawl
_OTHER_HANDLERS = ("file", "data", "ftp", "s3")


class FetchRefused(IgnoreRequest):
    """A request refused by the fetch policy; ``str(exc)`` is the one Chinese line."""

    def __init__(self, refusal: Refusal) -> None:
        super().__init__(refusal.message)
        self.refusal = refusal


def policy_from_settings(settings: Any) -> FetchPolicy:
    """The :class:`FetchPolicy` of a crawl's settings (``MDWATCH_FETCH_TYPED``, ``MDWATCH_ALLOW_HOSTS``)."""
    return FetchPolicy.build(settings.getlist("MDWATCH_FETCH_TYPED"), settings.getlist("MDWATCH_ALLOW_HOSTS"))


def apply_fetch_policy(
    settings: dict[str, Any], typed_urls: Iterable[str], allow_hosts: Iterable[str] = ()
) -> dict[str, Any]:
    """Add the fetch policy to a crawl's Scrapy settings (in place; also returned).

    Call it after any other settings that touch ``DOWNLOAD_HANDLERS`` or
    ``DOWNLOADER_MIDDLEWARES`` (the browser's): both dicts are merged, not replaced.
    """
    handlers = dict(settings.get("DOWNLOAD_HANDLERS") or {})
    for scheme in _OTHER_HANDLERS:
        handlers[scheme] = None
    settings["DOWNLOAD_HANDLERS"] = handlers
    middlewares = dict(settings.get("DOWNLOADER_MIDDLEWARES") or {})
    middlewares[MIDDLEWARE_PATH] = 1  # before robots.txt, offsite and everything else
    # responses: before RedirectMiddleware (600) turns a Location into a request that the offsite
    # filter might drop silently, so every refused redirect is said
    middlewares[REDIRECT_MIDDLEWARE_PATH] = 650
    settings["DOWNLOADER_MIDDLEWARES"] = middlewares
    settings["TWISTED_DNS_RESOLVER"] = RESOLVER_PATH
    settings["MDWATCH_FETCH_TYPED"] = [*settings.get("MDWATCH_FETCH_TYPED", ()), *typed_urls]
    allowed = [*settings.get("MDWATCH_ALLOW_HOSTS", ()), *allow_hosts, *allow_hosts_from_env()]
    settings["MDWATCH_ALLOW_HOSTS"] = sorted(set(allowed))
    abort = settings.get("PLAYWRIGHT_ABORT_REQUEST")
    if abort != BROWSER_ABORT_PATH and (abort or "PLAYWRIGHT_LAUNCH_OPTIONS" in settings):
        # the browser's own requests: the policy first, then the browser's resource blocking
        settings["MDWATCH_BROWSER_BLOCK"] = bool(abort)
        settings["PLAYWRIGHT_ABORT_REQUEST"] = BROWSER_ABORT_PATH
    if "PLAYWRIGHT_LAUNCH_OPTIONS" in settings:
        # Chromium connects only through the pinning proxy (crawler/pinproxy.py)
        from .pinproxy import PROVIDER_PATH

        settings["PLAYWRIGHT_BROWSER_PROVIDER"] = PROVIDER_PATH
    return settings


# ----------------------------------------------------------------------------- resolution

_ACTIVE: dict[str, Any] = {}  # the crawl's resolver and policy (one crawl per process)


def _getaddrinfo(host: str) -> list[str]:
    """Every address of ``host`` (IPv4 and IPv6), in the resolver's order, without duplicates."""
    infos = socket.getaddrinfo(host, None, 0, socket.SOCK_STREAM)
    seen: dict[str, None] = {}
    for _family, _type, _proto, _canon, sockaddr in infos:
        seen.setdefault(str(sockaddr[0]).split("%", 1)[0], None)
    return list(seen)


def _judge(addresses: Sequence[str], host: str, port: int, policy: FetchPolicy, url: str | None) -> Refusal | None:
    """The refusal of the first address the policy refuses (a host with any refused address is refused)."""
    for address in addresses:
        refusal = check_address(address, host, port, policy, url)
        if refusal is not None:
            return refusal
    return None


@implementer(IHostResolution)
class _Resolution:
    def __init__(self, name: str) -> None:
        self.name = name

    def cancel(self) -> None:
        pass


@implementer(IHostnameResolver)
class PolicyResolver:
    """``TWISTED_DNS_RESOLVER``: resolve each host once per crawl; emit only allowed addresses.

    Implements Twisted's ``IHostnameResolver`` (used by ``HostnameEndpoint``, hence by Scrapy's
    HTTP/1.1 client for every connection, IP literals included). For a host the policy refuses
    no address is emitted, so nothing is connected to; :class:`FetchPolicyMiddleware` has
    already turned that into a :class:`FetchRefused` with its message.
    """

    def __init__(self, reactor: Any, policy: FetchPolicy, timeout_s: float) -> None:
        self.reactor = reactor
        self.policy = policy
        self.timeout_s = timeout_s
        self._cache: dict[str, list[str]] = {}
        self._inflight: dict[str, list[Deferred[list[str]]]] = {}
        self.refusals: dict[tuple[str, int], Refusal] = {}

    @classmethod
    def from_crawler(cls, crawler: Any, reactor: Any) -> PolicyResolver:
        settings = crawler.settings
        return cls(reactor, policy_from_settings(settings), settings.getfloat("DNS_TIMEOUT", 60.0))

    def install_on_reactor(self) -> None:
        self.reactor.installNameResolver(self)
        _ACTIVE["resolver"] = self

    def lookup(self, host: str) -> Deferred[list[str]]:
        """The addresses of ``host``: resolved once per crawl, then from the cache."""
        from twisted.internet import defer
        from twisted.internet.threads import deferToThreadPool

        name = host.strip("[]").rstrip(".").lower()
        ip = literal_ip(name)
        if ip is not None:
            return defer.succeed([str(ip)])
        if name in self._cache:
            return defer.succeed(list(self._cache[name]))
        waiter: Deferred[list[str]] = defer.Deferred()
        if name in self._inflight:
            self._inflight[name].append(waiter)
            return waiter
        self._inflight[name] = [waiter]
        d = deferToThreadPool(self.reactor, self.reactor.getThreadPool(), _getaddrinfo, name)
        d.addTimeout(self.timeout_s, self.reactor)

        def done(result: Any) -> None:
            waiters = self._inflight.pop(name, [])
            if isinstance(result, list):
                self._cache[name] = list(result)
                for w in waiters:
                    w.callback(list(result))
            else:
                for w in waiters:
                    w.errback(result)

        d.addBoth(done)
        return waiter

    def check(self, host: str, port: int, url: str | None = None) -> Deferred[Refusal | None]:
        """Resolve (once) and judge ``host:port``; a failed lookup is no refusal (the fetch fails)."""
        from twisted.internet import defer

        if self.policy.trusts(host, port):
            return defer.succeed(None)
        judged: Deferred[Refusal | None] = self.lookup(host).addCallbacks(
            lambda addresses: _judge(addresses, host, port, self.policy, url), lambda _f: None
        )
        return judged

    def resolveHostName(
        self,
        resolutionReceiver: Any,  # IResolutionReceiver (zope interfaces do not type-check)
        hostName: str,
        portNumber: int = 0,
        addressTypes: Sequence[type[IAddress]] | None = None,
        transportSemantics: str = "TCP",
    ) -> Any:  # IHostResolution
        from twisted.internet.address import IPv4Address, IPv6Address

        resolution = _Resolution(hostName)
        resolutionReceiver.resolutionBegan(resolution)
        wanted = tuple(addressTypes) if addressTypes else (IPv4Address, IPv6Address)

        def emit(addresses: list[str]) -> None:
            refusal = None if self.policy.trusts(hostName, portNumber) else _judge(
                addresses, hostName, portNumber, self.policy, None)
            if refusal is not None:
                self.refusals[(hostName.lower(), portNumber)] = refusal
                addresses = []  # nothing to connect to
            for address in addresses:
                ip = ipaddress.ip_address(address)
                kind = IPv6Address if ip.version == 6 else IPv4Address
                if kind in wanted:
                    resolutionReceiver.addressResolved(kind("TCP", address, portNumber))
            resolutionReceiver.resolutionComplete()

        def failed(_failure: Any) -> None:
            resolutionReceiver.resolutionComplete()

        self.lookup(hostName).addCallbacks(emit, failed)
        return resolution


# ----------------------------------------------------------------------------- the middleware


def _location(request: Request, response: Response) -> str | None:
    if not 300 <= response.status < 400:
        return None
    raw = response.headers.get(b"Location")
    if not raw:
        return None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        text = raw.decode("latin-1")
    text = text.strip()
    if text.startswith("//"):
        text = urlsplit(response.url).scheme + ":" + text
    return urljoin(response.url, text)


class FetchPolicyMiddleware:
    """Downloader middleware: every request and every redirect judged by the fetch policy."""

    def __init__(self, policy: FetchPolicy) -> None:
        self.policy = policy
        self._own: PolicyResolver | None = None

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> FetchPolicyMiddleware:
        middleware = cls(policy_from_settings(crawler.settings))
        _ACTIVE["policy"] = middleware.policy
        _ACTIVE["browser_block"] = crawler.settings.getbool("MDWATCH_BROWSER_BLOCK", True)
        _ACTIVE["timeout_s"] = crawler.settings.getfloat("DOWNLOAD_TIMEOUT", 30.0)
        _ACTIVE["max_bytes"] = crawler.settings.getint("DOWNLOAD_MAXSIZE", 0)
        return middleware

    def _resolver(self) -> PolicyResolver:
        resolver = _ACTIVE.get("resolver")
        if isinstance(resolver, PolicyResolver):
            return resolver
        if self._own is None:  # the crawl's resolver is another one: judge with our own lookups
            from twisted.internet import reactor

            self._own = PolicyResolver(reactor, self.policy, 60.0)
        return self._own

    async def _check_url(self, url: str, source: str | None = None) -> Refusal | None:
        from scrapy.utils.defer import maybe_deferred_to_future

        refusal = check_scheme(url, source)
        if refusal is not None:
            return refusal
        origin = origin_of(url)
        if origin is None:  # an http(s) URL that cannot be requested: a bad port, a space in the host …
            problem = url_problem(url) or "不是有效的 http(s) 网址"
            where = f"（来自 {source} 的跳转或链接）" if source else ""
            return Refusal(url, "scheme", f"已拒绝：{shown_url(url)}{where}：{problem}。")
        host, port = origin
        if self.policy.trusts(host, port):
            return None
        ip = literal_ip(host)
        if ip is not None:
            return check_address(ip, host, port, self.policy, url)
        result: Refusal | None = await maybe_deferred_to_future(self._resolver().check(host, port, url))
        return result

    async def process_request(self, request: Request, spider: Spider | None = None) -> None:
        refusal = await self._check_url(request.url)
        if refusal is not None:
            raise FetchRefused(refusal)

    async def process_response(
        self, request: Request, response: Response, spider: Spider | None = None
    ) -> Response:
        target = _location(request, response)
        if target is not None:
            # judged now, with the same resolver (and cache) the redirected request will use:
            # Scrapy's redirect middleware drops other schemes silently, its offsite filter other hosts
            refusal = check_scheme(target, response.url) or await self._check_url(target, response.url)
            if refusal is not None:
                raise FetchRefused(refusal)
        if request.meta.get("playwright") and type(self) is FetchPolicyMiddleware:
            # what the browser was refused while it rendered this page: said with the page
            request.meta[BROWSER_REFUSALS_META] = [
                *request.meta.get(BROWSER_REFUSALS_META, ()), *take_browser_refusals()]
        if request.meta.get("playwright") and response.url != request.url:
            # Chromium followed a redirect on its own: judge where it ended before anything is kept
            refusal = await self._check_url(response.url, request.url)
            if refusal is not None:
                raise FetchRefused(refusal)
        return response

    def process_exception(self, request: Request, exception: Exception, spider: Spider | None = None) -> None:
        """A connection the resolver refused (no address) reads as the refusal, not as a DNS error."""
        from twisted.internet.error import DNSLookupError

        if isinstance(exception, DNSLookupError) and (origin := origin_of(request.url)) is not None:
            resolver = _ACTIVE.get("resolver")
            refusal = resolver.refusals.get(origin) if isinstance(resolver, PolicyResolver) else None
            if refusal is not None:
                raise FetchRefused(Refusal(request.url, refusal.reason, refusal.message)) from exception
        return None


class RedirectPolicyMiddleware(FetchPolicyMiddleware):
    """The response half of :class:`FetchPolicyMiddleware`, placed before Scrapy's RedirectMiddleware."""

    async def process_request(self, request: Request, spider: Spider | None = None) -> None:
        return None

    def process_exception(self, request: Request, exception: Exception, spider: Spider | None = None) -> None:
        return None


# ----------------------------------------------------------------------------- the browser

_BROWSER_DNS: dict[str, list[str]] = {}  # host → addresses, for this crawl: the abort check's and the proxy's
_BROWSER_REFUSALS: dict[str, None] = {}  # one Chinese line per refused browser request, not yet said


def crawl_policy() -> FetchPolicy:
    """The crawl's policy (published by :class:`FetchPolicyMiddleware`); without it, the strictest."""
    policy = _ACTIVE.get("policy")
    return policy if isinstance(policy, FetchPolicy) else FetchPolicy()


def crawl_limits() -> tuple[float, int]:
    """The crawl's download timeout (seconds) and byte cap (0: none), for the browser's proxy."""
    return float(_ACTIVE.get("timeout_s", 30.0)), int(_ACTIVE.get("max_bytes", 0))


def shared_browser_dns() -> dict[str, list[str]]:
    """The browser's resolution cache: what the abort check judged is what the proxy connects to."""
    return _BROWSER_DNS


_SAID: set[str] = set()  # lines already handed out in this crawl (a line is said once)
_PAGE_ORIGINS: set[tuple[str, int]] = set()  # host:port of the browser requests the abort check let through

#: Chromium's own services (updates, accounts, safe browsing, field trials …): contacted by the
#: browser itself, not by a page. Through the proxy they are refused without a DNS lookup unless a
#: page asked for that host:port; they are not the page's, so no line is said for them.
_BROWSER_SERVICES = frozenset({
    "accounts.google.com", "update.googleapis.com", "clients1.google.com", "clients2.google.com",
    "clients4.google.com", "clientservices.googleapis.com", "optimizationguide-pa.googleapis.com",
    "content-autofill.googleapis.com", "safebrowsing.googleapis.com", "safebrowsingohttpgateway.googleapis.com",
    "android.clients.google.com", "www.google.com", "redirector.gvt1.com", "edgedl.me.gvt1.com",
})
_BROWSER_SERVICE_SUFFIXES = (".gvt1.com", ".gvt2.com")


def browser_own_request(host: str, port: int) -> bool:
    """True for a connection Chromium opens for itself (its services), not for a page's request."""
    name = host.strip("[]").rstrip(".").lower()
    if (name, port) in _PAGE_ORIGINS:
        return False
    return name in _BROWSER_SERVICES or name.endswith(_BROWSER_SERVICE_SUFFIXES)


def note_browser_refusal(refusal: Refusal) -> None:
    """Record a refused browser request (abort check or proxy): said once, with a page's notices."""
    if refusal.message not in _SAID:
        _BROWSER_REFUSALS.setdefault(refusal.message, None)


def take_browser_refusals() -> list[str]:
    """The refused browser requests' lines not yet handed out (each line once per crawl)."""
    lines = list(_BROWSER_REFUSALS)
    _BROWSER_REFUSALS.clear()
    _SAID.update(lines)
    return lines


async def _browser_refusal(url: str) -> Refusal | None:
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    if scheme in ("data", "blob", "about"):  # content of the page itself, not a fetch
        return None
    refusal = check_scheme(url)
    if refusal is not None:
        return refusal
    origin = origin_of(url)
    if origin is None:
        return None
    host, port = origin
    policy: FetchPolicy = _ACTIVE.get("policy") or FetchPolicy()
    _PAGE_ORIGINS.add((host, port))  # a page's request: the proxy judges it, whatever its host
    if policy.trusts(host, port):
        return None
    ip = literal_ip(host)
    if ip is not None:
        return check_address(ip, host, port, policy, url)
    if host not in _BROWSER_DNS:
        try:
            loop = asyncio.get_running_loop()
            _BROWSER_DNS[host] = await loop.run_in_executor(None, _getaddrinfo, host)
        except (OSError, UnicodeError):
            _BROWSER_DNS[host] = []  # Chromium will fail to resolve it as well
    return _judge(_BROWSER_DNS[host], host, port, policy, url)


async def browser_abort_request(request: PlaywrightRequest) -> bool:
    """``PLAYWRIGHT_ABORT_REQUEST``: a request Chromium makes while rendering a page.

    Refused by the fetch policy (another scheme, a refused IP literal, a name resolving to a
    refused address), else the browser's resource blocking when the crawl has it on. The address
    is pinned by the proxy Chromium connects through (:mod:`mdwatch.crawler.pinproxy`), which uses
    this check's resolution.
    """
    from .browser import abort_request

    try:
        refusal = await _browser_refusal(request.url)
        if refusal is not None:
            note_browser_refusal(refusal)
            return True
    except Exception:  # an unparsable URL: nothing to fetch
        return True
    block = _ACTIVE.get("browser_block", True)
    return bool(block) and abort_request(request)
