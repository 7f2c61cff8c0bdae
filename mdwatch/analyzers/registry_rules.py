"""Device listings against the registration database and the product-certificate display.

PRODUCT_UNREGISTERED (GSP-NET 第四十一条第（二）项、第四十二条): a well-formed registration / filing number
  on the page was looked up and is not in the loaded registry.
PRODUCT_REG_INVALID_STATUS (GSP-NET 第四十二条、第四十六条): the record is cancelled / revoked / expired or
  its ``valid_until`` has passed; without a registry too, a pre-2014 legacy number (all expired,
  REGISTRY-NOTES §1.2).
PRODUCT_INFO_MISMATCH (GSP-NET 第十三条第二款): product name, registrant, manufacturer or model shown on
  the page differs from the record (tolerant comparison, see ``same_product_name`` / ``model_matches``).
PRODUCT_CERT_MISSING (GSP-NET 第十二条第（一）项): no image / link naming the registration certificate or
  class I filing form, and no image whose OCR text reads as one (``certificates.read_certificate``).
PRODUCT_RETAIL_BANNED (HAINAN (7)): implantable / interventional high-risk device offered to individuals
  (``reference.retail_banned_reason``).

When each fires: ``docs/rule-semantics.md`` ("Registry and qualification rules"). Registry rules skip
when ``ctx.registry`` is None or not loaded.

Images (issue 4): numbers read from images (``regno.page_numbers`` marks them) are looked up like page
numbers, with OCR evidence; a certificate image's 有效期至 that has passed fires
PRODUCT_REG_INVALID_STATUS; its product name and registrant are compared with the page's fields and
with the registry record (PRODUCT_INFO_MISMATCH).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Sequence
from datetime import date, datetime, timedelta, timezone
from difflib import SequenceMatcher
from functools import cache
from typing import Any
from urllib.parse import unquote

from mdwatch.analyzers.catalogue import finding, rules
from mdwatch.analyzers.certificates import Certificate, field_evidence, image_certificates, ocr_evidence
from mdwatch.analyzers.domain import is_device_listing, is_retail_listing
from mdwatch.analyzers.evasion import simplify
from mdwatch.analyzers.model import (
    Context,
    Evidence,
    Finding,
    ImageText,
    Page,
    Registration,
    RegistrySnapshot,
)
from mdwatch.analyzers.normalize import fold, snippet
from mdwatch.analyzers.numbers import NumberMatch
from mdwatch.analyzers.qualification import named_by_link_block
from mdwatch.analyzers.reference import retail_banned_reason
from mdwatch.analyzers.regno import (
    OCR_IMAGE_URL,
    REGISTRATION_KINDS,
    is_ocr_number,
    page_numbers,
    page_text,
)
from mdwatch.analyzers.specs import join_notation, range_outside, range_within, spec_matches
from mdwatch.analyzers.textmatch import squash
from mdwatch.lexicons import load_yaml

RULES = (
    "PRODUCT_UNREGISTERED",
    "PRODUCT_REG_INVALID_STATUS",
    "PRODUCT_INFO_MISMATCH",
    "PRODUCT_CERT_MISSING",
    "PRODUCT_RETAIL_BANNED",
)
KINDS = ("product",)

CHINA_TZ = timezone(timedelta(hours=8))  # Asia/Shanghai (no DST since 1991)
PARTIAL_NOTE = "（非全量注册数据库，结果仅供参考）"
OCR_NOTE = "（编号识别自图片，可能存在识别误差）"
_OCR_SIMILAR = 0.85  # a value read by OCR still names the same thing at this similarity

_BAD_STATUS: dict[str, str] = {
    "cancelled": "已注销",
    "canceled": "已注销",
    "revoked": "已撤销",
    "expired": "已过期",
    "注销": "已注销",
    "已注销": "已注销",
    "撤销": "已撤销",
    "已撤销": "已撤销",
    "过期": "已过期",
    "已过期": "已过期",
    "失效": "已失效",
    "已失效": "已失效",
}
_FIELD_LABELS = {
    "product_name": "产品名称",
    "registrant": "注册人",
    "manufacturer": "生产企业",
    "model_spec": "型号规格",
}
_MODEL_SPLIT = re.compile(r"[、,，;；/|\s：:]+")
_MODEL_CODE = re.compile(r"(?=[A-Za-z0-9_.-]*[0-9])[A-Za-z][A-Za-z0-9]*(?:[-_.][A-Za-z0-9]+)*", re.ASCII)
_UNIT_END = re.compile(r"\d(?:\.\d+)?(?:mm|cm|ml|mL|m|g|kg|D|d)$")
_PRICE = re.compile(r"[¥￥]\s*\d[\d,]*(?:\.\d+)?|\d[\d,]*(?:\.\d+)?\s*元")
_PACK_QUANTITY = re.compile(r"(?:每盒|每袋)?\d+(?:片|只|贴|支|个|条|袋|包|粒|人份|份|盒|卷|副|对|枚|张|块|次)(?:/(?:盒|袋|包|瓶|箱|套)|装)?")


def _alnum(ch: str) -> bool:
    return ch.isascii() and ch.isalnum()


def today_in_china(now: datetime) -> date:
    """``now`` as a calendar date in Asia/Shanghai (a naive ``now`` is taken as already local)."""
    return now.astimezone(CHINA_TZ).date() if now.tzinfo is not None else now.date()


@cache
def _cues() -> dict[str, Any]:
    data: dict[str, Any] = load_yaml("qualification.yaml")
    return data


# --- tolerant comparison ------------------------------------------------------------------------


def norm_value(text: str) -> str:
    """NFKC, full-width folded, simplified characters, spaces and punctuation dropped, Latin lower-cased."""
    return squash(unicodedata.normalize("NFKC", simplify(fold(text)))).lower()


def _strip_prefixes(value: str, prefixes: Iterable[str]) -> str:
    for prefix in sorted({norm_value(p) for p in prefixes if p.strip()}, key=len, reverse=True):
        if prefix and value.startswith(prefix) and len(value) > len(prefix):
            return value[len(prefix) :]
    return value


def same_product_name(shown: str, registered: str, brands: Sequence[str] = ()) -> bool:
    """The page's product name names the registered product.

    Equal after ``norm_value``; or equal once a brand prefix is stripped; or the page name ends with
    the registered name (brand or adjective in front: 「康瑞 电子血压计」 vs 「电子血压计」).
    「电子血压计」 vs 「电子体温计」 differ.
    """
    a, b = norm_value(shown), norm_value(registered)
    if not a or not b:
        return True  # nothing to compare
    if a == b or _strip_prefixes(a, brands) == b:
        return True
    if len(b) >= 2 and a.endswith(b):
        return True
    # a listing title around the registered name (「鱼跃 电子血压计 YE660D 上臂式」 names 「电子血压计」);
    # a shortened name (「血压计」 for 「电子血压计」) is not the registered one
    return len(b) >= 3 and b in a


_COMPANY_PARENS = re.compile(r"[(（][^)）]*[)）]")
_COMPANY_INNER = re.compile(r"[(（]([^)）]{3,})[)）]")
_COMPANY_FORM = re.compile(r"(?:股份有限公司|有限责任公司|有限公司|股份公司|公司|株式会社)$")
_COMPANY_NAME = re.compile(r"[^\s(（]{2,40}?(?:股份有限公司|有限责任公司|有限公司|株式会社|公司|集团|厂|研究所|中心)")
# a 生产企业 value that names no other company (无（注册人自行生产）, 同注册人): the registrant itself
_SAME_AS_REGISTRANT = re.compile(r"^(?:无|同上|同注册人|同注册人/备案人)|自行生产|同注册人")


def _company_core(name: str) -> str:
    """A company name without its legal form (有限公司 / 有限责任公司 / 股份有限公司 name one firm)."""
    return _COMPANY_FORM.sub("", name) or name


_BRACKETED_REGION = re.compile(r"[(（]([^)）]{2,8})[)）]")
_LEGAL_FORM_WORDS = re.compile(r"公司|厂|集团|研究所|研究院|中心|医院|株式会社|gmbh|ltd|inc|co\.|corp|llc|s\.?a\.?|ag\b", re.I)


def _abbreviation_of(shown: str, registered: str) -> bool:
    """「恒康医疗（北京）」 for 「北京恒康医疗器械有限公司」: a short form without a legal form, naming the
    trade name and industry word the registered name starts with (after the same region, when the
    short form names one in brackets)."""
    folded = fold(shown)
    if _LEGAL_FORM_WORDS.search(folded):
        return False  # a full name: compared as one (a different firm must not pass as its short form)
    regions = [norm_value(r) for r in _BRACKETED_REGION.findall(folded)]
    head = norm_value(_COMPANY_PARENS.sub("", folded))
    if len(head) < 4 or len(regions) > 1:
        return False
    rest = _company_core(norm_value(_COMPANY_PARENS.sub("", fold(registered))))
    if regions:
        region = regions[0]
        inner = [norm_value(r) for r in _BRACKETED_REGION.findall(fold(registered))]
        if rest.startswith(region):
            rest = rest[len(region):]
        elif region not in inner:
            return False
    return rest.startswith(head)


def same_company(shown: str, registered: Iterable[str]) -> bool:
    """Company names equal after ``norm_value`` (brackets of either width, spaces, traditional forms),
    or equal once one side's parenthesised part such as 「（深圳）」 is dropped (the other has none)."""
    a = _company_core(norm_value(shown))
    a2 = _company_core(norm_value(_COMPANY_PARENS.sub("", fold(shown))))
    shown_parens = bool(_COMPANY_PARENS.search(fold(shown)))
    # a foreign registrant named in Chinese with its own name in brackets and its country after:
    # 「赫尔沃克医疗技术有限公司（Hörwerk Medizintechnik GmbH），德国」
    alternatives = {_company_core(norm_value(inner)) for inner in _COMPANY_INNER.findall(fold(shown))}
    alternatives.add(_company_core(norm_value(re.split(r"[,，;；]", fold(shown))[0])))
    named = _COMPANY_NAME.match(fold(shown))  # 「香港康宝医疗器械有限公司 Hong Kong Kangbo …」: the Chinese name
    if named is not None:
        alternatives.add(_company_core(norm_value(named.group(0))))
    for reg in registered:
        if not reg.strip():
            continue
        core = _company_core(norm_value(reg))
        if a == core or core in alternatives:
            return True
        if _abbreviation_of(shown, reg):
            return True
        # 康瑞医疗 vs 康瑞（无锡）医疗: one side omits the region; both naming one, they must agree
        if shown_parens != bool(_COMPANY_PARENS.search(fold(reg))) and a2 == _company_core(norm_value(
            _COMPANY_PARENS.sub("", fold(reg))
        )):
            return True
    return False


