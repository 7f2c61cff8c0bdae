"""Is a URL fit to fetch? One Chinese clause saying why not (issue 10, item 7).

Checked before any crawl starts — on the command line (``scheduler/cli.py``), for every URL given
to :func:`~mdwatch.crawler.fetch.fetch_pages` and for every redirect target — so that a URL
Scrapy would drop or reject (longer than 2,083 characters once percent-encoded, a port out of
range, a space in the host) is reported as what it is rather than as a crashed crawl, and a URL
carrying credentials is refused. :func:`shown_url` is the URL fit for one line of output: the
user name and password are never shown.
"""

from __future__ import annotations

import ipaddress
import re
from urllib.parse import SplitResult, urlsplit

from w3lib.url import safe_url_string

__all__ = ["MAX_URL_LENGTH", "shown_url", "url_problem"]

#: Scrapy's URLLENGTH_LIMIT (and the historical browser limit): a longer URL is never requested.
MAX_URL_LENGTH = 2083

# a host name: letters (any script, for IDN), digits, '-', '_' and dots; nothing else
_HOST = re.compile(r"^[\w\-.]+$")


def shown_url(url: str, limit: int = 120) -> str:
    """``url`` for one line of output: credentials replaced by ``***@``, unprintables dropped, cut at ``limit``."""
    clean = "".join(ch if ch.isprintable() else " " for ch in url)
    scheme, sep, rest = clean.partition("://")
    if sep:
        end = min((i for i in (rest.find(c) for c in "/?#") if i >= 0), default=len(rest))
        netloc = rest[:end]
        if "@" in netloc:
            clean = f"{scheme}://***@{netloc.rsplit('@', 1)[1]}{rest[end:]}"
    return clean if len(clean) <= limit else clean[: limit - 1] + "…"


def _split(url: str) -> SplitResult | None:
    try:
        return urlsplit(url)
    except ValueError:  # e.g. an unbalanced '[' in the host
        return None


def url_problem(url: str) -> str | None:
    """Why ``url`` cannot be fetched (one Chinese clause, without the URL), or None if it can."""
    parts = _split(url.strip())
    if parts is None:
        return "网址格式无效"
    if parts.scheme.lower() not in ("http", "https"):
        return "不是有效的 http(s) 网址"
    if "@" in parts.netloc:
        return "网址中含有用户名或密码（“用户名:密码@”），mdwatch 不发送登录凭据，请去掉这一部分"
    host = parts.netloc
    if host.startswith("["):
        literal, bracket, rest = host[1:].partition("]")
        try:
            ipaddress.IPv6Address(literal)
        except ValueError:
            return "主机名无效（方括号中不是有效的 IPv6 地址）"
        if not bracket or (rest and not rest.startswith(":")):
            return "主机名无效"
    else:
        name = host.rsplit(":", 1)[0] if host.count(":") == 1 else host
        if not name:
            return "网址缺少主机名"
        if any(ch.isspace() for ch in name):
            return "主机名中含有空格"
        if not _HOST.match(name) or name.startswith(".") or ".." in name:
            return "主机名中含有不允许的字符"
    try:
        port = parts.port
    except ValueError:
        return "端口无效（须为 1 到 65535 之间的整数）"
    if port == 0:
        return "端口无效（须为 1 到 65535 之间的整数）"
    try:
        length = max(len(url), len(safe_url_string(url)))
    except (ValueError, UnicodeError):
        return "主机名无效（无法编码为国际化域名）"
    if length > MAX_URL_LENGTH:
        return f"网址过长（{length} 个字符，上限 {MAX_URL_LENGTH}）"
    return None
