"""Reference data look-ups: classification catalogues, registration-number parts and the §4 rule lists.

Data lives in ``mdwatch/lexicons/reference/`` (CSV copies of shared/data, CC BY 4.0 "RASAAS
docmcp-knowledge" where stated in its PROVENANCE.md, and ``lists.yaml``). Files are read once per
process (cached); every function here is pure after that.
"""

from __future__ import annotations

import csv
import io
import re
from collections import Counter
from functools import cache
from typing import Any

from mdwatch.analyzers.model import Registration
from mdwatch.analyzers.normalize import fold
from mdwatch.lexicons import load_yaml, read_text

__all__ = [
    "catalogue_class_hint",
    "category_from_number",
    "category_name",
    "class_from_number",
    "find_device_numbers",
    "fitting_kind",
    "has_device_number",
    "is_filing_exempt_class2",
    "retail_banned_reason",
    "year_from_number",
]

_PROV = "京津沪渝冀豫云辽黑湘皖鲁新苏浙赣鄂桂甘晋蒙陕吉闽贵粤青藏川宁琼"
_CJK = r"[\u4e00-\u9fff]"
# REGISTRY-NOTES §1.9, run on fold(text) with whitespace removed.
REG_NEW = re.compile(
    rf"(?P<issuer>国|[{_PROV}])械注(?P<origin>[准进许])(?P<year>20\d{{2}})(?P<cls>\d)(?P<cat>\d{{2}})(?P<serial>\d{{4}})(?!\d)"
)
REG_OLD = re.compile(
    rf"(?P<issuer>国|[{_PROV}]{_CJK}??)\(?(?P<agency>食|食药监|药监|药管|食药管)?\)?(?:药监)?械\((?P<origin>[准进许试])\)字"
    r"(?P<year>(?:19|20)\d{2})第(?P<cls>\d)(?P<cat>\d{2})(?P<serial>\d{3,4})号"
)
FILING = re.compile(
    rf"(?P<issuer>国|[{_PROV}]{_CJK}{{0,2}}?)械备(?P<year>20\d{{2}})(?P<serial>\d{{4,5}})(?!\d)号?"
)
# Anything that looks like a device number, valid or not (for "no number anywhere on the page").
LOOSE = re.compile(rf"{_CJK}{{1,8}}械(?:注|备|\(|（)[^\n]{{0,6}}?\d{{4}}")
_WS = re.compile(r"\s+")

SET_2002 = frozenset(
    {f"{n:02d}" for n in (*range(1, 11), 12, 13, 15, 16, *range(20, 29), *range(30, 35), 40, 41, 45, 46)}
    | {f"{n:02d}" for n in (*range(54, 59), *range(63, 67), 70, 77)}
)
SET_2017 = frozenset({f"{n:02d}" for n in range(1, 23)} | {"40"})
CATALOGUE_2017_IN_FORCE_YEAR = 2018  # 公告2017年第104号, in force 2018-08-01


def _squash(number: str) -> str:
    return _WS.sub("", fold(number))


def _csv(name: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(read_text(f"reference/{name}"))))


@cache
def _lists() -> dict[str, Any]:
    data: dict[str, Any] = load_yaml("reference/lists.yaml")
    return data


@cache
def _names_2017() -> dict[str, str]:
    out = {row["code"]: row["name"] for row in _csv("nmpa_catalogue_2017_l1.csv")}
    out.setdefault("40", "体外诊断试剂")
    for row in _csv("nmpa_catalogue_2017_codes_rasaas.csv"):
        out.setdefault(row["code"], row["l3_name"])
    return out


@cache
def _names_2002() -> dict[str, str]:
    return {row["reg_no_cat"]: row["name"] for row in _csv("nmpa_catalogue_2002_68xx.csv")}