def _contains_model(page: str, m: str) -> bool:
    """``m`` occurs in ``page`` (both ``norm_value``d) on alphanumeric boundaries."""
    pos = page.find(m)
    while pos != -1:
        end = pos + len(m)
        glued_before = pos > 0 and _alnum(page[pos - 1]) and _alnum(m[0])
        glued_after = end < len(page) and _alnum(page[end]) and _alnum(m[-1])
        if not (glued_before or glued_after):
            return True
        pos = page.find(m, pos + 1)
    return False


def _names_registered_model(shown: str, registered: list[str]) -> bool:
    page = norm_value(shown)
    segments = {norm_value(s) for s in _MODEL_SPLIT.split(fold(shown)) if s}
    for entry in registered:
        for model in {entry, *_MODEL_SPLIT.split(fold(entry))}:
            m = norm_value(model)
            if m and (m == page or m in segments or _contains_model(page, m)):
                return True
            # a model code inside a registered entry with its description: SY-C20 in 「SY-C20（耳内式）」
            if m and _MODEL_CODE.fullmatch(shown.strip()) and _contains_model(m, page):
                return True
    # a member of a registered list, series, run or range, or the same size in another notation
    return spec_matches(shown, registered)


def model_matches(shown: str, registered: Iterable[str]) -> bool:
    """The page's model/spec names the registered models.

    Tolerant of spacing, case and punctuation: 「kr w5」 = 「KR-W5」; 「KR-W5 腕式」 contains 「KR-W5」;
    「KR-W55」 does not contain 「KR-W5」. When the page lists several models or sizes (a SKU list:
    「LY-B1 标准款 / LY-B2 降噪款」), each one with a figure in it must be registered: one shared
    word (笔型, 盒) does not make 「笔型 10人份/盒」 a registered 「笔型 1人份/盒」. Prices in a SKU list
    (RD-F1 ¥49.00) are left out.
    """
    entries = [e for e in registered if e.strip()]
    if range_outside(shown, entries):
        return False  # a range offered beyond the registered one (-0.50D～-10.00D vs -0.50D～-8.00D)
    if range_within(shown, entries):
        return True
    text = join_notation(_PRICE.sub(" ", fold(shown)))
    # model codes (letters then a figure: LY-B1, RD-F2); sizes, quantities and ranges describe
    segments = (_COMPANY_PARENS.sub("", seg).strip() for seg in _MODEL_SPLIT.split(_COMPANY_PARENS.sub(" ", text)))
    # a parameter with its unit (BC8.7mm, DIA14.0mm) is a value, not a model code
    codes = [seg for seg in segments if _MODEL_CODE.fullmatch(seg) and not _UNIT_END.search(seg)]
    # 「LS-A10/A12/A16」: the later codes leave out the series prefix of the first
    for i in range(1, len(codes)):
        prefix = codes[i - 1].rsplit("-", 1)[0] + "-" if "-" in codes[i - 1] else ""
        if prefix and "-" not in codes[i] and len(codes[i]) < len(codes[i - 1]):
            codes[i] = prefix + codes[i]
    if len(codes) <= 1:
        return _names_registered_model(text, entries) or (bool(codes) and _names_registered_model(codes[0], entries))
    return all(_names_registered_model(code, entries) for code in codes)


