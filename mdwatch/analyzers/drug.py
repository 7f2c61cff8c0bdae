"""The drug pack: Rx/OTC marking, the Rx warning, Rx leaflet before review, banned promotions.

Source: 《云南省药品网络销售监督管理办法实施细则（试行）》 Art. 9, 16, 17 (shared/seeds/004_…).
Cues: ``lexicons/drug.yaml``; the Rx warning wording: ``lexicons/warnings.yaml``.
Shop and platform home pages (the seller's licence, Art. 15; no Rx on home pages, Art. 17) are
judged by ``drug_shop``; this module registers both and hands those pages on.
"""

from __future__ import annotations

import re
from functools import cache

from mdwatch.analyzers import drug_shop
from mdwatch.analyzers.catalogue import finding
from mdwatch.analyzers.domain import is_drug_listing
from mdwatch.analyzers.model import Context, Evidence, Finding, Page
from mdwatch.analyzers.normalize import fold, snippet
from mdwatch.analyzers.textmatch import Forms, LazySquash, compile_forms
from mdwatch.lexicons import load_yaml

RULES = (
    "DRUG_RX_NOT_DISTINGUISHED",
    "DRUG_RX_WARNING_MISSING",
    "DRUG_RX_INFO_BEFORE_REVIEW",
    "DRUG_PROMOTION_BANNED",
    *drug_shop.RULES,
)
KINDS = ("product", *drug_shop.KINDS)

_NUM = "一二两三四五六七八九十0-9"
_BUY_GIFT = re.compile(rf"买[{_NUM}]*[盒瓶件支袋份]?[^\n。；;]{{0,8}}?[送赠][{_NUM}]*[盒瓶件支袋份粒片]?")
_RX_ALONE = re.compile(r"(?<!非)处方药")


@cache
def _rx_forms() -> Forms:
    return compile_forms(load_yaml("warnings.yaml")["rx"]["accepted"])


def _is_rx(text: str, cues: dict[str, list[str]]) -> bool:
    if _RX_ALONE.search(text):
        return True
    return any(m in text for m in cues["rx_markers"] if m != "处方药")


def _is_otc(text: str, cues: dict[str, list[str]]) -> bool:
    return any(m in text for m in cues["otc_markers"])


def _leaflet_shown(page: Page, text: str, cues: dict[str, list[str]]) -> str | None:
    for key in cues["leaflet_fields"]:
        value = page.fields.get(key, "").strip()
        if value:
            return value
    for heading in cues["leaflet_headings"]:
        m = re.search(rf"[【\[]?{heading}[】\]：:]\s*(\S.{{3,}})", text)
        if m:
            return m.group(0)
    return None


def _own_text(page: Page) -> str:
    """The page's text without its link texts: a pharmacy's menu (非处方药 | 处方药) names categories,
    not the product on the page."""
    text = page.text
    for link in page.links:
        label = link.text.strip()
        if 2 <= len(label) <= 16:
            text = text.replace(label, " ")
    return fold(text)


def _rx_otc(page: Page, cues: dict[str, list[str]]) -> tuple[bool, bool]:
    """Whether the product is marked Rx, OTC: its classification field (处方类型：甲类非处方药) or
    its title when either is marked, else the page text outside links."""
    for own in (page.fields.get("drug_class", ""), _product_name(page)):
        declared = fold(own)
        if declared and (_is_rx(declared, cues) or _is_otc(declared, cues)):
            # the product's own marking (its classification field, else its title: 「OTC 甲类 布洛芬…」)
            otc = _is_otc(declared, cues)
            return (not otc and _is_rx(declared, cues)), otc
    text = _own_text(page)
    return _is_rx(text, cues), _is_otc(text, cues)


@cache
def _gift_drug_re() -> re.Pattern[str]:
    cues = load_yaml("drug.yaml")["gift_drugs"]
    forms = "|".join(re.escape(f) for f in cues["forms"])
    not_before = "".join(cues["not_drug_before_pian"])
    return re.compile(
        rf"(?:赠送|赠|送|加赠|附赠)[^，。；;！!\n]{{0,18}}?(?:{forms}|(?<![{not_before}0-9一二三四五六七八九十两几多])片(?![装剂]?[/每]))"
    )


def _drug_gift_on_other_listing(page: Page) -> list[Finding]:
    """买商品赠药品 (YUNNAN-DRUG 第九条): a device (or other) listing that gives a medicine away; a
    medicine marked 乙类 OTC near the gift is allowed."""
    if "赠" not in page.text and "送" not in page.text:
        return []
    text = fold(page.text)
    m = _gift_drug_re().search(text)
    if m is None:
        return []
    around = text[max(0, m.start() - 20) : m.end() + 20]
    if "乙类" in around:
        return []
    original = page.text
    return [
        finding(
            "DRUG_PROMOTION_BANNED",
            [Evidence("text", snippet(original, m.start(), m.end()), match=original[m.start() : m.end()],
                      page_url=page.url, detail={"promotion": "买商品赠药品"})],
        )
    ]


def _product_name(page: Page) -> str:
    """What names the product on the page: its title, its first heading, its drug-name field."""
    heading = next((b.text for b in page.blocks if b.tag == "h1"), "")
    return " ".join((page.title, heading, page.fields.get("drug_name", "")))


def _names_known_rx(page: Page, cues: dict[str, list[str]]) -> bool:
    """The product's name (title, drug name) names a medicine that is prescription-only by law."""
    name = fold(_product_name(page))
    return any(word in name for word in cues.get("prescription_only_names", ()))


def analyze(page: Page, ctx: Context) -> list[Finding]:
    if page.kind in drug_shop.KINDS:
        return drug_shop.analyze(page, ctx)
    if not is_drug_listing(page):
        return _drug_gift_on_other_listing(page) if ctx.enabled("DRUG_PROMOTION_BANNED") else []
    cues = load_yaml("drug.yaml")
    text = fold(page.text)
    rx, otc = _rx_otc(page, cues)
    out: list[Finding] = []
    if not rx and not otc:
        out.append(
            finding(
                "DRUG_RX_NOT_DISTINGUISHED",
                [Evidence("structure", "页面未标明处方药（Rx）或非处方药（OTC）。", page_url=page.url)],
            )
        )
        # an unmarked medicine that is prescription-only by law (antibiotics, 2004 onwards) is
        # still judged by the Rx rules
        rx = _names_known_rx(page, cues)
    if rx:
        warn = load_yaml("warnings.yaml")["rx"]
        if not LazySquash(text).has_any_form(_rx_forms()):
            out.append(
                finding(
                    "DRUG_RX_WARNING_MISSING",
                    [Evidence("structure", f"应展示：「{warn['text']}」", page_url=page.url)],
                )
            )
        shown = _leaflet_shown(page, text, cues)
        if shown:
            out.append(
                finding(
                    "DRUG_RX_INFO_BEFORE_REVIEW",
                    [Evidence("text", shown[:80], match=shown[:30], page_url=page.url)],
                )
            )
    class_a = any(m in text for m in cues["class_a_otc_markers"])
    promo = None
    if rx or class_a:
        m = _BUY_GIFT.search(text)
        if m:
            promo = (m.start(), m.end())
    if promo is None:
        for word in cues["blind_box_words"]:
            pos = text.find(word)
            if pos != -1:
                promo = (pos, pos + len(word))
                break
    if promo is not None:
        original = page.text
        out.append(
            finding(
                "DRUG_PROMOTION_BANNED",
                [Evidence("text", snippet(original, *promo), match=original[promo[0] : promo[1]], page_url=page.url)],
            )
        )
    return out
