"""Whose words: the seller's text of a page, without buyers' reviews and Q&A widgets.

Claim rules judge what the seller advertises. A marketplace detail page also shows what buyers
wrote (reviews with star ratings and masked names, 问大家 answers); those lines are left out of
the text the claim and scope rules read. Cues: ``lexicons/buyer_content.yaml``.
"""

from __future__ import annotations

import re
from bisect import bisect_right
from dataclasses import dataclass
from functools import cache
from typing import Any

from mdwatch.analyzers.model import Page
from mdwatch.lexicons import load_yaml

__all__ = ["is_buyer_line", "is_other_listing_or_navigation", "link_texts", "page_seller_text", "seller_text"]


@dataclass(frozen=True, slots=True)
class _Cues:
    heading_words: tuple[str, ...]
    seller_words: tuple[str, ...]
    comment_headings: tuple[str, ...]
    headings: re.Pattern[str]
    buyer: re.Pattern[str]
    qa: re.Pattern[str]
    qa_multiline: re.Pattern[str]
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
        heading_words=tuple(data["headings"]),
        seller_words=tuple(data["seller_replies"]),
        comment_headings=tuple(data["comment_headings"]),
        headings=_alternation(data["headings"], literal=True),
        buyer=_alternation(data["patterns"]),
        qa=_alternation(data["qa_patterns"]),
        qa_multiline=re.compile("|".join(f"(?:{p})" for p in data["qa_patterns"]), re.MULTILINE),
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
    if len(_PRICE.findall(line)) >= cues.min_prices or (len(stripped) <= 50 and _TILE.match(stripped)):
        return True
    if not any(c in line for c in "|｜›»>"):
        return False
    items = [x for x in _SEPARATORS.split(line) if x.strip()]
    if len(items) > cues.min_separators:
        return sum(len(x) for x in items) / len(items) <= cues.max_item_chars
    return False


def is_buyer_line(line: str, qa_widget: bool = False) -> bool:
    """``line`` is a buyer's review, a review/Q&A heading, or (on a page with a Q&A widget) a
    question or answer line; a seller's reply is never a buyer line."""
    cues = _cues()
    if any(w in line for w in cues.seller_words):
        return False
    if any(h in line for h in cues.heading_words):
        return True
    if any(c in line for c in _BUYER_MARKS) and cues.buyer.search(line):
        return True
    return qa_widget and cues.qa.search(line) is not None


# candidate lines, found by whole-text passes (one C-level scan each) before any per-line work
# characters of a price or a separator: only lines holding one can be other listings or navigation
_CANDIDATE_MARKS = ("¥", "￥", "$", "元", "MOP", "|", "｜", "›", "»", ">")
_COMMENT_LINE = re.compile(r"^\s*[^：:\s，。]{1,12}\s*[：:]")
_QA_WIDGETS = ("问大家", "大家都在问", "买家问答", "问与答")
_BUYER_MARKS = ("*", "★", "☆", "星", "匿名", "好评率")  # one of them in the text, or no buyer pattern can match


def _line_index(starts: list[int], pos: int) -> int:
    return bisect_right(starts, pos) - 1


def _lines_holding(text: str, starts: list[int], words: tuple[str, ...]) -> set[int]:
    """Indexes of the lines that hold one of ``words`` (literal searches in C)."""
    found: set[int] = set()
    for word in words:
        pos = text.find(word)
        while pos >= 0:
            found.add(_line_index(starts, pos))
            pos = text.find(word, pos + len(word))
    return found


def _lines_matching(text: str, starts: list[int], pattern: re.Pattern[str]) -> set[int]:
    return {_line_index(starts, m.start()) for m in pattern.finditer(text)}


def seller_text(text: str, link_texts: frozenset[str] = frozenset()) -> str:
    """``text`` (one block per line) with the lines the seller did not write about this listing
    blanked (buyers' reviews and answers, other listings' tiles, navigation); lines keep their places.
    ``link_texts``: the page's link texts (a line that is one of them is a menu item)."""
    cues = _cues()
    lines = text.split("\n")
    starts = [0]
    for line in lines[:-1]:
        starts.append(starts[-1] + len(line) + 1)
    # buyers' lines: headings, masked names and ratings, Q&A lines on a page with a Q&A widget
    buyers = _lines_holding(text, starts, cues.heading_words)
    if any(c in text for c in _BUYER_MARKS):
        buyers |= _lines_matching(text, starts, cues.buyer)
    if any(h in text for h in _QA_WIDGETS):
        buyers |= _lines_matching(text, starts, cues.qa_multiline)
    if buyers:
        buyers -= _lines_holding(text, starts, cues.seller_words)  # a seller's reply stays
    # other listings and navigation: lines with a price or a separator, lines that are a link's text
    others = {
        i for i in _lines_holding(text, starts, _CANDIDATE_MARKS)
        if is_other_listing_or_navigation(lines[i], link_texts)
    }
    if link_texts:
        others.update(
            i for i, line in enumerate(lines)
            if len(line) <= _MAX_MENU_ITEM + 2 and line.strip() in link_texts and len(line.strip()) <= _MAX_MENU_ITEM
        )
    menus = _lines_holding(text, starts, _MENU_HEADINGS)
    for i in sorted(_lines_holding(text, starts, cues.comment_headings)):
        # the "name：text" lines after a comments heading (豆豆妈：… / 用户_5521：…)
        for j in range(i + 1, len(lines)):
            if not _COMMENT_LINE.match(lines[j]) or any(w in lines[j] for w in cues.seller_words):
                break
            buyers.add(j)
    if not buyers and not others and not menus:
        return text
    out = list(lines)
    for i in buyers | others:
        out[i] = ""
    for i in sorted(menus):
        # a category list (商品分类 / 助听器 / 除湿保养 / …): the heading and the short lines after it
        if not _is_category_item(lines[i]):
            continue
        out[i] = ""
        for j in range(i + 1, len(lines)):
            if not _is_category_item(lines[j]):
                break
            out[j] = ""
    return "\n".join(out)


def _is_category_item(line: str) -> bool:
    stripped = line.strip()
    return 0 < len(stripped) <= _MAX_CATEGORY and not _SENTENCE.search(stripped)


def link_texts(page: Page) -> frozenset[str]:
    return frozenset(link.text.strip() for link in page.links if link.text.strip())


def page_seller_text(page: Page) -> str:
    """The seller's own text about this listing (see :func:`seller_text`), once per page."""
    cached = page._memo.get("seller_text")
    if cached is None:
        cached = page._memo["seller_text"] = seller_text(page.text, link_texts(page))
    return str(cached)
