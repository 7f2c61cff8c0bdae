"""Guess a page's kind from the parsed page; cues in lexicons/page_kinds.yaml.

platform / shop / product pages are judged by the rules; listing (category, search-result, filter
or paginated index) and navigation (shop directory, calendar) pages only lead to them. A listing
shares its grid of listings with a shop's home page, so listing and navigation are decided by
their controls (pagination, sort and filter links, result counts, date links) against a shop's or
a platform's identity, and only win where they have controls and beat every other kind.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from typing import Any
from urllib.parse import urlsplit

from mdwatch.analyzers.model import Page, PageKind
from mdwatch.lexicons import load_yaml

__all__ = ["KindScores", "detect_kind", "kind_scores"]

_MONEY = re.compile(r"[¥￥]\s*\d|\d\s*元(?![^\s]{0,2}[/每])")


@dataclass(frozen=True, slots=True)
class KindScores:
    product: int
    shop: int
    platform: int
    reasons: tuple[str, ...] = ()
    listing: int = 0  # 0 unless the page has controls_min of listing controls
    navigation: int = 0  # 0 unless the page has controls_min of navigation controls

    def best(self) -> PageKind:
        """Highest score; ties go to product, then shop, platform, listing, navigation."""
        scores: dict[PageKind, int] = {"product": self.product, "shop": self.shop, "platform": self.platform,
                                       "listing": self.listing, "navigation": self.navigation}
        order: tuple[PageKind, ...] = ("product", "shop", "platform", "listing", "navigation")
        return max(order, key=lambda k: (scores[k], -order.index(k)))


@dataclass(frozen=True, slots=True)
class _Cues:
    raw: Mapping[str, Any]
    product_url: re.Pattern[str]
    shop_url: re.Pattern[str]
    platform_patterns: tuple[re.Pattern[str], ...]
    detail_items: tuple[re.Pattern[str], ...]  # one pattern per detail item written in sentences
    registration_number: re.Pattern[str] | None
    pagination_url: re.Pattern[str]


@cache
def _cues() -> _Cues:
    raw: Mapping[str, Any] = load_yaml("page_kinds.yaml")
    product_url = re.compile("|".join(f"(?:{p})" for p in raw["product"]["url_patterns"]), re.I)
    shop_url = re.compile("|".join(f"(?:{p})" for p in raw["shop"]["url_patterns"]), re.I)
    platform_patterns = tuple(re.compile(p) for p in raw["platform"].get("patterns", ()))
    items: Mapping[str, Any] = load_yaml("detail_items.yaml")
    detail_items = tuple(re.compile("|".join(f"(?:{p})" for p in spec["text"])) for spec in items.values())
    reg = raw["product"].get("registration_number")
    pagination_url = re.compile(raw["listing"]["pagination_url"], re.I)
    return _Cues(raw, product_url, shop_url, platform_patterns, detail_items, re.compile(reg) if reg else None,
                 pagination_url)


# a date in a link: ?date=2026-12-06, /2026/12/07/, ?month=2026-12
_DATE_LINK = re.compile(r"(?<!\d)(?:19|20)\d{2}([-/_.])(?:0?[1-9]|1[0-2])(?:\1(?:0?[1-9]|[12]\d|3[01]))?(?!\d)")


def _capped_words(cfg: Mapping[str, Any], text: str, kind: str, reasons: list[str]) -> int:
    return min(_word_score(cfg, text, kind, reasons), int(cfg.get("words_cap", 10**9)))


def _same_path_queries(page: Page) -> set[str]:
    """Links to this page's own path with another query (sort and filter controls, page numbers)."""
    own = urlsplit(page.url)
    queries: set[str] = set()
    for link in page.links:
        parts = urlsplit(link.href)
        if parts.netloc == own.netloc and parts.path == own.path and parts.query and parts.query != own.query:
            queries.add(parts.query)
    return queries


def _pager_text(text: str, words: tuple[str, ...]) -> bool:
    """A pager's link: short, with a pagination word (下一页, 下一页 >, 【上一页】)."""
    text = text.strip()
    return len(text) <= 8 and any(w in text for w in words)


