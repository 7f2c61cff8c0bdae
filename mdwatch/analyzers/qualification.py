"""Seller qualification on the shop home page (with its qualification page, ``Page.related``).

SHOP_QUALIFICATION_MISSING (GSP-NET 第十一条): no image / link naming the 经营许可证, 经营备案凭证,
  生产许可证 or an e-certificate. Exempt (第十一条 last ¶): every product the shop lists is class I or
  filing-exempt class II.
SHOP_SCOPE_EXCEEDED (GSP-NET 第四十一条第（四）项、第四十二条): the shop lists class III products but shows
  no 经营许可证 number (a 经营备 filing only, or nothing).
SHOP_LICENSE_EXPIRED (GSP-NET 第四十一条; PLATFORM-QMS 2.1.1) / SHOP_LICENSE_EXPIRING (PLATFORM-QMS 2.1.1):
  a validity date attached to a 经营许可证 / 生产许可证 is before today / within the next 30 days.

When each fires: ``docs/rule-semantics.md`` ("Registry and qualification rules"). Cues:
``lexicons/qualification.yaml``; product words: ``lexicons/reference/lists.yaml``.

Images (issue 4): an image whose OCR text reads as a 经营许可证 / 经营备案凭证 / 生产许可证
(``certificates.read_certificate``) counts as the qualification display, its number counts as shown
(``regno.page_numbers``), and a licence image's 有效期限 is judged like a date in page text.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from functools import cache
from typing import Any
from urllib.parse import unquote

from mdwatch.analyzers.catalogue import finding, rules
from mdwatch.analyzers.certificates import (
    LICENCE_TYPES,
    Certificate,
    field_evidence,
    image_certificates,
    ocr_evidence,
)
from mdwatch.analyzers.model import Context, Evidence, Finding, ImageText, Link, Page
from mdwatch.analyzers.normalize import fold, snippet
from mdwatch.analyzers.reference import is_filing_exempt_class2
from mdwatch.analyzers.regno import page_numbers
from mdwatch.lexicons import load_yaml

RULES = (
    "SHOP_QUALIFICATION_MISSING",
    "SHOP_SCOPE_EXCEEDED",
    "SHOP_LICENSE_EXPIRED",
    "SHOP_LICENSE_EXPIRING",
)
KINDS = ("shop",)

CHINA_TZ = timezone(timedelta(hours=8))  # Asia/Shanghai (no DST since 1991)
_MAX_EVIDENCE = 10
_MIN_UNLABELLED_SPAN_DAYS = 365

# 2027-05-31, 2027/5/31, 2027.5.31, 2027年5月31日 (run on fold(text))
_DATE = r"(?:19|20)\d{2}\s*[-/.年]\s*\d{1,2}\s*[-/.月]\s*\d{1,2}\s*日?"
_DATE_PARTS = re.compile(r"((?:19|20)\d{2})\s*[-/.年]\s*(\d{1,2})\s*[-/.月]\s*(\d{1,2})")
_RANGE_SEP = r"\s*(?:至|到|~|～|—|－|-|–)\s*"
_ISSUED_THEN_END = re.compile(
    rf"\s*(?:换发|核发|发证|签发|颁发|起|开始)[^。；;\n]{{0,6}}?(?:至|到|~|～|—|－)\s*(?P<until>{_DATE})"
)
_TILE_PRICE = re.compile(r"[¥￥]\s*\d|\d(?:\.\d+)?\s*元(?!/)")
_MAX_TILE = 60  # longer blocks are prose, not a product tile


@dataclass(frozen=True, slots=True)
class _Cues:
    qual_words: tuple[str, ...]
    qual_file_words: tuple[str, ...]
    product_link: re.Pattern[str]
    drug_suffixes: tuple[str, ...]
    drug_words: tuple[str, ...]
    device_words: tuple[str, ...]
    class1: tuple[str, ...]
    class1_exclude: tuple[str, ...]
    class3: tuple[str, ...]
    class3_exclude: tuple[str, ...]
    licence_cues: tuple[str, ...]
    other_cues: tuple[str, ...]
    validity: re.Pattern[str]
    lookback: int
    expiring_days: int
    class1_only: re.Pattern[str]


@cache
def _cues() -> _Cues:
    spec: dict[str, Any] = load_yaml("qualification.yaml")
    lists: dict[str, Any] = load_yaml("reference/lists.yaml")
    validity = spec["licence_validity"]
    labels = "|".join(sorted((re.escape(w) for w in validity["labels"]), key=len, reverse=True))
    # a label then a date or a range (the end date counts); or an unlabelled range
    pattern = re.compile(
        rf"(?:(?:{labels})\s*[:：]?\s*(?P<start>{_DATE})(?:{_RANGE_SEP}(?P<end>{_DATE}))?)"
        rf"|(?P<rstart>{_DATE}){_RANGE_SEP}(?P<rend>{_DATE})"
    )
    return _Cues(
        qual_words=tuple(spec["shop_qualification"]["words"]),
        qual_file_words=tuple(spec["shop_qualification"]["image_file_words"]),
        product_link=re.compile("|".join(f"(?:{p})" for p in spec["product_link_patterns"]), re.I),
        drug_suffixes=tuple(spec["drug_name_suffixes"]),
        drug_words=tuple(spec["drug_name_words"]),
        device_words=tuple(spec["device_name_words"]),
        class1=tuple(lists["class1_product_words"]),
        class1_exclude=tuple(spec["product_class_exclude"]["class1"]),
        class3=tuple(lists["class3_product_words"]),
        class3_exclude=tuple(spec["product_class_exclude"]["class3"]),
        licence_cues=tuple(validity["licence_cues"]),
        other_cues=tuple(validity["other_cues"]),
        validity=pattern,
        lookback=int(validity["lookback"]),
        expiring_days=int(validity["expiring_days"]),
        class1_only=re.compile("|".join(f"(?:{p})" for p in spec["class1_only_statements"])),
    )


def today_in_china(now: datetime) -> date:
    """``now`` as a calendar date in Asia/Shanghai (a naive ``now`` is taken as already local)."""
    return now.astimezone(CHINA_TZ).date() if now.tzinfo is not None else now.date()


# --- what the shop lists ------------------------------------------------------------------------


def product_names(page: Page) -> list[str]:
    """Names of the products the shop lists: texts of links to product detail pages on the shop
    (and its related) pages, and the names in priced tiles that are not links
    (「冰泉 医用退热贴 儿童型 6贴 ¥18.5」, or a name block followed by a price block)."""
    cues = _cues()
    out: list[str] = []
    for link in page.all_links():
        name = link.text.strip()
        if not name or name in out:
            continue
        # a product detail link, or any short link naming a class I / class III product (a tile or
        # a category the shop sells: 「明视清透 月抛透明片 3片」 linked to a page without /item/)
        if cues.product_link.search(link.href) or (
            len(name) <= _MAX_TILE and (is_class3_name(name) or is_class1_name(name))
        ):
            out.append(name)
    previous = ""
    for block in page.blocks:
        text = block.text.strip()
        m = _TILE_PRICE.search(text)
        if m is not None and len(text) <= _MAX_TILE:
            name = text[: m.start()].strip(" ：:-|") or previous
            if name and not _TILE_PRICE.search(name) and name not in out:
                out.append(name)
        previous = text if len(text) <= _MAX_TILE else ""
    return out


def is_drug_name(name: str) -> bool:
    cues = _cues()
    text = fold(name)
    if any(w in text for w in cues.device_words):
        return False
    core = text.split()[0] if text.split() else text  # 「布洛芬缓释胶囊 0.3g*20粒」 → 布洛芬缓释胶囊
    return any(w in text for w in cues.drug_words) or core.endswith(cues.drug_suffixes)


def is_class3_name(name: str) -> bool:
    cues = _cues()
    text = fold(name)
    return any(w in text for w in cues.class3) and not any(x in text for x in cues.class3_exclude)


def is_class1_name(name: str) -> bool:
    cues = _cues()
    text = fold(name)
    return any(w in text for w in cues.class1) and not any(x in text for x in cues.class1_exclude)


def exempt_from_display(names: list[str]) -> bool:
    """GSP-NET 第十一条 last ¶: the shop sells only class I and filing-exempt class II devices.

    Needs at least one listed product; medicines are left aside (a shop listing only medicines
    sells no device that needs a device qualification)."""
    if not names:
        return False
    devices = [n for n in names if not is_drug_name(n)]
    return all(not is_class3_name(n) and (is_class1_name(n) or is_filing_exempt_class2(n)) for n in devices)


# --- qualification display ----------------------------------------------------------------------


def _names_qualification(text: str, words: tuple[str, ...]) -> bool:
    return any(w in text for w in words)


def shows_qualification(page: Page) -> bool:
    """An image (alt / caption / file name) or link text names the seller's licence / filing / e-certificate."""
    cues = _cues()
    words = cues.qual_words
    for img in page.all_images():
        if _names_qualification(img.alt, words) or _names_qualification(img.caption, words):
            return True
        name = unquote(img.src.rsplit("/", 1)[-1]).lower()
        if _names_qualification(name, words) or _names_qualification(name, cues.qual_file_words):
            return True
    if any(_names_qualification(link.text, words) for link in page.all_links()):
        return True
    return named_by_link_block(page, words)


