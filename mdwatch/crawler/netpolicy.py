"""The fetch policy as pure functions: which schemes and which addresses a crawl may reach.

shared/DESIGN.md, "Fetch policy": only ``http`` and ``https`` are ever fetched, at every hop. An
address the user typed (a start URL: its host and port) is theirs to fetch, and so is every other
page on that same host and port; anything else reached *from* a page (a redirect, a qualification
link, an image, a sweep link) must resolve to a public address, unless its host is allow-listed
(``MDWATCH_ALLOW_HOSTS``, :attr:`~mdwatch.crawler.capture.FetchSettings.allow_hosts`, a profile's
``allow_hosts``).

No I/O here: :func:`check_address` judges an address already resolved, :func:`check_scheme` a
URL. The Scrapy side (the resolver that checks the address it hands to the connection, and the
downloader middleware) is :mod:`mdwatch.crawler.netguard`. Every refusal is a :class:`Refusal`
whose ``message`` is one Chinese sentence.
"""

from __future__ import annotations

import ipaddress
import os
from collections.abc import Iterable
from dataclasses import dataclass, field
from urllib.parse import urlsplit

__all__ = [
    "ALLOWED_SCHEMES",
    "ALLOW_HOSTS_ENV",
    "FetchPolicy",
    "Refusal",
    "address_class",
    "allow_hosts_from_env",
    "check_address",
    "check_scheme",
    "literal_ip",
    "origin_of",
]

ALLOWED_SCHEMES: frozenset[str] = frozenset({"http", "https"})
ALLOW_HOSTS_ENV = "MDWATCH_ALLOW_HOSTS"
_DEFAULT_PORTS = {"http": 80, "https": 443}

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

# (network, what it is) — checked in order; anything else that is not globally routable falls
# through to "保留或特殊用途地址".
_V4_RANGES: tuple[tuple[ipaddress.IPv4Network, str], ...] = tuple(
    (ipaddress.IPv4Network(net), label)
    for net, label in (
        ("127.0.0.0/8", "本机回环地址"),
        ("10.0.0.0/8", "内网地址"),
        ("172.16.0.0/12", "内网地址"),
        ("192.168.0.0/16", "内网地址"),
        ("169.254.0.0/16", "链路本地地址/云服务器元数据网段"),
        ("100.64.0.0/10", "运营商共享地址 CGNAT"),
        ("0.0.0.0/8", "“本网络”地址"),
        ("224.0.0.0/4", "组播地址"),
        ("255.255.255.255/32", "广播地址"),
        ("240.0.0.0/4", "保留地址"),
        ("192.0.0.0/24", "保留地址"),
        ("192.0.2.0/24", "文档示例地址"),
        ("198.51.100.0/24", "文档示例地址"),
        ("203.0.113.0/24", "文档示例地址"),
        ("198.18.0.0/15", "网络测试地址"),
    )
)
_V6_RANGES: tuple[tuple[ipaddress.IPv6Network, str], ...] = tuple(
    (ipaddress.IPv6Network(net), label)
    for net, label in (
        ("::1/128", "本机回环地址"),
        ("::/128", "未指定地址"),
        ("fc00::/7", "IPv6 内网地址 ULA"),
        ("fe80::/10", "链路本地地址"),
        ("fec0::/10", "IPv6 站点本地地址"),
        ("ff00::/8", "组播地址"),
        ("2001:db8::/32", "文档示例地址"),
        ("100::/64", "丢弃地址"),
    )
)
# IPv6 prefixes that carry an IPv4 address in their last 32 bits (or, for 6to4, bits 16–48)
_V4_MAPPED = ipaddress.IPv6Network("::ffff:0:0/96")
_V4_COMPATIBLE = ipaddress.IPv6Network("::/96")
_NAT64 = ipaddress.IPv6Network("64:ff9b::/96")
_NAT64_LOCAL = ipaddress.IPv6Network("64:ff9b:1::/48")
_SIX_TO_FOUR = ipaddress.IPv6Network("2002::/16")