_CHROME = frozenset({"header", "nav", "footer", "menu", "aside"})  # the site's frame, the same on every page


def _list_controls(page: Page, cues: _Cues, reasons: list[str]) -> tuple[int, int]:
    """The listing and the navigation control scores of ``page`` (0: it has no list structure).

    Words alone never make a list page: a listing needs pagination or filter links, a navigation
    page pagination or date links; words (outside the site's header, menus and footer) add to them.
    """
    lcfg, ncfg = cues.raw["listing"], cues.raw["navigation"]
    text = "\n".join([page.title, *(b.text for b in page.blocks if b.tag not in _CHROME)])
    words = tuple(lcfg.get("pagination_words", ()))
    own = urlsplit(page.url)
    paged = any(_pager_text(link.text, words) for link in page.links) or any(
        cues.pagination_url.search(link.href) and urlsplit(link.href).path == own.path for link in page.links
    )
    listing = navigation = 0
    if paged:
        listing = navigation = int(lcfg["pagination_weight"])
        reasons.append("listing:pagination")
    queries = _same_path_queries(page)
    facets = {q for q in queries if not cues.pagination_url.search("?" + q)}
    if len(facets) >= int(lcfg["facet_links_min"]):
        listing += int(lcfg["facet_weight"])
        reasons.append(f"listing:facet_links={len(facets)}")
    dates = {m.group(0) for link in page.links if (m := _DATE_LINK.search(link.href.split("#", 1)[0]))}
    if len(dates) >= int(ncfg["date_links_min"]):
        navigation += int(ncfg["date_links_weight"])  # a calendar's date links are its controls
        reasons.append(f"navigation:date_links={len(dates)}")
    if listing:
        listing += _capped_words(lcfg, text, "listing", reasons)
    if navigation:
        navigation += _capped_words(ncfg, text, "navigation", reasons)
    return listing, navigation


def _word_score(cfg: Mapping[str, Any], text: str, kind: str, reasons: list[str]) -> int:
    total = 0
    for word, weight in cfg.get("words", {}).items():
        if word in text:
            total += int(weight)
            reasons.append(f"{kind}:{word}")
    return total


def _shop_key(href: str) -> str:
    """What tells two shop links apart: host plus the first two path segments."""
    parts = urlsplit(href)
    segs = [s for s in parts.path.split("/") if s][:2]
    return parts.netloc.lower() + "/" + "/".join(segs) + ("?" + parts.query if parts.query else "")