# --- page numbers and records -------------------------------------------------------------------


def _registration_numbers(page: Page, ctx: Context) -> list[NumberMatch]:
    """Registration / filing numbers on the page, one per normalised number, in page order."""
    seen: set[str] = set()
    out: list[NumberMatch] = []
    for n in page_numbers(page, ctx.now.year):
        if n.kind in REGISTRATION_KINDS and n.normalized not in seen:
            seen.add(n.normalized)
            out.append(n)
    return out


def _registry(ctx: Context) -> RegistrySnapshot | None:
    reg = ctx.registry
    return reg if reg is not None and reg.loaded else None


def _records(numbers: Sequence[NumberMatch], registry: RegistrySnapshot | None) -> list[Registration]:
    if registry is None:
        return []
    out: list[Registration] = []
    for n in numbers:
        rec = registry.records.get(n.normalized)
        if rec is not None and rec not in out:
            out.append(rec)
    return out


def page_records(page: Page, ctx: Context) -> list[Registration]:
    """The registry records of the registration / filing numbers on ``page`` (none without a registry)."""
    return _records(_registration_numbers(page, ctx), _registry(ctx))


def _evidence(text: str, n: NumberMatch, page: Page, detail: dict[str, str]) -> Evidence:
    """Evidence for a number: quoting page text, or (read from an image) the line read."""
    if is_ocr_number(n):
        url = n.parts.get(OCR_IMAGE_URL, "")
        image = next((i for i in page.image_texts if i.image_url == url), ImageText(url, n.raw))
        return ocr_evidence(
            image, n.start, n.end, image.text[n.start : n.end].strip() or n.raw.strip(), page.url, detail
        )
    return Evidence(
        "text", snippet(text, n.start, n.end), match=n.raw.strip(), page_url=page.url, detail=detail
    )


