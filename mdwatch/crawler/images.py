"""Images of captured pages: what was downloaded, and how ``<img>`` URLs are found.

:class:`ImageCapture` is plain, immutable, picklable data (it crosses the crawl's process
boundary inside a :class:`~mdwatch.crawler.capture.FetchResult`). This module imports no Scrapy
at run time: :func:`image_urls` only calls the selector methods of the response it is given.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
from dataclasses import dataclass
from typing import TYPE_CHECKING
from urllib.parse import unquote_to_bytes, urldefrag, urlsplit

if TYPE_CHECKING:
    from scrapy.http import TextResponse

__all__ = [
    "LAZY_SRC_ATTRIBUTES",
    "ImageCapture",
    "decode_data_uri",
    "image_urls",
    "is_data_uri",
]

#: Attributes that hold an image's real URL on lazy-loading pages, tried before ``src``.
LAZY_SRC_ATTRIBUTES: tuple[str, ...] = (
    "data-src",
    "data-original",
    "data-lazy-src",
    "data-lazy",
    "lazy-src",
    "data-ks-lazyload",
    "original",
)


@dataclass(frozen=True, slots=True)
class ImageCapture:
    """One image of a page: its bytes, or why it was not downloaded (``error``, Chinese).

    ``status`` is the HTTP status (0 for a ``data:`` URI or when nothing was received);
    ``body`` is empty and ``sha256`` is ``""`` whenever ``error`` is set.
    ``error_kind`` says why in one word: ``too_large``, ``http_status``, ``limit``,
    ``bad_data_uri``, ``timeout``, ``connection``, ``other`` (``None`` when downloaded).
    """

    url: str
    status: int
    content_type: str
    body: bytes
    sha256: str
    error: str | None = None
    error_kind: str | None = None

    @property
    def ok(self) -> bool:
        return self.error is None

    @classmethod
    def downloaded(cls, url: str, status: int, content_type: str, body: bytes) -> ImageCapture:
        return cls(url, status, content_type, body, hashlib.sha256(body).hexdigest())

    @classmethod
    def skipped(cls, url: str, kind: str, message: str, status: int = 0, content_type: str = "") -> ImageCapture:
        return cls(url, status, content_type, b"", "", message, kind)


def is_data_uri(url: str) -> bool:
    return url[:5].lower() == "data:"


def decode_data_uri(uri: str) -> tuple[str, bytes]:
    """``(media type, bytes)`` of a ``data:`` URI; raises ``ValueError`` if it is malformed."""
    if not is_data_uri(uri) or "," not in uri:
        raise ValueError("not a data: URI")
    header, _, payload = uri[5:].partition(",")
    params = [p.strip() for p in header.split(";")]
    media_type = (params[0] or "text/plain").lower()
    if any(p.lower() == "base64" for p in params[1:]):
        cleaned = "".join(unquote_to_bytes(payload).decode("ascii", "replace").split())
        try:
            return media_type, base64.b64decode(cleaned + "=" * (-len(cleaned) % 4), validate=True)
        except (binascii.Error, ValueError) as exc:
            raise ValueError(f"bad base64 payload: {exc}") from exc
    return media_type, unquote_to_bytes(payload)


def _src_of(attrs: dict[str, str]) -> str:
    """The lazy-loading URL if any (ignoring ``data:`` placeholders), else ``src`` (``data:`` kept)."""
    for name in LAZY_SRC_ATTRIBUTES:
        value = (attrs.get(name) or "").strip()
        if value and not is_data_uri(value):
            return value
    return (attrs.get("src") or "").strip()


def image_urls(response: TextResponse, exclude: set[str] | None = None) -> list[str]:
    """Absolute URLs (or ``data:`` URIs) of the page's ``<img>`` elements, in page order, once each.

    URLs are joined the way the page extractor joins them, so they equal ``ImageRef.src``.
    Only ``http(s)`` and ``data:`` URLs are returned.
    """
    seen: set[str] = set(exclude or ())
    found: list[str] = []
    for img in response.css("img"):
        src = _src_of(dict(img.attrib))
        if not src:
            continue
        absolute = is_data_uri(src) or src.startswith(("http://", "https://"))
        url = src if absolute else response.urljoin(src)  # honours <base href>, like the extractor
        if not is_data_uri(url):
            url = urldefrag(url)[0]
            if urlsplit(url).scheme not in ("http", "https"):
                continue
        if url in seen:
            continue
        seen.add(url)
        found.append(url)
    return found
