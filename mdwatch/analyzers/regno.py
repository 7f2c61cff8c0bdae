"""Registration / filing numbers on device listings and licence numbers on shops
(GSP-NET Art. 13): PRODUCT_REGNO_MISSING, PRODUCT_REGNO_NOT_TEXT, PRODUCT_REGNO_INVALID,
SHOP_LICENSE_NO_NOT_TEXT, SHOP_LICENSE_NO_INVALID.

When each fires: ``docs/rule-semantics.md``. Number formats: ``analyzers.numbers``. Numbers read
from images (``Page.image_texts``, OCR-confusion repaired by ``analyzers.certificates``) count as
shown, but GSP-NET 第十三条 wants them as text: a number only in an image fires the ``*_NOT_TEXT`` rule.
Malformed numbers are judged in page text only (an OCR misreading is not the seller's error).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from functools import lru_cache

from mdwatch.analyzers.catalogue import finding, rules
from mdwatch.analyzers.certificates import ImageNumber, image_numbers
from mdwatch.analyzers.domain import is_device_listing
from mdwatch.analyzers.model import Context, Evidence, Finding, ImageText, Page
from mdwatch.analyzers.normalize import snippet
from mdwatch.analyzers.numbers import NumberKind, NumberMatch, extract_numbers

RULES = (
    "PRODUCT_REGNO_MISSING",
    "PRODUCT_REGNO_NOT_TEXT",
    "PRODUCT_REGNO_INVALID",
    "SHOP_LICENSE_NO_NOT_TEXT",
    "SHOP_LICENSE_NO_INVALID",
)
KINDS = ("product", "shop")

REGISTRATION_KINDS: frozenset[NumberKind] = frozenset({"registration", "registration_legacy", "filing"})
SHOP_LICENSE_KINDS: frozenset[NumberKind] = frozenset(
    {"business_license", "business_filing", "production_license"}
)


def page_text(page: Page) -> str:
    """The text numbers are read from: the page, its related pages, then its field values."""
    return "\n".join([page.all_text(), *(v for v in page.fields.values() if v)])


@lru_cache(maxsize=256)
def numbers_in(text: str, year_now: int) -> tuple[NumberMatch, ...]:
    """``extract_numbers`` memoised: the pipeline and several analyzers ask about one page."""
    return tuple(extract_numbers(text, year_now=year_now))


# ``NumberMatch.parts`` keys marking a number read from an image (see ``page_numbers``)
OCR_SOURCE = "source"
OCR_IMAGE_URL = "image_url"


def page_numbers(page: Page, year_now: int) -> list[NumberMatch]:
    """Every number on ``page``: first those of ``page_text(page)`` (offsets index it), then those
    read from its images, marked ``parts["source"] == "ocr"`` and ``parts["image_url"]`` (offsets
    index that image's text; ``is_ocr_number``). Pages without image texts cost nothing extra."""
    key = ("page_numbers", year_now)
    cached = page._memo.get(key)
    if cached is not None:
        return list(cached)  # type: ignore[call-overload]  # computed once per page: several rules read them
    found = list(numbers_in(page_text(page), year_now))
    if page.image_texts:
        for n in image_numbers(page.image_texts, year_now):
            parts = {**n.number.parts, OCR_SOURCE: "ocr", OCR_IMAGE_URL: n.image.image_url}
            found.append(dataclasses.replace(n.number, parts=parts))
    page._memo[key] = tuple(found)
    return found


def is_ocr_number(n: NumberMatch) -> bool:
    """``n`` was read from an image (``page_numbers``)."""
    return n.parts.get(OCR_SOURCE) == "ocr"


def _page_url_at(page: Page, offset: int) -> str:
    """The URL of the page (this one or a related one) whose text holds ``offset``."""
    pos = len(page.text) + 1
    if offset < pos:
        return page.url
    for rel in page.related:
        pos += len(rel.text) + 1
        if offset < pos:
            return rel.url
    return page.url


def invalid_findings(rule_id: str, page: Page, text: str, numbers: Iterable[NumberMatch]) -> list[Finding]:
    """One finding per distinct invalid number, quoting it with ±30 characters of context."""
    base = rules()[rule_id].message.rstrip("。")
    out: list[Finding] = []
    seen: set[str] = set()
    for n in numbers:
        if n.valid or n.normalized in seen:
            continue
        seen.add(n.normalized)
        reasons = "；".join(n.problems)
        evidence = Evidence(
            source="text",
            snippet=snippet(text, n.start, n.end),
            match=n.raw,
            page_url=_page_url_at(page, n.start),
            detail={"problems": reasons},
        )
        out.append(finding(rule_id, [evidence], f"{base}：{n.raw.strip()}（{reasons}）。"))
    return out


def _only_in_images(rule_id: str, page: Page, shown: Iterable[ImageNumber], message: str) -> list[Finding]:
    """One finding quoting each distinct number read in an image (the line read, the image URL)."""
    evidence: list[Evidence] = []
    seen: set[str] = set()
    for n in shown:
        if n.number.normalized in seen:
            continue
        seen.add(n.number.normalized)
        evidence.append(n.evidence(page.url, {"number": n.number.normalized, "line": n.line}))
    if not evidence:
        return []
    listed = "、".join(seen_n for seen_n in dict.fromkeys(e.detail["number"] for e in evidence))
    return [finding(rule_id, evidence, f"{message.rstrip('。')}：{listed}。")]


def _described(page: Page) -> tuple[ImageText, ...]:
    """The page's images as their alt text and caption describe them."""
    return tuple(
        ImageText(img.src, f"{img.alt}\n{img.caption}".strip())
        for img in page.images
        if any(ch.isdigit() for ch in img.alt + img.caption)
    )


def analyze(page: Page, ctx: Context) -> list[Finding]:
    year_now = ctx.now.year
    text = page_text(page)
    numbers = numbers_in(text, year_now)
    images = image_numbers(page.image_texts, year_now) if page.image_texts else ()
    out: list[Finding] = []
    if page.kind == "product" and is_device_listing(page):
        regs = [n for n in numbers if n.kind in REGISTRATION_KINDS]
        in_images = [n for n in images if n.number.kind in REGISTRATION_KINDS]
        if not regs and not in_images:
            # an image whose alt text or caption gives the number (备案信息表（备案编号：…）) shows
            # it in the image, as OCR would read it: not as text, but not missing either
            in_images = [n for n in image_numbers(_described(page), year_now) if n.number.kind in REGISTRATION_KINDS]
        if not regs and in_images:
            # GSP-NET 第十三条: the number must be shown as text; an image alone fires NOT_TEXT (not MISSING)
            if ctx.enabled("PRODUCT_REGNO_NOT_TEXT"):
                message = rules()["PRODUCT_REGNO_NOT_TEXT"].message
                out.extend(_only_in_images("PRODUCT_REGNO_NOT_TEXT", page, in_images, message))
        elif not regs and ctx.enabled("PRODUCT_REGNO_MISSING"):
            note = Evidence(
                "structure", "商品页面文字及图片中均未找到医疗器械注册证编号或备案编号。", page_url=page.url
            )
            out.append(finding("PRODUCT_REGNO_MISSING", [note]))
        if ctx.enabled("PRODUCT_REGNO_INVALID"):
            out.extend(invalid_findings("PRODUCT_REGNO_INVALID", page, text, regs))
    if page.kind == "shop":
        licences = [n for n in numbers if n.kind in SHOP_LICENSE_KINDS]
        if images and ctx.enabled("SHOP_LICENSE_NO_NOT_TEXT"):
            # GSP-NET 第十三条: a licence / filing number of a kind the page text does not show
            text_kinds = {n.kind for n in licences}
            only = [
                n for n in images if n.number.kind in SHOP_LICENSE_KINDS and n.number.kind not in text_kinds
            ]
            message = rules()["SHOP_LICENSE_NO_NOT_TEXT"].message
            out.extend(_only_in_images("SHOP_LICENSE_NO_NOT_TEXT", page, only, message))
        if ctx.enabled("SHOP_LICENSE_NO_INVALID"):
            out.extend(invalid_findings("SHOP_LICENSE_NO_INVALID", page, text, licences))
    return out