def _product_certs(page: Page, ctx: Context) -> list[tuple[ImageText, Certificate]]:
    """Images that read as a registration certificate / class I filing."""
    if not page.image_texts:
        return []
    return [(i, c) for i, c in image_certificates(page.image_texts, ctx.now.year) if c.is_product_certificate]


def _ocr_same(shown: str, read: str) -> bool:
    """Equal after ``norm_value``, or as close as one misread character allows."""
    a, b = norm_value(shown), norm_value(read)
    return not a or not b or a == b or SequenceMatcher(None, a, b).ratio() >= _OCR_SIMILAR


# --- the rules ----------------------------------------------------------------------------------


def _unregistered(
    page: Page, text: str, numbers: Sequence[NumberMatch], registry: RegistrySnapshot
) -> list[Finding]:
    # GSP-NET 第四十一条第（二）项、第四十二条: selling unregistered devices
    out: list[Finding] = []
    note = "" if registry.complete else PARTIAL_NOTE
    for n in numbers:
        if not n.valid or n.normalized not in registry.looked_up or n.normalized in registry.records:
            continue
        detail = {
            "number": n.normalized,
            "registry": registry.description,
            "complete": str(registry.complete),
        }
        message = (
            f"注册证/备案编号{n.normalized}在所查询的注册数据库（{registry.description}）中未找到，"
            f"疑似伪造或未注册。{note}{OCR_NOTE if is_ocr_number(n) else ''}"
        )
        out.append(finding("PRODUCT_UNREGISTERED", [_evidence(text, n, page, detail)], message))
    return out


