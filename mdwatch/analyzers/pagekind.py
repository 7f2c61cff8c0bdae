"""Guess a page's kind (platform / shop / product) from the parsed page; cues in lexicons/page_kinds.yaml."""

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

    def best(self) -> PageKind:
        """Highest score; ties go to product, then shop, then platform."""
        scores: dict[PageKind, int] = {"product": self.product, "shop": self.shop, "platform": self.platform}
        order: tuple[PageKind, ...] = ("product", "shop", "platform")
        return max(order, key=lambda k: (scores[k], -order.index(k)))


@dataclass(frozen=True, slots=True)
class _Cues:
    raw: Mapping[str, Any]
    product_url: re.Pattern[str]
    shop_url: re.Pattern[str]
    platform_patterns: tuple[re.Pattern[str], ...]
    detail_items: tuple[re.Pattern[str], ...]  # one pattern per detail item written in sentences
    registration_number: re.Pattern[str] | None


@cache
def _cues() -> _Cues:
    raw: Mapping[str, Any] = load_yaml("page_kinds.yaml")
    product_url = re.compile("|".join(f"(?:{p})" for p in raw["product"]["url_patterns"]), re.I)
    shop_url = re.compile("|".join(f"(?:{p})" for p in raw["shop"]["url_patterns"]), re.I)
    platform_patterns = tuple(re.compile(p) for p in raw["platform"].get("patterns", ()))
    items: Mapping[str, Any] = load_yaml("detail_items.yaml")
    detail_items = tuple(re.compile("|".join(f"(?:{p})" for p in spec["text"])) for spec in items.values())
    reg = raw["product"].get("registration_number")
    return _Cues(raw, product_url, shop_url, platform_patterns, detail_items, re.compile(reg) if reg else None)


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
    if parts.path in {"", "/", "/index.html", "/index.htm", "/index.php"} and not parts.query:
        platform += int(lcfg["root_url_weight"])
        reasons.append("platform:root_url")
    return KindScores(product, shop, platform, tuple(reasons))


def detect_kind(page: Page) -> PageKind:
    """The most likely kind of ``page`` (its current ``kind`` is ignored)."""
    return kind_scores(page).best()