def named_by_link_block(page: Page, words: tuple[str, ...]) -> bool:
    """A link whose own text is generic sits in a block that names the document:
    「第二类医疗器械经营备案凭证：京丰药监械经营备20210377号 [查看凭证]」, 「註冊證影本：點此查看」."""
    for p in (page, *page.related):
        texts = [link.text.strip() for link in p.links if link.text.strip()]
        if not texts:
            continue
        for block in p.blocks:
            if any(w in block.text for w in words) and any(t in block.text for t in texts):
                return True
    return False


def _product_link(page: Page, name: str) -> Link | None:
    return next((link for link in page.all_links() if link.text.strip() == name), None)


# --- licence validity ---------------------------------------------------------------------------


def _parse_date(text: str) -> date | None:
    m = _DATE_PARTS.search(text)
    if m is None:
        return None
    try:
        return date(int(m.group(1)), int(m.group(2)), int(m.group(3)))
    except ValueError:
        return None


def _licence_context(text: str, pos: int) -> bool:
    """The nearest cue before ``pos`` names a 经营许可证 / 生产许可证 (not a filing, 营业执照 …)."""
    cues = _cues()
    window = text[max(0, pos - cues.lookback) : pos]
    best_licence = max((window.rfind(c) + len(c) for c in cues.licence_cues if c in window), default=-1)
    best_other = max((window.rfind(c) + len(c) for c in cues.other_cues if c in window), default=-1)
    return best_licence >= 0 and best_licence >= best_other


