"""Device listings against the registration database and the product-certificate display.

PRODUCT_UNREGISTERED (GSP-NET 第四十一条第（二）项、第四十二条): a well-formed registration / filing number
  on the page was looked up and is not in the loaded registry.
PRODUCT_REG_INVALID_STATUS (GSP-NET 第四十二条、第四十六条): the record is cancelled / revoked / expired or
  its ``valid_until`` has passed; without a registry too, a pre-2014 legacy number (all expired,
  REGISTRY-NOTES §1.2).
PRODUCT_INFO_MISMATCH (GSP-NET 第十三条第二款): product name, registrant, manufacturer or model shown on
  the page differs from the record (tolerant comparison, see ``same_product_name`` / ``model_matches``).
PRODUCT_CERT_MISSING (GSP-NET 第十二条第（一）项): no image / link naming the registration certificate or
  class I filing form.
PRODUCT_RETAIL_BANNED (HAINAN (7)): implantable / interventional high-risk device offered to individuals
  (``reference.retail_banned_reason``).

When each fires: ``docs/rule-semantics.md`` ("Registry and qualification rules"). Registry rules skip
when ``ctx.registry`` is None or not loaded.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Sequence
from datetime import date, datetime, timedelta, timezone
from functools import cache
from typing import Any
from urllib.parse import unquote

from mdwatch.analyzers.catalogue import finding, rules
from mdwatch.analyzers.domain import is_device_listing
from mdwatch.analyzers.model import Context, Evidence, Finding, Page, Registration, RegistrySnapshot
from mdwatch.analyzers.normalize import fold, snippet
from mdwatch.analyzers.numbers import NumberMatch
from mdwatch.analyzers.reference import retail_banned_reason
from mdwatch.analyzers.regno import REGISTRATION_KINDS, page_numbers, page_text
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
_MODEL_SPLIT = re.compile(r"[、,，;；/|\s]+")


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
    """NFKC, full-width folded, spaces and punctuation dropped, Latin lower-cased."""
    return squash(unicodedata.normalize("NFKC", fold(text))).lower()


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
    return len(b) >= 2 and a.endswith(b)


_COMPANY_PARENS = re.compile(r"[(（][^)）]*[)）]")


def same_company(shown: str, registered: Iterable[str]) -> bool:
    """Company names equal after ``norm_value`` (also with parenthesised parts such as 「（深圳）」 dropped)."""
    a = norm_value(shown)
    a2 = norm_value(_COMPANY_PARENS.sub("", fold(shown)))
    for reg in registered:
        if not reg.strip():
            continue
        if a == norm_value(reg) or a2 == norm_value(_COMPANY_PARENS.sub("", fold(reg))):
            return True
    return False


def model_matches(shown: str, registered: Iterable[str]) -> bool:
    """The page's model equals, or contains on alphanumeric boundaries, one of the registered models.

    Tolerant of spacing, case and punctuation: 「kr w5」 = 「KR-W5」; 「KR-W5 腕式」 contains 「KR-W5」;
    「KR-W55」 does not contain 「KR-W5」.
    """
    page = norm_value(shown)
    segments = {norm_value(s) for s in _MODEL_SPLIT.split(fold(shown)) if s}
    for entry in registered:
        for model in {entry, *_MODEL_SPLIT.split(fold(entry))}:
            m = norm_value(model)
            if not m:
                continue
            if m == page or m in segments:
                return True
            pos = page.find(m)
            while pos != -1:
                end = pos + len(m)
                glued_before = pos > 0 and _alnum(page[pos - 1]) and _alnum(m[0])
                glued_after = end < len(page) and _alnum(page[end]) and _alnum(m[-1])
                if not (glued_before or glued_after):
                    return True
                pos = page.find(m, pos + 1)
    return False


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


def _evidence(text: str, n: NumberMatch, page: Page, detail: dict[str, str]) -> Evidence:
    return Evidence(
        "text", snippet(text, n.start, n.end), match=n.raw.strip(), page_url=page.url, detail=detail
    )


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
            f"疑似伪造或未注册。{note}"
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
    page: Page, text: str, numbers: Sequence[NumberMatch], registry: RegistrySnapshot | None, today: date
) -> list[Finding]:
    # GSP-NET 第四十二条、第四十六条; legacy numbers: REGISTRY-NOTES §1.2 (all expired)
    out: list[Finding] = []
    base = rules()["PRODUCT_REG_INVALID_STATUS"].message.rstrip("。")
    for n in numbers:
        problems: list[str] = []
        rec = registry.records.get(n.normalized) if registry is not None else None
        if rec is not None:
            problems.extend(_status_problems(rec, today))
        if n.kind == "registration_legacy":
            problems.append("2014年10月前的旧格式注册证编号，此类注册证均已过期失效")
        if not problems:
            continue
        detail = {"number": n.normalized, "problems": "；".join(problems)}
        if rec is not None:
            detail["status"] = rec.status
            if rec.valid_until is not None:
                detail["valid_until"] = rec.valid_until.isoformat()
        message = f"{base}：{n.normalized}（{'；'.join(problems)}）。"
        out.append(finding("PRODUCT_REG_INVALID_STATUS", [_evidence(text, n, page, detail)], message))
    return out


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


def _info_mismatch(page: Page, text: str, records: Sequence[Registration]) -> list[Finding]:
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
        companies = [c for r in records for c in (r.registrant, r.manufacturer) if c.strip()]
        if shown and companies and not same_company(shown, companies):
            own = next((getattr(r, key) for r in records if getattr(r, key).strip()), companies[0])
            evidence.append(_shown_evidence(page, text, _FIELD_LABELS[key], shown, own))
    model = page.fields.get("model_spec", "").strip()
    models = [m for r in records for m in r.model_specs if m.strip()]
    if model and models and not model_matches(model, models):
        evidence.append(_shown_evidence(page, text, "型号规格", model, "、".join(models)))
    if not evidence:
        return []
    listed = "；".join(
        f"{e.detail['field']}「{e.detail['shown']}」≠ 注册信息「{e.detail['registered']}」" for e in evidence
    )
    number = records[0].number
    message = f"页面展示的产品信息与注册/备案信息（{number}）不一致：{listed}。"
    return [finding("PRODUCT_INFO_MISMATCH", evidence, message)]


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
    return any(any(w in link.text for w in words) for link in page.all_links())


def _retail_banned(page: Page, records: Sequence[Registration]) -> list[Finding]:
    # HAINAN (7): 不得将植入介入类等高风险医疗器械网络销售给个人
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
    if registry is not None and ctx.enabled("PRODUCT_UNREGISTERED"):
        out.extend(_unregistered(page, text, numbers, registry))
    if ctx.enabled("PRODUCT_REG_INVALID_STATUS") and numbers:
        out.extend(_invalid_status(page, text, numbers, registry, today_in_china(ctx.now)))
    if records and ctx.enabled("PRODUCT_INFO_MISMATCH"):
        out.extend(_info_mismatch(page, text, records))
    if ctx.enabled("PRODUCT_CERT_MISSING") and not shows_product_cert(page):
        note = "商品页面未找到注册证/备案凭证的图片（alt、说明或文件名）或电子证书链接。"
        out.append(finding("PRODUCT_CERT_MISSING", [Evidence("structure", note, page_url=page.url)]))
    if ctx.enabled("PRODUCT_RETAIL_BANNED"):
        out.extend(_retail_banned(page, records))
    return out