@cache
def _class_hints() -> dict[str, int]:
    votes: dict[str, Counter[int]] = {}
    for row in _csv("clinical_eval_exempt_2025_code_class_rasaas.csv"):
        code = (row.get("classification_code") or "").strip()
        cls = {"II": 2, "III": 3, "I": 1}.get((row.get("device_class") or "").strip())
        if not code or cls is None or not re.fullmatch(r"\d{2}(?:-\d{2}){0,2}", code):
            continue
        votes.setdefault(code, Counter())[cls] += 1
    return {code: c.most_common(1)[0][0] for code, c in votes.items()}


# --- registration numbers -------------------------------------------------------------------


def _parse(number: str) -> tuple[str, re.Match[str]] | None:
    text = _squash(number)
    for kind, pattern in (("new", REG_NEW), ("old", REG_OLD), ("filing", FILING)):
        m = pattern.search(text)
        if m:
            return kind, m
    return None


def class_from_number(number: str) -> int | None:
    """Management class a registration / filing number states: 械注 → digit after the year, 械备 → 1,
    legacy 药监械(准)字YYYY第C… → C. None when the number is not recognised or the digit is not 1–3."""
    parsed = _parse(number)
    if parsed is None:
        return None
    kind, m = parsed
    if kind == "filing":
        return 1
    cls = int(m.group("cls"))
    return cls if cls in (1, 2, 3) else None


def category_from_number(number: str) -> str | None:
    """The 2-digit classification code of a registration number (None for filings and unknown formats)."""
    parsed = _parse(number)
    if parsed is None or parsed[0] == "filing":
        return None
    return parsed[1].group("cat")


def year_from_number(number: str) -> int | None:
    parsed = _parse(number)
    return int(parsed[1].group("year")) if parsed else None


def _catalogue_set(code: str, year: int | None) -> str | None:
    """Which catalogue a 2-digit code belongs to: "2017", "2002" or None (REGISTRY-NOTES §1.1 (3))."""
    in17, in02 = code in SET_2017, code in SET_2002
    if in17 and in02:
        if code == "40":
            return "2017"
        return "2002" if year is not None and year <= CATALOGUE_2017_IN_FORCE_YEAR - 1 else "2017"
    if in17:
        return "2017"
    if in02:
        return "2002"
    return None


def category_name(code: str, year: int | None = None) -> str | None:
    """Name of a classification code.

    ``code`` is a 2-digit code from a registration number (01–22 / 40 in the 2017 set, 68xx tails in the
    2002 set; the overlap is resolved by the first-registration ``year``: before 2018 → 2002 set), a
    2017 ``XX-YY-ZZ`` / ``XX-YY`` code, or a 4-digit ``68xx`` code.
    """
    code = code.strip()
    if re.fullmatch(r"68\d{2}", code):
        return _names_2002().get(code[2:])
    if re.fullmatch(r"\d{2}-\d{2}(?:-\d{2})?", code):
        return _names_2017().get(code)
    if not re.fullmatch(r"\d{2}", code):
        return None
    which = _catalogue_set(code, year)
    if which == "2017":
        return _names_2017().get(code)
    if which == "2002":
        return _names_2002().get(code)
    return None


def catalogue_class_hint(code: str) -> int | None:
    """Usual class of a 2017 catalogue code (``XX-YY-ZZ``, falling back to ``XX-YY``) from the 2025
    clinical-evaluation-exempt list; sub-catalogue 12 and 13 are class III. None when unknown."""
    code = code.strip()
    hints = _class_hints()
    if code in hints and len(code) > 2:
        return hints[code]
    parts = code.split("-")
    if len(parts) == 3 and "-".join(parts[:2]) in hints:
        return hints["-".join(parts[:2])]
    if parts and parts[0] in ("12", "13"):
        return 3
    return None


def find_device_numbers(text: str) -> list[str]:
    """Well-formed registration (new and legacy) and class I filing numbers in ``text``, in order."""
    squashed = _squash(text)
    hits: list[tuple[int, str]] = []
    for pattern in (REG_NEW, REG_OLD, FILING):
        hits.extend((m.start(), m.group(0)) for m in pattern.finditer(squashed))
    return [h for _, h in sorted(hits)]


