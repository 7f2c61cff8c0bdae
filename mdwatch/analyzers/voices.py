"""Whose words: the seller's text of a page, without buyers' reviews and Q&A widgets.

Claim rules judge what the seller advertises. A marketplace detail page also shows what buyers
wrote (reviews with star ratings and masked names, 问大家 answers); those lines are left out of
the text the claim and scope rules read. Cues: ``lexicons/buyer_content.yaml``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache
from typing import Any

from mdwatch.analyzers.model import Page
from mdwatch.lexicons import load_yaml

__all__ = ["is_buyer_line", "is_other_listing_or_navigation", "link_texts", "page_seller_text", "seller_text"]


@dataclass(frozen=True, slots=True)
class _Cues:
    headings: re.Pattern[str]
    buyer: re.Pattern[str]
    qa: re.Pattern[str]
    seller: re.Pattern[str]
    min_prices: int
    min_separators: int
    max_item_chars: int


_PRICE = re.compile(r"(?:[¥￥$]|NT\$|HK\$|MOP)\s*\d|\d(?:\.\d+)?\s*元(?![/每])")
# a tile of another listing: a short line that ends with its price (小儿退热贴 ¥15)
_TILE = re.compile(r"^.{2,40}?(?:[¥￥$]|NT\$|HK\$)\s*\d[\d,]*(?:\.\d+)?\s*(?:起)?$")
_MAX_MENU_ITEM = 12  # a line that is one short link's text is a menu or category item
_MENU_HEADINGS = ("商品分类", "全部分类", "分类", "类目", "品类", "导航")
_MAX_CATEGORY = 8  # the items under such a heading: short lines without sentence punctuation
_SENTENCE = re.compile(r"[，。！？；,!?;：:]")
_SEPARATORS = re.compile(r"\s*[|｜›»>]\s*")


def _alternation(items: list[str], literal: bool = False) -> re.Pattern[str]:
    return re.compile("|".join(re.escape(x) if literal else f"(?:{x})" for x in items))


@cache
def _cues() -> _Cues:
    data: dict[str, Any] = load_yaml("buyer_content.yaml")
    return _Cues(
        headings=_alternation(data["headings"], literal=True),
        buyer=_alternation(data["patterns"]),
        qa=_alternation(data["qa_patterns"]),
        seller=_alternation(data["seller_replies"], literal=True),
        min_prices=int(data["other_listing_min_prices"]),
        min_separators=int(data["navigation_min_separators"]),
        max_item_chars=int(data["navigation_max_item_chars"]),
    )


def is_other_listing_or_navigation(line: str, link_texts: frozenset[str] = frozenset()) -> bool:
    """A line of other listings' tiles (several prices, or a name ending with its price) or of
    navigation (a menu, a breadcrumb, a line that is one short link's text)."""
    cues = _cues()
    stripped = line.strip()
    if stripped in link_texts and len(stripped) <= _MAX_MENU_ITEM:
        return True
    if len(_PRICE.findall(line)) >= cues.min_prices or _TILE.match(stripped):
        return True
    items = [x for x in _SEPARATORS.split(line) if x.strip()]
    if len(items) > cues.min_separators:
        return sum(len(x) for x in items) / len(items) <= cues.max_item_chars
    return False


def is_buyer_line(line: str, qa_widget: bool = False) -> bool:
    """``line`` is a buyer's review, a review/Q&A heading, or (on a page with a Q&A widget) a
    question or answer line; a seller's reply is never a buyer line."""
    cues = _cues()
    if cues.seller.search(line):
        return False
    if cues.headings.search(line) or cues.buyer.search(line):
        return True
    return qa_widget and cues.qa.search(line) is not None


def seller_text(text: str, link_texts: frozenset[str] = frozenset()) -> str:
    """``text`` (one block per line) with the lines the seller did not write about this listing
    blanked (buyers' reviews and answers, other listings' tiles, navigation); lines keep their places.
    ``link_texts``: the page's link texts (a line that is one of them is a menu item)."""
    qa_widget = any(h in text for h in ("问大家", "大家都在问", "买家问答", "问与答"))
    out: list[str] = []
    in_menu = False
    for line in text.split("\n"):
        stripped = line.strip()
        short = 0 < len(stripped) <= _MAX_CATEGORY and not _SENTENCE.search(stripped)
        if in_menu and short:
            out.append("")  # an item of a category list (商品分类: 助听器 / 除湿保养 / …)
            continue
        in_menu = short and any(h in stripped for h in _MENU_HEADINGS)
        foreign = is_buyer_line(line, qa_widget) or is_other_listing_or_navigation(line, link_texts)
        out.append("" if foreign or in_menu else line)
    return "\n".join(out)


def link_texts(page: Page) -> frozenset[str]:
    return frozenset(link.text.strip() for link in page.links if link.text.strip())


def page_seller_text(page: Page) -> str:
    """The seller's own text about this listing (see :func:`seller_text`)."""
    return seller_text(page.text, link_texts(page))