def _status_problems(rec: Registration, today: date) -> list[str]:
    problems: list[str] = []
    if rec.source != "udid":  # UDID records carry no status (REGISTRY-NOTES §2.1)
        label = _BAD_STATUS.get(rec.status.strip().lower())
        if label:
            problems.append(f"注册数据库记录状态为{label}")
    if rec.valid_until is not None and rec.valid_until < today:
        problems.append(f"有效期至{rec.valid_until.isoformat()}，已过期")
    return problems


def _invalid_status(
    page: Page,
    text: str,
    numbers: Sequence[NumberMatch],
    registry: RegistrySnapshot | None,
    today: date,
    certs: Sequence[tuple[ImageText, Certificate]] = (),
) -> list[Finding]:
    # GSP-NET 第四十二条、第四十六条; legacy numbers: REGISTRY-NOTES §1.2 (all expired);
    # a certificate image whose 有效期至 has passed (issue 4)
    out: list[Finding] = []
    base = rules()["PRODUCT_REG_INVALID_STATUS"].message.rstrip("。")
    expired = [(img, c) for img, c in certs if c.valid_until is not None and c.valid_until < today]
    used: set[int] = set()
    for n in numbers:
        problems: list[str] = []
        evidence: list[Evidence] = []
        rec = registry.records.get(n.normalized) if registry is not None else None
        if rec is not None:
            problems.extend(_status_problems(rec, today))
        if n.kind == "registration_legacy":
            problems.append("2014年10月前的旧格式注册证编号，此类注册证均已过期失效")
        for i, (img, cert) in enumerate(expired):
            if cert.number == n.normalized and i not in used:
                used.add(i)
                problems.append(_cert_expired_problem(cert))
                evidence.append(_cert_date_evidence(page, img, cert))
        if not problems:
            continue
        detail = {"number": n.normalized, "problems": "；".join(problems)}
        if rec is not None:
            detail["status"] = rec.status
            if rec.valid_until is not None:
                detail["valid_until"] = rec.valid_until.isoformat()
        message = f"{base}：{n.normalized}（{'；'.join(problems)}）。"
        evidence.insert(0, _evidence(text, n, page, detail))
        out.append(finding("PRODUCT_REG_INVALID_STATUS", evidence, message))
    for i, (img, cert) in enumerate(expired):
        if i in used:
            continue
        shown = cert.number or "注册证图片"
        message = f"{base}：{shown}（{_cert_expired_problem(cert)}）。"
        out.append(finding("PRODUCT_REG_INVALID_STATUS", [_cert_date_evidence(page, img, cert)], message))
    return out


def _cert_expired_problem(cert: Certificate) -> str:
    until = cert.valid_until.isoformat() if cert.valid_until is not None else ""
    return f"注册证图片显示有效期至{until}，已过期"


def _cert_date_evidence(page: Page, image: ImageText, cert: Certificate) -> Evidence:
    until = cert.valid_until.isoformat() if cert.valid_until is not None else ""
    detail = {"valid_until": until, "number": cert.number or "", "document": cert.title}
    pos = image.text.find("有效期")
    if pos >= 0:
        end = image.text.find("\n", pos)
        end = end if end >= 0 else len(image.text)
        return ocr_evidence(image, pos, end, image.text[pos:end].strip(), page.url, detail)
    return field_evidence(image, until, page.url, detail)


def _shown_evidence(page: Page, text: str, label: str, shown: str, registered: str) -> Evidence:
    pos = text.find(shown)
    snip = snippet(text, pos, pos + len(shown)) if pos >= 0 else shown
    return Evidence(
        "text",
        snip,
        match=shown,
        page_url=page.url,
        detail={"field": label, "shown": shown, "registered": registered},
    )


