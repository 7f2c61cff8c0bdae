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

__all__ = ["is_buyer_line", "seller_text"]


@dataclass(frozen=True, slots=True)
class _Cues:
    headings: re.Pattern[str]
    buyer: re.Pattern[str]
    qa: re.Pattern[str]
    seller: re.Pattern[str]


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
    )


def is_buyer_line(line: str, qa_widget: bool = False) -> bool:
    """``line`` is a buyer's review, a review/Q&A heading, or (on a page with a Q&A widget) a
    question or answer line; a seller's reply is never a buyer line."""
    cues = _cues()
    if cues.seller.search(line):
        return False
    if cues.headings.search(line) or cues.buyer.search(line):
        return True
    return qa_widget and cues.qa.search(line) is not None


def seller_text(text: str) -> str:
    """``text`` (one block per line) with buyers' lines blanked; lines keep their places."""
    cues = _cues()
    if not (cues.headings.search(text) or cues.buyer.search(text)):
        return text
    qa_widget = any(h in text for h in ("问大家", "大家都在问", "买家问答"))
    return "\n".join("" if is_buyer_line(line, qa_widget) else line for line in text.split("\n"))


def page_seller_text(page: Page) -> str:
    return seller_text(page.text)
