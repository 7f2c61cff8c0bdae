"""Platform profiles: how a sweep finds shops, product listings and pagination on one platform.

A profile is YAML in ``mdwatch/crawler/profiles/`` (or any file): start URLs, link patterns
(regular expressions searched in absolute URLs), qualification link words, URL patterns of pages
that always need the browser, of listing and navigation pages (judged by no rule), the content
selector a rendered page is ready with, crawl-trap limits (``traps:``, crawler/traps.py) and
optional field selectors. ``docs/design/sweeps.md`` is the contract. ``{base}`` in a start URL is filled from ``base_url`` (``mdwatch sweep --base-url``).

Plain data and pure functions only: :meth:`Profile.role_of` and :meth:`Profile.links_of` are
what the sweep spider and ``mdwatch profile check`` use to classify a URL and the links of a page.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urldefrag, urljoin, urlsplit

import yaml

from .traps import TrapLimits

__all__ = [
    "PROFILE_DIR",
    "LinkSet",
    "Profile",
    "ProfileError",
    "Role",
    "available_profiles",
    "load_profile",
]

#: What a URL is to a sweep. "page" is an unclassified same-site page (generic profile), or a
#: listing / navigation page the profile declares.
Role = Literal["platform", "shop", "product", "pagination", "page"]
#: The page kind a profile hands to extraction (analyzers/model.py PAGE_KINDS).
KindHint = Literal["platform", "shop", "product", "listing", "navigation"]

PROFILE_DIR = "profiles"
_DEFAULT_QUALIFICATION_WORDS = (
    "资质", "证照", "营业执照", "亮照", "许可证", "备案凭证",
    "資質", "證照", "營業執照", "許可證", "備案憑證",  # traditional-Chinese shops
)
_SKIP_SCHEMES = ("javascript:", "mailto:", "tel:", "data:", "#")
_ASSET_SUFFIXES = (
    ".css", ".js", ".png", ".jpg", ".jpeg", ".gif", ".webp", ".svg", ".ico", ".pdf", ".zip",
    ".mp4", ".mp3", ".woff", ".woff2", ".ttf", ".xml", ".json", ".txt",
)


class ProfileError(ValueError):
    """A profile that cannot be found or is malformed (the message is one Chinese sentence)."""


def _compile(patterns: Iterable[str], key: str, name: str) -> tuple[re.Pattern[str], ...]:
    compiled: list[re.Pattern[str]] = []
    for pattern in patterns:
        try:
            compiled.append(re.compile(str(pattern)))
        except re.error as exc:
            raise ProfileError(f"配置 {name} 的 {key} 中的正则表达式无效：{pattern}（{exc}）。") from exc
    return tuple(compiled)


@dataclass(frozen=True, slots=True)
class LinkSet:
    """The links of one page as a profile sees them (absolute URLs, page order, no duplicates)."""

    shops: tuple[str, ...] = ()
    products: tuple[str, ...] = ()
    pagination: tuple[str, ...] = ()
    other: tuple[str, ...] = ()  # same-site pages followed by a profile with follow_all

    def all(self) -> tuple[str, ...]:
        return (*self.shops, *self.products, *self.pagination, *self.other)


@dataclass(frozen=True, slots=True)
class Profile:
    """One platform's crawl profile (see module docstring)."""

    name: str
    title: str = ""
    start_urls: tuple[str, ...] = ()
    allowed_domains: tuple[str, ...] = ()  # empty: the start URLs' hosts
    shop_links: tuple[re.Pattern[str], ...] = ()
    product_links: tuple[re.Pattern[str], ...] = ()
    pagination: tuple[re.Pattern[str], ...] = ()
    qualification_link_words: tuple[str, ...] = _DEFAULT_QUALIFICATION_WORDS
    browser: tuple[re.Pattern[str], ...] = ()  # URLs that always need the browser
    # listing indexes, category / search-result / filter pages; shop directories, calendars: judged by no rule
    listing_links: tuple[re.Pattern[str], ...] = ()
    navigation_links: tuple[re.Pattern[str], ...] = ()
    # CSS selector a page rendered in the browser shows once its content is in (crawler/browser.py);
    # empty: wait until the page settles
    content_selector: str = ""
    traps: TrapLimits = field(default_factory=TrapLimits)  # crawl-trap limits (crawler/traps.py)
    fields: Mapping[str, str] = field(default_factory=dict)  # CSS selectors per field
    follow_all: bool = False  # follow every same-site link (generic profile)
    classify: Literal["patterns", "heuristic"] = "patterns"  # how a page's kind is decided
    max_related: int = 3  # qualification pages followed per shop
    source: str = ""  # file the profile was read from
    # hosts that may be internal addresses when reached from a page (crawler/netpolicy.py)
    allow_hosts: tuple[str, ...] = ()
    # the sweep-level precision guard (scheduler/precision_guard.py): share, min_pages, rules
    precision_guard: Mapping[str, Any] = field(default_factory=dict)
    # OCR: distinct images read per listing at most (the rest recorded as unread); None: the
    # sweep's default (scheduler/pipeline/ocr_cap.py), 0: no cap
    ocr_max_images: int | None = None

    # ------------------------------------------------------------------ classification

    def hosts(self) -> frozenset[str]:
        """Hosts a sweep may fetch from."""
        return _hosts(self.allowed_domains, self.start_urls)

    def allows(self, url: str) -> bool:
        host = (urlsplit(url).hostname or "").lower()
        return any(host == h or host.endswith("." + h) for h in self.hosts())

    def role_of(self, url: str) -> Role | None:
        """The role of ``url`` by link patterns; None when no pattern matches."""
        if any(p.search(url) for p in self.product_links):
            return "product"
        if any(p.search(url) for p in self.shop_links):
            return "shop"
        if any(p.search(url) for p in self.pagination):
            return "pagination"
        if self.declared_kind(url) is not None:
            return "page"
        return None

    def declared_kind(self, url: str) -> Literal["listing", "navigation"] | None:
        """``listing`` / ``navigation`` when the profile declares ``url`` such a page."""
        if any(p.search(url) for p in self.listing_links):
            return "listing"
        if any(p.search(url) for p in self.navigation_links):
            return "navigation"
        return None

    def needs_browser(self, url: str) -> bool:
        """True if the profile marks ``url`` as always needing the browser."""
        return any(p.search(url) for p in self.browser)

    def links_of(self, page_url: str, hrefs: Iterable[str]) -> LinkSet:
        """Classify the ``<a href>`` values of the page at ``page_url``."""
        shops: dict[str, None] = {}
        products: dict[str, None] = {}
        pages: dict[str, None] = {}
        other: dict[str, None] = {}
        own = urldefrag(page_url)[0]
        for href in hrefs:
            url = absolute_link(page_url, href)
            if url is None or url == own or not self.allows(url):
                continue
            role = self.role_of(url)
            if role == "product":
                products.setdefault(url, None)
            elif role == "shop":
                shops.setdefault(url, None)
            elif role == "pagination":
                pages.setdefault(url, None)
            elif role == "page" or (self.follow_all and not urlsplit(url).path.lower().endswith(_ASSET_SUFFIXES)):
                other.setdefault(url, None)  # a declared listing / navigation page, or any page (follow_all)
        return LinkSet(tuple(shops), tuple(products), tuple(pages), tuple(other))

    def page_kind(self, role: Role, url: str | None = None) -> KindHint | None:
        """The page kind handed to extraction for a page of ``role`` at ``url`` (None: the heuristic decides).

        A URL the profile declares a listing or navigation page is one whatever the classification.
        """
        declared = self.declared_kind(url) if url is not None else None
        if declared is not None and role not in ("platform", "shop", "product"):
            return declared
        if self.classify == "heuristic":
            return None
        if role in ("platform", "shop", "product"):
            return role
        return None