def _embedded_v4(ip: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 address stands for (mapped, compatible, NAT64, 6to4, Teredo)."""
    if ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    if ip in _V4_COMPATIBLE and int(ip) > 1:  # ::a.b.c.d (deprecated); ::1 and :: are not IPv4
        return ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
    if ip in _NAT64 or ip in _NAT64_LOCAL:
        return ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
    if ip.sixtofour is not None:
        return ip.sixtofour
    if ip.teredo is not None:
        return ip.teredo[1]  # the client's address (the server's is public by construction)
    return None


def address_class(ip: IPAddress) -> tuple[str, str] | None:
    """``(network, what it is)`` if ``ip`` is not a public address; None if it is public.

    IPv6 addresses that embed an IPv4 address (``::ffff:10.0.0.1``, NAT64, 6to4, Teredo) are
    judged by the IPv4 address as well.
    """
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.scope_id:  # fe80::1%eth0
            ip = ipaddress.IPv6Address(str(ip).split("%", 1)[0])
        for net6, label in _V6_RANGES:
            if ip in net6:
                return str(net6), label
        inner = _embedded_v4(ip)
        if inner is not None:
            found = address_class(inner)
            if found is not None:
                return found
        if not ip.is_global:
            return str(ip), "保留或特殊用途地址"
        return None
    for net4, label in _V4_RANGES:
        if ip in net4:
            return str(net4), label
    if not ip.is_global:
        return str(ip), "保留或特殊用途地址"
    return None


def _norm_host(host: str) -> str:
    return host.strip().strip("[]").rstrip(".").lower()


def origin_of(url: str) -> tuple[str, int] | None:
    """``(host, port)`` of an http(s) URL (default port filled in), or None."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return None
    scheme = parts.scheme.lower()
    if scheme not in ALLOWED_SCHEMES or not parts.hostname:
        return None
    return _norm_host(parts.hostname), port if port is not None else _DEFAULT_PORTS[scheme]


def allow_hosts_from_env(environ: dict[str, str] | None = None) -> tuple[str, ...]:
    """Hosts listed in ``MDWATCH_ALLOW_HOSTS`` (comma or space separated)."""
    raw = (os.environ if environ is None else environ).get(ALLOW_HOSTS_ENV, "")
    return tuple(h for h in (_norm_host(p) for p in raw.replace(",", " ").split()) if h)


@dataclass(frozen=True, slots=True)
class Refusal:
    """Why a URL may not be fetched; ``message`` is the one Chinese line shown to the user."""

    url: str
    reason: str  # "scheme" | "address"
    message: str


@dataclass(frozen=True, slots=True)
class FetchPolicy:
    """What a crawl may reach: the typed origins (host, port) and the allow-listed hosts.

    An allow-listed host matches itself and its subdomains (``corp.example`` allows
    ``a.corp.example``); an IP address may be listed as it is written in URLs.
    """

    typed: frozenset[tuple[str, int]] = frozenset()
    allow_hosts: frozenset[str] = field(default_factory=frozenset)

    @classmethod
    def build(cls, typed_urls: Iterable[str] = (), allow_hosts: Iterable[str] = ()) -> FetchPolicy:
        typed = {o for o in (origin_of(u) for u in typed_urls) if o is not None}
        allowed = {_norm_host(h) for h in allow_hosts if _norm_host(h)}
        return cls(frozenset(typed), frozenset(allowed))

    def is_typed(self, host: str, port: int) -> bool:
        return (_norm_host(host), port) in self.typed

    def is_allowed(self, host: str) -> bool:
        name = _norm_host(host)
        return any(name == h or name.endswith("." + h) for h in self.allow_hosts)

    def trusts(self, host: str, port: int) -> bool:
        """True if any address is fine for ``host:port`` (typed by the user, or allow-listed)."""
        return self.is_typed(host, port) or self.is_allowed(host)


def check_scheme(url: str, source: str | None = None) -> Refusal | None:
    """A refusal unless ``url`` is an http or https URL with a host."""
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    where = f"（来自 {source} 的跳转或链接）" if source else ""
    if scheme not in ALLOWED_SCHEMES:
        shown = f"使用 {scheme}: 协议" if scheme else "没有协议"
        return Refusal(url, "scheme", f"已拒绝：{_short(url)} {shown}{where}，mdwatch 只抓取 http 和 https 网址。")
    if not parts.hostname:
        return Refusal(url, "scheme", f"已拒绝：{_short(url)} 没有主机名{where}，不是有效的 http(s) 网址。")
    return None


def check_address(
    ip: IPAddress | str, host: str, port: int, policy: FetchPolicy, url: str | None = None
) -> Refusal | None:
    """A refusal if connecting to ``ip`` for ``host:port`` breaks ``policy``; None if allowed.

    The typed origins and the allow-listed hosts may be reached at any address; any other host
    only at a public one (see :func:`address_class`).
    """
    address = ipaddress.ip_address(ip) if isinstance(ip, str) else ip
    if policy.trusts(host, port):
        return None
    found = address_class(address)
    if found is None:
        return None
    net, label = found
    shown = _short(url) if url else _display_host(host, port)
    inner = _embedded_v4(address) if isinstance(address, ipaddress.IPv6Address) else None
    at = "" if _norm_host(host) == str(address) and inner is None else f"{address}，"
    if inner is not None:
        at = f"{address} 即 {inner}，"
    return Refusal(
        url or shown,
        "address",
        f"已拒绝：{shown} 指向{label}（{at}{net}），来自页面的链接/跳转只能指向公网地址；"
        f"如需允许请在 {ALLOW_HOSTS_ENV} 中加入该主机 {_norm_host(host)}。",
    )


def literal_ip(host: str) -> IPAddress | None:
    """The address if ``host`` is an IP literal (``10.0.0.1``, ``[::1]``), else None."""
    try:
        return ipaddress.ip_address(_norm_host(host))
    except ValueError:
        return None


def _display_host(host: str, port: int) -> str:
    name = _norm_host(host)
    return f"[{name}]:{port}" if ":" in name else f"{name}:{port}"


def _short(url: str, limit: int = 200) -> str:
    """A URL fit for one line: credentials hidden, control characters dropped, long ones cut."""
    clean = "".join(ch for ch in url if ch.isprintable())
    scheme, sep, rest = clean.partition("://")
    if sep:
        netloc, slash, path = rest.partition("/")
        if "@" in netloc:
            clean = f"{scheme}://***@{netloc.rsplit('@', 1)[1]}{slash}{path}"
    return clean if len(clean) <= limit else clean[: limit - 1] + "…"