def _lists_quantities(models: Sequence[str]) -> bool:
    """The registered specifications count something (10片/盒, 1人份/盒)."""
    return any(_PACK_QUANTITY.search(fold(m).replace(" ", "")) for m in models)


def _info_mismatch(
    page: Page,
    text: str,
    records: Sequence[Registration],
    certs: Sequence[tuple[ImageText, Certificate]] = (),
) -> list[Finding]:
    # GSP-NET 第十三条第二款: name, registrant, manufacturer, model/spec as registered.
    # A field mismatches when it matches none of the page's records; only fields shown are compared.
    evidence: list[Evidence] = []
    brand = page.fields.get("brand", "")
    name = page.fields.get("product_name", "").strip()
    regs = [r for r in records if r.product_name.strip()]
    if (
        name
        and regs
        and not any(same_product_name(name, r.product_name, (*r.brand_names, brand)) for r in regs)
    ):
        evidence.append(_shown_evidence(page, text, "产品名称", name, regs[0].product_name))
    for key in ("registrant", "manufacturer"):
        shown = page.fields.get(key, "").strip()
        if key == "manufacturer" and _SAME_AS_REGISTRANT.search(shown):
            continue
        companies = [c for r in records for c in (r.registrant, r.manufacturer) if c.strip()]
        if shown and companies and not same_company(shown, companies):
            own = next((getattr(r, key) for r in records if getattr(r, key).strip()), companies[0])
            evidence.append(_shown_evidence(page, text, _FIELD_LABELS[key], shown, own))
    model = page.fields.get("model_spec", "").strip()
    models = [m for r in records for m in r.model_specs if m.strip()]
    # a pack quantity (10片/盒, 4贴装) says how many, not which model: compared only with a
    # registration that lists quantities itself (an IVD kit's 1人份/盒、3人份/盒)
    if not model and models:
        model = page.fields.get("package_spec", "").strip() if _lists_quantities(models) else ""
    comparable = bool(model) and (not _PACK_QUANTITY.fullmatch(fold(model).replace(" ", "")) or _lists_quantities(models))
    if comparable and models and not model_matches(model, models):
        evidence.append(_shown_evidence(page, text, "型号规格", model, "、".join(models)))
    evidence.extend(_cert_mismatches(page, text, records, certs, brand))
    if not evidence:
        return []
    listed = "；".join(
        f"{e.detail['field']}「{e.detail['shown']}」≠ {e.detail.get('against', '注册信息')}「{e.detail['registered']}」"
        for e in evidence
    )
    number = records[0].number if records else next((c.number for _, c in certs if c.number), "证书图片")
    message = f"页面展示的产品信息与注册/备案信息（{number}）不一致：{listed}。"
    return [finding("PRODUCT_INFO_MISMATCH", evidence, message)]


def _cert_mismatches(
    page: Page,
    text: str,
    records: Sequence[Registration],
    certs: Sequence[tuple[ImageText, Certificate]],
    brand: str,
) -> list[Evidence]:
    """Certificate images against the registry record of their number (a certificate that does not
    say what was registered) and against the page's own fields (a certificate of another product)."""
    out: list[Evidence] = []
    by_number = {r.number: r for r in records}
    for image, cert in certs:
        rec = by_number.get(cert.number or "")
        if rec is None:
            continue
        read_name = cert.fields.get("product_name", "")
        if (
            read_name
            and rec.product_name.strip()
            and not _ocr_same(read_name, rec.product_name)
            and not same_product_name(read_name, rec.product_name, rec.brand_names)
        ):
            detail = {"field": "证书图片产品名称", "shown": read_name, "registered": rec.product_name}
            out.append(field_evidence(image, read_name, page.url, detail))
        read_reg = cert.fields.get("registrant", "")
        companies = [c for c in (rec.registrant, rec.manufacturer) if c.strip()]
        if (
            read_reg
            and companies
            and not same_company(read_reg, companies)
            and not any(_ocr_same(read_reg, c) for c in companies)
        ):
            detail = {"field": "证书图片注册人/备案人", "shown": read_reg, "registered": companies[0]}
            out.append(field_evidence(image, read_reg, page.url, detail))
    # the page's product name / registrant against what its certificate images read
    names = [(i, c.fields["product_name"]) for i, c in certs if c.fields.get("product_name")]
    name = page.fields.get("product_name", "").strip()
    if (
        name
        and names
        and not any(same_product_name(name, read, (brand,)) or _ocr_same(name, read) for _, read in names)
    ):
        image, read = names[0]
        out.append(_page_vs_cert(page, text, "产品名称", name, read, image))
    read_companies = [(i, c.fields["registrant"]) for i, c in certs if c.fields.get("registrant")]
    # the registrant only: a contract manufacturer (受托生产企业) may differ from the certificate's registrant
    shown = page.fields.get("registrant", "").strip()
    if (
        shown
        and read_companies
        and not same_company(shown, [r for _, r in read_companies])
        and not any(_ocr_same(shown, r) for _, r in read_companies)
    ):
        image, read = read_companies[0]
        out.append(_page_vs_cert(page, text, _FIELD_LABELS["registrant"], shown, read, image))
    return out