def has_device_number(text: str) -> bool:
    """True when anything that looks like a device registration / filing number appears, valid or not."""
    squashed = _squash(text)
    return bool(find_device_numbers(squashed) or LOOSE.search(squashed))


# --- §4 lists ---------------------------------------------------------------------------------


def is_filing_exempt_class2(product_name: str) -> bool:
    """Product is on the filing-exempt class II list (2021 **draft**, REGISTRY-NOTES §4.1)."""
    spec = _lists()["filing_exempt_class2"]
    name = fold(product_name)
    if any(word in name for word in spec.get("exclude", [])):
        return False
    return any(word in name for canonical, words in spec["products"].items() for word in (canonical, *words))


def fitting_kind(product_name: str, category_code: str | None = None) -> str | None:
    """Fitting kind of a product with special fitting requirements (§4.2): contact_lens, hearing_aid or None."""
    spec = _lists()["fitting"]
    if category_code:
        code = category_code.strip()
        for kind, fit in spec.items():
            if any(code == c or code.startswith(c + "-") for c in fit["codes"]):
                return str(kind)
    name = fold(product_name)
    for kind, fit in spec.items():
        context = fit.get("context_words") or []
        for word in fit["product_words"]:
            if word not in name:
                continue
            if word in ("护理液", "护理产品") and not any(c in name for c in context):
                continue
            return str(kind)
    return None


def _code_reason(registration: Registration) -> str | None:
    spec = _lists()["retail_banned"]
    code = registration.category_code.strip()
    if code:
        if re.fullmatch(r"68\d{2}", code):
            return spec["catalogue_2002"].get(code[2:])
        if re.fullmatch(r"\d{2}(?:-\d{2}){0,2}", code):
            best = max(
                (p for p in spec["catalogue_2017"] if code == p or code.startswith(p + "-")),
                key=len,
                default=None,
            )
            if best is not None:
                return str(spec["catalogue_2017"][best])
            if len(code) > 2:
                return None
    cat = category_from_number(registration.number) if registration.number else None
    cat = cat or (code if re.fullmatch(r"\d{2}", code) else None)
    if cat is None:
        return None
    which = _catalogue_set(cat, year_from_number(registration.number) if registration.number else None)
    if which == "2017":
        reason = spec["catalogue_2017"].get(cat)
        return str(reason) if reason else None
    if which == "2002":
        reason = spec["catalogue_2002"].get(cat)
        return str(reason) if reason else None
    return None


def _scope_reason(scope_text: str) -> str | None:
    spec = _lists()["retail_banned"]
    scope = fold(scope_text)
    if not scope or any(w in scope for w in spec["home_words"]):
        return None
    word = next((w for w in spec["scope_words"] if w in scope), None)
    return f"适用范围含「{word}」，属医疗机构使用或侵入性器械" if word else None


def retail_banned_reason(registration: Registration | None, product_name: str, scope_text: str) -> str | None:
    """Why a product may not be sold online to individuals (REGISTRY-NOTES §4.3), in Chinese, or None.

    Checked in order: the registration's catalogue code (2017 prefixes, or the 2002 code from the
    number), product-name words, then 适用范围 words (医疗机构, 手术, 植入, 介入, 注射 …), which
    home-use wording (家用, 个人, 自测 …) clears.
    """
    spec = _lists()["retail_banned"]
    if registration is not None:
        reason = _code_reason(registration)
        if reason:
            return f"属于{reason}，不得网络零售给个人"
    name = fold(product_name)
    if name and not any(x in name for x in spec["product_exclude"]):
        word = next((w for w in spec["product_words"] if w in name), None)
        if word is not None:
            return f"属于{spec['product_words'][word]}，不得网络零售给个人"
    scope = scope_text or (registration.scope if registration is not None else "")
    reason = _scope_reason(scope)
    return f"{reason}，不得网络零售给个人" if reason else None
