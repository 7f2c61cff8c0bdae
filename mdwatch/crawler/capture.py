"""Plain data of the fetch layer: what was captured, what went wrong, and how to fetch.

Everything here is immutable and picklable, so results can cross a process boundary
(the crawl runs in a child process, see :mod:`mdwatch.crawler.fetch`).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime

from .images import ImageCapture

__all__ = [
    "ERROR_KINDS",
    "Capture",
    "FetchError",
    "FetchResult",
    "FetchSettings",
    "FrozenHeaders",
    "ImageCapture",
]

#: Every value ``FetchError.kind`` can take.
ERROR_KINDS: tuple[str, ...] = (
    "http_status",
    "timeout",
    "dns",
    "connection",
    "too_large",
    "not_html",
    "redirect_loop",
    "refused",  # the fetch policy (crawler/netpolicy.py): another scheme, or an internal address
    "other",
)


class FrozenHeaders(Mapping[str, str]):
    """An immutable, hashable, picklable mapping of lower-case header names to values.

    Lookup is case-insensitive (``h["Content-Type"] == h["content-type"]``).
    Repeated headers are joined with ``", "``.
    """

    __slots__ = ("_items",)
    _items: tuple[tuple[str, str], ...]

    def __init__(self, items: Mapping[str, str] | Iterable[tuple[str, str]] = ()) -> None:
        pairs = items.items() if isinstance(items, Mapping) else items
        merged: dict[str, str] = {}
        for name, value in pairs:
            key = name.lower()
            merged[key] = f"{merged[key]}, {value}" if key in merged else value
        object.__setattr__(self, "_items", tuple(sorted(merged.items())))

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError("FrozenHeaders is immutable")

    def __getitem__(self, key: str) -> str:
        wanted = key.lower()
        for name, value in self._items:
            if name == wanted:
                return value
        raise KeyError(key)

    def __iter__(self) -> Iterator[str]:
        return (name for name, _ in self._items)

    def __len__(self) -> int:
        return len(self._items)

    def __hash__(self) -> int:
        return hash(self._items)

    def __eq__(self, other: object) -> bool:
        if isinstance(other, FrozenHeaders):
            return self._items == other._items
        if isinstance(other, Mapping):
            return dict(self._items) == {str(k).lower(): v for k, v in other.items()}
        return NotImplemented

    def __repr__(self) -> str:
        return f"FrozenHeaders({dict(self._items)!r})"

    def __reduce__(self) -> tuple[type[FrozenHeaders], tuple[tuple[tuple[str, str], ...]]]:
        return (FrozenHeaders, (self._items,))


@dataclass(frozen=True, slots=True)
class Capture:
    """Immutable evidence of one fetched page."""

    url: str  # requested URL
    final_url: str  # after redirects
    status: int
    headers: Mapping[str, str]  # response headers, lower-case names
    body: bytes
    sha256: str  # hex digest of body
    fetched_at: datetime  # UTC, tz-aware
    method: str = "http"  # "http" | "browser"
    encoding: str | None = None  # what Scrapy detected (headers, meta, BOM, sniffing)

    @classmethod
    def build(
        cls,
        *,
        url: str,
        final_url: str,
        status: int,
        headers: Mapping[str, str] | Iterable[tuple[str, str]],
        body: bytes,
        fetched_at: datetime | None = None,
        method: str = "http",
        encoding: str | None = None,
    ) -> Capture:
        """Build a capture, hashing the body and freezing the headers."""
        return cls(
            url=url,
            final_url=final_url,
            status=status,
            headers=FrozenHeaders(headers),
            body=body,
            sha256=hashlib.sha256(body).hexdigest(),
            fetched_at=fetched_at if fetched_at is not None else datetime.now(UTC),
            method=method,
            encoding=encoding,
        )


@dataclass(frozen=True, slots=True)
class FetchError:
    """Why a URL could not be captured."""

    url: str
    kind: str  # one of ERROR_KINDS
    message: str  # one Chinese sentence for stderr


@dataclass(frozen=True, slots=True)
class FetchResult:
    """The outcome for one requested URL: a capture or an error, never both."""

    url: str
    capture: Capture | None
    error: FetchError | None
    related: tuple[Capture, ...] = ()  # qualification pages one hop away
    images: tuple[ImageCapture, ...] = ()  # images of the page and its related pages (fetch_images)
    notices: tuple[str, ...] = ()  # one Chinese line per refused qualification page or image (fetch policy)

    @property
    def ok(self) -> bool:
        return self.capture is not None and self.error is None


@dataclass(frozen=True, slots=True)
class FetchSettings:
    """How to fetch. Defaults suit an on-demand scan."""

    timeout_s: float = 20.0
    max_bytes: int = 10 * 1024 * 1024
    max_redirects: int = 10
    follow_qualification: bool = True
    qualification_link_words: tuple[str, ...] = (
        "资质", "证照", "营业执照", "亮照", "许可证", "备案凭证",
        "資質", "證照", "營業執照", "許可證", "備案憑證",  # traditional-Chinese shops
    )
    user_agent: str = "mdwatch/0.1 (+compliance monitoring)"
    concurrency: int = 16
    obey_robots: bool = False
    retries: int = 1  # retries after a timeout, connection failure or 5xx; never for 4xx
    max_related: int = 3  # qualification links followed per page
    extra_scrapy_settings: tuple[tuple[str, object], ...] = field(default=())
    fetch_images: bool = False  # also download each page's <img> images (for OCR)
    max_images_per_page: int = 30  # per HTML page; further images are recorded as skipped
    max_image_bytes: int = 20 * 1024 * 1024  # a larger image is recorded as skipped
    # hosts that may be internal addresses when reached from a page (besides MDWATCH_ALLOW_HOSTS)
    allow_hosts: tuple[str, ...] = ()
    # URLs whose host and port may be any address. None: the URLs fetched (an address typed at
    # the terminal is the user's); a web form's URLs are not, so the console passes only its
    # allow-listed origins and every other target must resolve to a public address
    trusted_urls: tuple[str, ...] | None = None