@dataclass(frozen=True, slots=True)
class Validity:
    until: date
    start: int  # span of the date (or range) in the analysed text
    end: int
    raw: str


def licence_validity_dates(text: str) -> list[Validity]:
    """Validity end dates attached to a 经营许可证 / 生产许可证 in ``text``, one per distinct date."""
    cues = _cues()
    folded = fold(text)
    out: list[Validity] = []
    seen: set[date] = set()
    for m in cues.validity.finditer(folded):
        raw_end = m.group("end") or m.group("start") or m.group("rend")
        if m.group("start") and not m.group("end"):
            # 「有效期限：2026年01月05日换发，至2031年01月04日」: a date of issue, then the end
            later = _ISSUED_THEN_END.match(folded, m.end())
            if later is not None:
                raw_end = later.group("until")
        until = _parse_date(raw_end) if raw_end else None
        if until is not None and m.group("rstart"):
            # an unlabelled range counts only when it spans a licence term (licences run 5 years;
            # REGISTRY-NOTES §1.4), not a promotion period
            begin = _parse_date(m.group("rstart"))
            if begin is None or (until - begin).days < _MIN_UNLABELLED_SPAN_DAYS:
                continue
        if until is None or until in seen or not _licence_context(folded, m.start()):
            continue
        seen.add(until)
        out.append(Validity(until, m.start(), m.end(), text[m.start() : m.end()]))
    return out


# --- analyze ------------------------------------------------------------------------------------


def _shop_certs(page: Page, ctx: Context) -> list[tuple[ImageText, Certificate]]:
    """Images (of the shop and its qualification page) that read as a licence or filing."""
    if not page.image_texts:
        return []
    return [(i, c) for i, c in image_certificates(page.image_texts, ctx.now.year) if c.is_shop_qualification]


def _qualification_missing(
    page: Page, names: list[str], certs: list[tuple[ImageText, Certificate]]
) -> list[Finding]:
    # GSP-NET 第十一条: an image that reads as the licence / filing counts as its display
    if certs or shows_qualification(page) or exempt_from_display(names):
        return []
    if _cues().class1_only.search(page.all_text()) and not any(is_class3_name(n) for n in names):
        return []  # the shop states it sells class I devices only (第十一条 last ¶)
    note = (
        "店铺首页及资质页均未找到医疗器械经营许可证、第二类医疗器械经营备案凭证或生产许可证的图片"
        "（alt、说明、文件名或图片文字）或电子证书链接。"
    )
    return [finding("SHOP_QUALIFICATION_MISSING", [Evidence("structure", note, page_url=page.url)])]