@functools.lru_cache(maxsize=64)
def _hosts(allowed_domains: tuple[str, ...], start_urls: tuple[str, ...]) -> frozenset[str]:
    """Profile.hosts, worked out once per profile rather than for every link checked against it."""
    hosts = {d.lower().lstrip(".") for d in allowed_domains}
    if not hosts:
        hosts = {(urlsplit(u).hostname or "").lower() for u in start_urls}
    return frozenset(h for h in hosts if h)


def absolute_link(page_url: str, href: str) -> str | None:
    """The absolute http(s) URL of ``href`` without its fragment, or None for non-page links."""
    href = href.strip()
    if not href or href.lower().startswith(_SKIP_SCHEMES):
        return None
    quick = _plain_join(page_url, href)
    if quick is not None:
        return quick
    url = urldefrag(urljoin(page_url, href))[0]
    if urlsplit(url).scheme not in ("http", "https"):
        return None
    return url


# What urljoin and urldefrag would change in an href besides joining it: dot segments, characters
# urlsplit drops, an empty query, fragment or ``;params`` it leaves out
_NOT_PLAIN = re.compile(r"/\.|[\t\r\n\\;]|\?#|[?#]$")


def _plain_join(page_url: str, href: str) -> str | None:
    """``absolute_link`` of the two commonest hrefs, an absolute http(s) URL and a path from the
    site's root, without urllib's parsing: what urljoin would return for them, fragment dropped;
    None for any other href (urllib decides). Most links of a page are one of these two, and the
    crawl process resolves every link of every page it fetches."""
    if href.startswith(("http://", "https://")):
        same_scheme = href.startswith("https:" if page_url.startswith("https:") else "http:")
        rest = href[href.index("//") + 2 :]
        slash = rest.find("/")
        # urljoin returns another scheme's URL as it is; a bare host or an odd one, urllib decides
        if not same_scheme or slash <= 0 or any(c in rest[:slash] for c in "?#[]") or _NOT_PLAIN.search(href):
            return None
        return href.split("#", 1)[0]
    # a root path with "//" in it: urljoin merges the empty segments
    if href.startswith("/") and "//" not in href and not _NOT_PLAIN.search(href):
        if page_url.startswith("http://"):
            end = page_url.find("/", 7)
        elif page_url.startswith("https://"):
            end = page_url.find("/", 8)
        else:
            return None
        root = page_url if end < 0 else page_url[:end]
        if "?" in root or "#" in root:
            return None
        return root + href.split("#", 1)[0]
    return None