def kind_scores(page: Page) -> KindScores:
    """The score of each kind for ``page``, with the cues that fired (for debugging and tests)."""
    cues = _cues()
    raw = cues.raw
    reasons: list[str] = []
    link_text = " ".join(link.text for link in page.links)
    text = page.text + "\n" + link_text

    # product
    pcfg = raw["product"]
    product = _word_score(pcfg, text, "product", reasons)
    if page.price:
        product += int(pcfg["has_price"])
        reasons.append("product:price")
    nfields = sum(1 for k in pcfg["fields"] if page.fields.get(k))
    if nfields:
        product += min(nfields * int(pcfg["field_weight"]), int(pcfg["field_cap"]))
        reasons.append(f"product:fields={nfields}")
    if cues.product_url.search(page.url):
        product += int(pcfg["url_weight"])
        reasons.append("product:url")
    ndetail = sum(1 for k in pcfg.get("detail_fields", ()) if page.fields.get(k))
    if ndetail >= int(pcfg.get("detail_fields_min", 10**9)):
        product += int(pcfg["detail_fields_weight"])
        reasons.append(f"product:detail_fields={ndetail}")
    else:
        nitems = sum(1 for pattern in cues.detail_items if pattern.search(page.text))
        if nitems >= int(pcfg.get("detail_items_min", 10**9)):
            product += int(pcfg["detail_items_weight"])
            reasons.append(f"product:detail_items={nitems}")
    numbers = (
        {m.group(0) for m in cues.registration_number.finditer(page.text)} if cues.registration_number else set()
    )
    if 0 < len(numbers) < int(pcfg.get("registration_numbers_of_a_list", 3)):
        product += int(pcfg["registration_number_weight"])
        reasons.append("product:registration_number")

    # shop
    scfg = raw["shop"]
    shop_text = text
    for phrase in scfg.get("ignore_phrases", ()):
        shop_text = shop_text.replace(phrase, " ")
    shop = _word_score(scfg, shop_text, "shop", reasons)
    product_links = {link.href.split("#", 1)[0] for link in page.links if cues.product_url.search(link.href)}
    product_links.discard(page.url)
    if len(product_links) >= int(scfg["product_links_min"]):
        shop += int(scfg["product_links_weight"])
        reasons.append(f"shop:product_links={len(product_links)}")
    if cues.shop_url.search(page.url):
        shop += int(scfg["url_weight"])
        reasons.append("shop:url")
    if len(numbers) >= int(pcfg.get("registration_numbers_of_a_list", 3)):
        # a manufacturer's shop listing each product with its own registration number
        shop += int(scfg.get("registration_numbers_weight", 4))
        reasons.append(f"shop:registration_numbers={len(numbers)}")
    title = page.title.strip()
    if title and any(title.endswith(x) or f"{x} " in title for x in scfg.get("title_suffixes", ())):
        shop += int(scfg["title_weight"])
        reasons.append("shop:title")
    priced = sum(1 for b in page.blocks if _MONEY.search(b.text))
    if priced >= int(scfg.get("priced_blocks_min", 10**9)):
        shop += int(scfg["priced_blocks_weight"])
        reasons.append(f"shop:priced_blocks={priced}")

    # platform
    lcfg = raw["platform"]
    platform = _word_score(lcfg, text, "platform", reasons)
    for pattern in cues.platform_patterns:
        if pattern.search(text):
            platform += int(lcfg["pattern_weight"])
            reasons.append(f"platform:{pattern.pattern[:12]}")
    site_wide = platform  # the operator's footer: on every page of the site, not only its home page
    suffixes = tuple(lcfg["shop_link_text_suffixes"])
    shops = {
        _shop_key(link.href)
        for link in page.links
        if cues.shop_url.search(link.href) or (link.text and link.text.strip().endswith(suffixes))
    }
    shops.discard(_shop_key(page.url))
    if len(shops) >= int(lcfg["shop_links_min"]):
        platform += int(lcfg["shop_links_weight"])
        reasons.append(f"platform:shop_links={len(shops)}")
    parts = urlsplit(page.url)
    root = parts.path in {"", "/", "/index.html", "/index.htm", "/index.php"} and not parts.query
    if root:
        platform += int(lcfg["root_url_weight"])
        reasons.append("platform:root_url")

    # listing and navigation: controls first; without them a page stays what it was
    listing_controls, navigation_controls = _list_controls(page, cues, reasons)
    listing = navigation = 0
    icfg, ncfg = raw["listing"], raw["navigation"]
    if listing_controls >= int(icfg["controls_min"]) and not root:
        listing = listing_controls
        if len(product_links) >= int(icfg["product_links_min"]):
            listing += int(icfg["product_links_weight"])
        if priced >= int(icfg["priced_blocks_min"]):
            listing += int(icfg["priced_blocks_weight"])
        if len(shops) >= int(icfg["shop_links_min"]):
            listing += int(icfg["shop_links_weight"])
            reasons.append(f"listing:shop_links={len(shops)}")
    if navigation_controls >= int(ncfg["controls_min"]) and not root:
        navigation = navigation_controls
        if len(shops) >= int(ncfg["shop_links_min"]):
            navigation += int(ncfg["shop_links_weight"])
            reasons.append(f"navigation:shop_links={len(shops)}")
    if (listing or navigation) and site_wide:
        # a list page below the root: the footer it shares with the home page says nothing of its kind
        platform -= site_wide
        reasons.append("platform:site_wide_discounted")
    return KindScores(product, shop, platform, tuple(reasons), listing, navigation)


def detect_kind(page: Page) -> PageKind:
    """The most likely kind of ``page`` (its current ``kind`` is ignored)."""
    return kind_scores(page).best()