def _page_vs_cert(page: Page, text: str, label: str, shown: str, read: str, image: ImageText) -> Evidence:
    pos = text.find(shown)
    snip = snippet(text, pos, pos + len(shown)) if pos >= 0 else shown
    detail = {
        "field": label,
        "shown": shown,
        "registered": read,
        "against": "证书图片",
        "image_url": image.image_url,
    }
    return Evidence("text", snip, match=shown, page_url=page.url, detail=detail)


def shows_product_cert(page: Page) -> bool:
    """An image (alt / caption / file name) or link text names the registration certificate / filing form."""
    cues = _cues()["product_cert"]
    words: list[str] = cues["words"]
    file_words: list[str] = cues["image_file_words"]
    for img in page.all_images():
        if any(w in img.alt or w in img.caption for w in words):
            return True
        name = unquote(img.src.rsplit("/", 1)[-1]).lower()
        if any(w in name for w in words) or any(w in name for w in file_words):
            return True
    if any(any(w in link.text for w in words) for link in page.all_links()):
        return True
    return named_by_link_block(page, tuple(words))


def _retail_banned(page: Page, records: Sequence[Registration]) -> list[Finding]:
    # HAINAN (7): 不得将植入介入类等高风险医疗器械网络销售给个人; a listing offered only to medical
    # institutions and licensed traders is no sale to individuals
    if not is_retail_listing(page):
        return []
    name = page.fields.get("product_name", "").strip() or page.title
    candidates: list[Registration | None] = [*records] if records else [None]
    reason = next((r for rec in candidates if (r := retail_banned_reason(rec, name, ""))), None)
    if not reason:
        return []
    detail = {"reason": reason, "product_name": name}
    if records:
        detail["registration_no"] = records[0].number
    ev = Evidence("structure", f"{name}：{reason}", match=name, page_url=page.url, detail=detail)
    message = f"{rules()['PRODUCT_RETAIL_BANNED'].message.rstrip('。')}：{name}，{reason}。"
    return [finding("PRODUCT_RETAIL_BANNED", [ev], message)]


def analyze(page: Page, ctx: Context) -> list[Finding]:
    if not is_device_listing(page):
        return []
    out: list[Finding] = []
    registry = _registry(ctx)
    numbers = _registration_numbers(page, ctx)
    text = page_text(page)
    records = _records(numbers, registry)
    certs = _product_certs(page, ctx)
    if registry is not None and ctx.enabled("PRODUCT_UNREGISTERED"):
        out.extend(_unregistered(page, text, numbers, registry))
    if ctx.enabled("PRODUCT_REG_INVALID_STATUS") and (numbers or certs):
        out.extend(_invalid_status(page, text, numbers, registry, today_in_china(ctx.now), certs))
    if (records or certs) and ctx.enabled("PRODUCT_INFO_MISMATCH"):
        out.extend(_info_mismatch(page, text, records, certs))
    if ctx.enabled("PRODUCT_CERT_MISSING") and not certs and not shows_product_cert(page):
        note = "商品页面未找到注册证/备案凭证的图片（alt、说明、文件名或图片文字）或电子证书链接。"
        out.append(finding("PRODUCT_CERT_MISSING", [Evidence("structure", note, page_url=page.url)]))
    if ctx.enabled("PRODUCT_RETAIL_BANNED"):
        out.extend(_retail_banned(page, records))
    return out