def _profiles_root() -> Any:
    return resources.files("mdwatch.crawler").joinpath(PROFILE_DIR)


def available_profiles() -> list[str]:
    """Names of the bundled profiles."""
    root = _profiles_root()
    return sorted(p.name[:-5] for p in root.iterdir() if p.name.endswith(".yaml"))


def _strings(raw: Mapping[str, Any], key: str, name: str) -> tuple[str, ...]:
    value = raw.get(key) or ()
    if isinstance(value, str):
        value = (value,)
    if not isinstance(value, Sequence):
        raise ProfileError(f"配置 {name} 的 {key} 应为字符串列表。")
    return tuple(str(v) for v in value)


def _check_selector(selector: str, name: str) -> None:
    from cssselect import GenericTranslator, SelectorError

    try:
        GenericTranslator().css_to_xpath(selector)
    except SelectorError as exc:
        raise ProfileError(f"配置 {name} 的 content_selector 不是有效的 CSS 选择器：{selector}（{exc}）。") from exc


def profile_from_mapping(raw: Mapping[str, Any], base_url: str | None = None, source: str = "") -> Profile:
    """A :class:`Profile` from parsed YAML; ``{base}`` in start URLs becomes ``base_url``."""
    name = str(raw.get("name") or Path(source).stem or "profile")
    starts = _strings(raw, "start_urls", name)
    if base_url is not None:
        base = base_url.rstrip("/")
        starts = tuple(s.replace("{base}", base) for s in starts)
    elif any("{base}" in s for s in starts):
        raise ProfileError(f"配置 {name} 的起始网址含 {{base}}，请用 --base-url 指定平台地址。")
    if not starts:
        raise ProfileError(f"配置 {name} 没有起始网址（start_urls），请用 --base-url 指定。")
    for s in starts:
        parts = urlsplit(s)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise ProfileError(f"配置 {name} 的起始网址无效：{s}")
    fields = raw.get("fields") or {}
    if not isinstance(fields, Mapping):
        raise ProfileError(f"配置 {name} 的 fields 应为“字段: CSS 选择器”映射。")
    classify = str(raw.get("classify") or "patterns")
    if classify not in ("patterns", "heuristic"):
        raise ProfileError(f"配置 {name} 的 classify 只能是 patterns 或 heuristic。")
    selector = str(raw.get("content_selector") or "").strip()
    if selector:
        _check_selector(selector, name)
    traps_raw = raw.get("traps") or {}
    if not isinstance(traps_raw, Mapping):
        raise ProfileError(f"配置 {name} 的 traps 应为映射（max_depth、max_per_pattern、max_dates 等）。")
    try:
        traps = TrapLimits.from_mapping(traps_raw, name)
    except ValueError as exc:
        raise ProfileError(str(exc)) from exc
    guard = raw.get("precision_guard") or {}
    if not isinstance(guard, Mapping):
        raise ProfileError(f"配置 {name} 的 precision_guard 应为映射（share、min_pages、rules）。")
    ocr_max_images = raw.get("ocr_max_images")
    if ocr_max_images is not None and (isinstance(ocr_max_images, bool) or not isinstance(ocr_max_images, int)
                                       or ocr_max_images < 0):
        raise ProfileError(f"配置 {name} 的 ocr_max_images 应为不小于 0 的整数（每个商品页最多识别的图片数，0 为不设上限）。")
    words = _strings(raw, "qualification_link_words", name) if "qualification_link_words" in raw else (
        _DEFAULT_QUALIFICATION_WORDS
    )
    return Profile(
        name=name,
        title=str(raw.get("title") or name),
        start_urls=starts,
        allowed_domains=_strings(raw, "allowed_domains", name),
        shop_links=_compile(_strings(raw, "shop_links", name), "shop_links", name),
        product_links=_compile(_strings(raw, "product_links", name), "product_links", name),
        pagination=_compile(_strings(raw, "pagination", name), "pagination", name),
        qualification_link_words=words,
        browser=_compile(_strings(raw, "browser", name), "browser", name),
        listing_links=_compile(_strings(raw, "listing_links", name), "listing_links", name),
        navigation_links=_compile(_strings(raw, "navigation_links", name), "navigation_links", name),
        content_selector=selector,
        traps=traps,
        fields={str(k): str(v) for k, v in fields.items()},
        follow_all=bool(raw.get("follow_all", False)),
        classify=classify,  # type: ignore[arg-type]
        max_related=int(raw.get("max_related", 3)),
        source=source,
        allow_hosts=_strings(raw, "allow_hosts", name),
        precision_guard=dict(guard),
        ocr_max_images=ocr_max_images,
    )


def load_profile(name_or_path: str, base_url: str | None = None) -> Profile:
    """A bundled profile by name (``demo``, ``generic``) or a YAML file by path."""
    path = Path(name_or_path)
    if path.suffix in (".yaml", ".yml") or path.is_file():
        if not path.is_file():
            raise ProfileError(f"找不到配置文件：{name_or_path}")
        text = path.read_text(encoding="utf-8")
        source = str(path)
    else:
        node = _profiles_root().joinpath(f"{name_or_path}.yaml")
        if not node.is_file():
            names = "、".join(available_profiles())
            raise ProfileError(f"没有名为 {name_or_path} 的平台配置（内置：{names}）。")
        text = node.read_text(encoding="utf-8")
        source = f"{PROFILE_DIR}/{name_or_path}.yaml"
    try:
        raw = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ProfileError(f"配置 {name_or_path} 不是有效的 YAML：{exc}") from exc
    if not isinstance(raw, Mapping):
        raise ProfileError(f"配置 {name_or_path} 应为 YAML 映射。")
    return profile_from_mapping(raw, base_url, source)