def _scope_exceeded(
    page: Page, ctx: Context, names: list[str], certs: list[tuple[ImageText, Certificate]]
) -> list[Finding]:
    # GSP-NET 第四十一条第（四）项、第四十二条: class III products need a 经营许可证
    class3 = [n for n in names if is_class3_name(n) and not is_drug_name(n)]
    if not class3:
        return []
    kinds: set[str] = {n.kind for n in page_numbers(page, ctx.now.year)}
    kinds.update(c.doc_type for _, c in certs)  # a licence image whose number OCR misread still shows it
    if "business_license" in kinds:
        return []
    shown = "仅展示第二类医疗器械经营备案" if "business_filing" in kinds else "未展示医疗器械经营许可证编号"
    evidence = []
    for name in class3[:_MAX_EVIDENCE]:
        link = _product_link(page, name)
        evidence.append(
            Evidence(
                "structure",
                name,
                match=name,
                page_url=link.href if link is not None else page.url,
                detail={"product": name, "qualification": shown},
            )
        )
    base = rules()["SHOP_SCOPE_EXCEEDED"].message.rstrip("。")
    message = f"{base}：店铺销售第三类医疗器械（{'、'.join(class3[:_MAX_EVIDENCE])}），但{shown}。"
    return [finding("SHOP_SCOPE_EXCEEDED", evidence, message)]


def _cert_date_evidence(page: Page, image: ImageText, until: date, detail: dict[str, str]) -> Evidence:
    """The 有效期 line read in a licence image."""
    pos = image.text.find("有效期")
    if pos >= 0:
        end = image.text.find("\n", pos)
        end = end if end >= 0 else len(image.text)
        return ocr_evidence(image, pos, end, image.text[pos:end].strip(), page.url, detail)
    return field_evidence(image, until.isoformat(), page.url, detail)


def _licence_dates(page: Page, ctx: Context, certs: list[tuple[ImageText, Certificate]]) -> list[Finding]:
    # GSP-NET 第四十一条; PLATFORM-QMS 2.1.1 (expired / expiring within 30 days)
    want_expired = ctx.enabled("SHOP_LICENSE_EXPIRED")
    want_expiring = ctx.enabled("SHOP_LICENSE_EXPIRING")
    today = today_in_china(ctx.now)
    horizon = today + timedelta(days=_cues().expiring_days)
    out: list[Finding] = []
    seen: set[date] = set()
    for source in (page, *page.related):
        text = source.text
        if "有效" not in text and "至" not in text and "截止" not in text and "到期" not in text:
            continue
        for v in licence_validity_dates(text):
            seen.add(v.until)
            detail = {"valid_until": v.until.isoformat(), "today": today.isoformat()}
            ev = Evidence(
                "text", snippet(text, v.start, v.end), match=v.raw, page_url=source.url, detail=detail
            )
            if v.until < today and want_expired:
                message = (
                    f"店铺展示的经营许可证有效期至{v.until.isoformat()}，已届满（今日{today.isoformat()}）。"
                )
                out.append(finding("SHOP_LICENSE_EXPIRED", [ev], message))
            elif today <= v.until <= horizon and want_expiring:
                days = (v.until - today).days
                message = f"店铺经营许可证有效期至{v.until.isoformat()}，{days}日后到期。"
                out.append(finding("SHOP_LICENSE_EXPIRING", [ev], message))
    # licence images: the 有效期限 read from a 经营许可证 / 生产许可证 (经营备案 has no expiry)
    for image, cert in certs:
        until = cert.valid_until
        if cert.doc_type not in LICENCE_TYPES or until is None or until in seen:
            continue
        seen.add(until)
        detail = {"valid_until": until.isoformat(), "today": today.isoformat(), "document": cert.title}
        if cert.number:
            detail["number"] = cert.number
        ev = _cert_date_evidence(page, image, until, detail)
        if until < today and want_expired:
            message = f"店铺展示的{cert.title}图片显示有效期至{until.isoformat()}，已届满（今日{today.isoformat()}）。"
            out.append(finding("SHOP_LICENSE_EXPIRED", [ev], message))
        elif today <= until <= horizon and want_expiring:
            days = (until - today).days
            message = f"店铺{cert.title}图片显示有效期至{until.isoformat()}，{days}日后到期。"
            out.append(finding("SHOP_LICENSE_EXPIRING", [ev], message))
    return out


def analyze(page: Page, ctx: Context) -> list[Finding]:
    if page.kind != "shop":
        return []
    out: list[Finding] = []
    want_missing = ctx.enabled("SHOP_QUALIFICATION_MISSING")
    want_scope = ctx.enabled("SHOP_SCOPE_EXCEEDED")
    names = product_names(page) if want_missing or want_scope else []
    certs = _shop_certs(page, ctx)
    if want_missing:
        out.extend(_qualification_missing(page, names, certs))
    if want_scope:
        out.extend(_scope_exceeded(page, ctx, names, certs))
    if ctx.enabled("SHOP_LICENSE_EXPIRED") or ctx.enabled("SHOP_LICENSE_EXPIRING"):
        out.extend(_licence_dates(page, ctx, certs))
    return out
