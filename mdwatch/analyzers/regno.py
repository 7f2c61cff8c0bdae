"""Registration / filing numbers on device listings and licence numbers on shops
(GSP-NET Art. 13): PRODUCT_REGNO_MISSING, PRODUCT_REGNO_INVALID, SHOP_LICENSE_NO_INVALID.

When each fires: ``docs/rule-semantics.md``. Number formats: ``analyzers.numbers``.
"""

from __future__ import annotations

from collections.abc import Iterable
from functools import lru_cache

from mdwatch.analyzers.catalogue import finding, rules
from mdwatch.analyzers.domain import is_device_listing
from mdwatch.analyzers.model import Context, Evidence, Finding, Page
from mdwatch.analyzers.normalize import snippet
from mdwatch.analyzers.numbers import NumberKind, NumberMatch, extract_numbers

RULES = ("PRODUCT_REGNO_MISSING", "PRODUCT_REGNO_INVALID", "SHOP_LICENSE_NO_INVALID")
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


def page_numbers(page: Page, year_now: int) -> list[NumberMatch]:
    """Every number on ``page`` (offsets index ``page_text(page)``)."""
    return list(numbers_in(page_text(page), year_now))


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


def _shown_in_images(page: Page, year_now: int) -> bool:
    ocr = "\n".join(t.text for t in page.image_texts)
    return bool(ocr) and any(n.kind in REGISTRATION_KINDS for n in numbers_in(ocr, year_now))


def analyze(page: Page, ctx: Context) -> list[Finding]:
    year_now = ctx.now.year
    text = page_text(page)
    numbers = numbers_in(text, year_now)
    out: list[Finding] = []
    if page.kind == "product" and is_device_listing(page):
        regs = [n for n in numbers if n.kind in REGISTRATION_KINDS]
        if ctx.enabled("PRODUCT_REGNO_MISSING") and not regs and not _shown_in_images(page, year_now):
            note = Evidence("structure", "商品页面文字中未找到医疗器械注册证编号或备案编号。", page_url=page.url)
            out.append(finding("PRODUCT_REGNO_MISSING", [note]))
        if ctx.enabled("PRODUCT_REGNO_INVALID"):
            out.extend(invalid_findings("PRODUCT_REGNO_INVALID", page, text, regs))
    if page.kind == "shop" and ctx.enabled("SHOP_LICENSE_NO_INVALID"):
        licences = [n for n in numbers if n.kind in SHOP_LICENSE_KINDS]
        out.extend(invalid_findings("SHOP_LICENSE_NO_INVALID", page, text, licences))
    return out
