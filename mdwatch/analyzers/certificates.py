"""Certificates read from the OCR text of listing images (GSP-NET 第十一条–第十三条).

``read_certificate(text)`` recognises the document a certificate image shows (医疗器械注册证, 第一类
医疗器械备案信息表/备案凭证, 医疗器械经营许可证, 第二类医疗器械经营备案凭证, 医疗器械生产许可证, 营业执照)
and reads its number and labelled fields. OCR output is noisy, so:

* ``repair_ocr`` undoes the confusions of ``shared/REGISTRY-NOTES.md`` §0 one character for one
  character (offsets keep indexing the text as read): in a number's Chinese part 淮/谁/推→准,
  楲/棫→械, 各→备, 奥→粤 (only where a number anchor follows), in its digit part and in dates
  O/o/〇→0, l/I/|→1, S→5, B→8, Z→2. The number is then validated strictly by
  ``numbers.extract_numbers`` (fuzzy prefix first, strict check after).
* Titles and labels are matched on a canonical copy of each line (full-width folded, traditional →
  simplified, OCR look-alikes such as 冊→册 mapped back), with spaces allowed between characters.
* Labels and values may stand on one line, on consecutive lines, or in columns that OCR merged into
  one line (several labels, then several values): values are then given to labels by type (dates,
  credit codes, company names, the rest in order). Watermark tokens are dropped.
* The class comes from the number (the class digit, and the category code), never from a Roman
  numeral on the certificate: no engine reads Ⅲ reliably.

Cues are data: ``lexicons/certificates.yaml``. Pure functions, no I/O; results are memoised per text
because several analyzers ask about the same image.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from difflib import SequenceMatcher
from functools import cache, lru_cache
from typing import Any, Literal

from mdwatch.analyzers.evasion import t2s_table
from mdwatch.analyzers.model import Evidence, ImageText
from mdwatch.analyzers.normalize import FOLD_TABLE, fold, snippet
from mdwatch.analyzers.numbers import PROVINCES, NumberKind, NumberMatch, extract_numbers
from mdwatch.lexicons import load_yaml

DocType = Literal[
    "registration",
    "class1_filing",
    "business_license",
    "business_filing",
    "production_license",
    "company_license",
]
DOC_TYPES: tuple[DocType, ...] = (
    "registration",
    "class1_filing",
    "business_license",
    "business_filing",
    "production_license",
    "company_license",
)
DOC_TITLES: dict[DocType, str] = {
    "registration": "医疗器械注册证",
    "class1_filing": "第一类医疗器械备案信息表",
    "business_license": "医疗器械经营许可证",
    "business_filing": "第二类医疗器械经营备案凭证",
    "production_license": "医疗器械生产许可证",
    "company_license": "营业执照",
}
# GSP-NET 第十二条第（一）项: the product's certificate; 第十一条: the seller's qualification
PRODUCT_CERT_TYPES: frozenset[str] = frozenset({"registration", "class1_filing"})
SHOP_QUALIFICATION_TYPES: frozenset[str] = frozenset(
    {"business_license", "business_filing", "production_license"}
)
LICENCE_TYPES: frozenset[str] = frozenset({"business_license", "production_license"})  # these expire

_TOP_LINES = 3  # a title in the first lines is the strongest cue
_TITLE_TOP, _TITLE_ELSEWHERE, _NUMBER_CUE, _USCC_CUE = 6, 3, 3, 1
_MIN_SCORE = 4
_FUZZY_TITLE = 0.8


@dataclass(frozen=True, slots=True)
class Certificate:
    """One certificate as read from an image.

    ``number`` is the normalised number (``NumberMatch.normalized``) after OCR repair, valid or not
    (``number_valid``, ``number_problems``); ``number_raw`` is the number as OCR read it and
    ``number_line`` the line it stands on. ``fields`` holds what the labels gave: product_name,
    registrant, manufacturer, model_spec, structure, scope, enterprise_name, uscc, legal_rep,
    address, production_address, premises, warehouse, business_mode, business_scope, company_type,
    capital, valid_until / approved_on / established (ISO dates), valid_until_raw (a term such as
    长期), authority, number_text. ``notes`` say what was uncertain.
    """

    doc_type: DocType
    number: str | None
    fields: Mapping[str, str] = field(default_factory=dict, hash=False, compare=False)
    number_kind: NumberKind | None = None
    number_valid: bool = False
    number_problems: tuple[str, ...] = ()
    number_raw: str = ""
    number_line: str = ""
    number_start: int = -1  # offsets of the number in the text read
    number_end: int = -1
    device_class: int | None = None
    category_code: str | None = None
    title_read: bool = False
    confidence: float = 0.0
    notes: tuple[str, ...] = ()

    @property
    def title(self) -> str:
        return DOC_TITLES[self.doc_type]

    @property
    def valid_until(self) -> date | None:
        return _iso(self.fields.get("valid_until", ""))

    @property
    def is_product_certificate(self) -> bool:
        return self.doc_type in PRODUCT_CERT_TYPES

    @property
    def is_shop_qualification(self) -> bool:
        return self.doc_type in SHOP_QUALIFICATION_TYPES


# --- lexicon ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Label:
    key: str
    label: str


@dataclass(frozen=True, slots=True)
class _Lexicon:
    titles: tuple[tuple[DocType, str, re.Pattern[str]], ...]
    number_kinds: Mapping[str, DocType]
    type_labels: Mapping[DocType, frozenset[str]]
    label_re: re.Pattern[str]
    label_of: Mapping[str, _Label]  # canonical label (spaces dropped) → label
    multiline: frozenset[str]
    date_fields: frozenset[str]
    company_fields: frozenset[str]
    company_suffixes: tuple[str, ...]
    canon: Mapping[int, int]  # str.translate table: fold, traditional → simplified, look-alikes
    digit_table: Mapping[int, int]
    uscc_table: Mapping[int, int]
    watermarks: tuple[str, ...]


def _spaced(word: str) -> str:
    """``word`` as a regex that allows one space between its characters."""
    return r"\s?".join(re.escape(ch) for ch in word)


@cache
def _lexicon() -> _Lexicon:
    spec: dict[str, Any] = load_yaml("certificates.yaml")
    canon: dict[int, int] = dict(t2s_table())
    canon.update(FOLD_TABLE)
    for right, wrongs in spec["confusions"].items():
        for wrong in wrongs:
            canon[ord(wrong)] = ord(right)
    titles: list[tuple[DocType, str, re.Pattern[str]]] = []
    for doc_type, words in spec["titles"].items():
        for word in words:
            titles.append((doc_type, word, re.compile(_spaced(word))))
    titles.sort(key=lambda t: -len(t[1]))  # longest title first (第一类医疗器械备案凭证 before 备案凭证)
    label_of: dict[str, _Label] = {}
    for key, words in spec["labels"].items():
        for word in words:
            label_of.setdefault(word, _Label(key, word))
    alternation = "|".join(_spaced(w) for w in sorted(label_of, key=len, reverse=True))
    # a label starts a line or follows a space / colon; a colon may follow it
    label_re = re.compile(rf"(?<![^\s:：|])(?P<label>{alternation})\s*[:：]?\s*")
    return _Lexicon(
        titles=tuple(titles),
        number_kinds=dict(spec["number_kinds"]),
        type_labels={k: frozenset(v) for k, v in spec["type_labels"].items()},
        label_re=label_re,
        label_of=label_of,
        multiline=frozenset(spec["multiline"]),
        date_fields=frozenset(spec["date_fields"]),
        company_fields=frozenset(spec["company_fields"]),
        company_suffixes=tuple(spec["company_suffixes"]),
        canon=canon,
        digit_table={ord(k): ord(v) for k, v in spec["digit_confusions"].items()},
        uscc_table={ord(k): ord(v) for k, v in spec["uscc_confusions"].items()},
        watermarks=tuple(spec["watermarks"]),
    )


def canonical(text: str) -> str:
    """Same length as ``text``: full-width folded, traditional → simplified, OCR look-alikes mapped
    to the character meant (for matching titles and labels only; values keep what was read)."""
    return text.translate(_lexicon().canon)


# --- OCR repair (REGISTRY-NOTES §0), one character for one character ------------------------

_DIGITISH = "0-9OoIl|SBZ〇０-９"
_XIE_SLOT = re.compile(r"[楲棫](?=[^\S\n]?(?:注|备|各|经营|經營|生产|生產))")
_ISSUER_XIE = re.compile(
    rf"(?<=[国{PROVINCES}])[\u4e00-\u9fff](?=[^\S\n]?注[^\S\n]?[准进许淮谁推][^\S\n]?[{_DIGITISH}])"
)
_ZHUN = re.compile(rf"(?<=注)(?P<s>[^\S\n]?)[淮谁推](?=[^\S\n]?[{_DIGITISH}])")
_BEI = re.compile(rf"(?<=[械营产])(?P<s>[^\S\n]?)各(?=[^\S\n]?[{_DIGITISH}])")
_YUE = re.compile(r"奥(?=[\u4e00-\u9fff]{0,5}械)")
_DIGIT_RUN = re.compile(
    rf"(?:械[^\S\n]?注[^\S\n]?[准进许]|械[^\S\n]?备|械[^\S\n]?(?:经营|生产)[^\S\n]?[许备]|字|第)"
    rf"(?P<run>[{_DIGITISH}][{_DIGITISH} \t]{{3,}})"
)
_DATE_RUN = re.compile(
    rf"[12Il|][{_DIGITISH}]{{3}}[^\S\n]?[年\-/.][^\S\n]?[{_DIGITISH}]{{1,2}}[^\S\n]?[月\-/.][^\S\n]?[{_DIGITISH}]{{1,2}}"
)
_USCC_RUN = re.compile(
    r"(?<=信用代码)(?P<sep>[^\S\n]*[:：]?[^\S\n]*)(?P<code>[0-9A-Za-z〇|]{18})(?![0-9A-Za-z])"
)


def _translate_span(chars: list[str], start: int, end: int, table: Mapping[int, int]) -> None:
    for i in range(start, end):
        chars[i] = chars[i].translate(table)


def repair_ocr(text: str) -> str:
    """``text`` with the OCR confusions of number prefixes, number digits, dates and credit codes
    undone; the same length as ``text`` (so offsets still index the text as read)."""
    lex = _lexicon()
    if not text:
        return text
    out = _XIE_SLOT.sub("械", text)
    out = _ISSUER_XIE.sub("械", out)
    out = _ZHUN.sub(lambda m: m.group("s") + "准", out)
    out = _BEI.sub(lambda m: m.group("s") + "备", out)
    out = _YUE.sub("粤", out)
    chars = list(out)
    for m in _DIGIT_RUN.finditer(out):
        run = m.group("run")
        if sum(ch.isdigit() for ch in run) >= 3:
            _translate_span(chars, m.start("run"), m.end("run"), lex.digit_table)
    for m in _DATE_RUN.finditer(out):
        if sum(ch.isdigit() for ch in m.group()) >= 4:
            _translate_span(chars, m.start(), m.end(), lex.digit_table)
    for m in _USCC_RUN.finditer(out):
        code = m.group("code")
        if sum(ch.isdigit() for ch in code) >= 6:
            _translate_span(chars, m.start("code"), m.end("code"), lex.uscc_table)
            for i in range(m.start("code"), m.end("code")):
                chars[i] = chars[i].upper()
    repaired = "".join(chars)
    assert len(repaired) == len(text)
    return repaired


# --- fields ----------------------------------------------------------------------------------

_DATE = re.compile(r"((?:19|20)\d{2})\s*[-/.年]\s*(\d{1,2})\s*[-/.月]\s*(\d{1,2})")
_USCC_TOKEN = re.compile(r"[0-9A-Z]{18}")
_SPACES = re.compile(r"\s+")
_CJK_GAP = re.compile(r"(?<=[\u4e00-\u9fff（）()、，])\s+(?=[\u4e00-\u9fff（）()、，])")


def _iso(value: str) -> date | None:
    try:
        return date.fromisoformat(value) if value else None
    except ValueError:
        return None


def parse_dates(value: str) -> list[date]:
    out: list[date] = []
    for m in _DATE.finditer(fold(value)):
        try:
            out.append(date(int(m.group(1)), int(m.group(2)), int(m.group(3))))
        except ValueError:
            continue
    return out


def _is_watermark(token: str) -> bool:
    return len(token) >= 2 and any(token in w for w in _lexicon().watermarks)


def _clean(value: str) -> str:
    tokens = [t for t in value.split() if not _is_watermark(t)]
    joined = " ".join(tokens).strip(" :：")
    return _CJK_GAP.sub("", joined)


_TERMS = ("长期", "長期", "永久")


def _is_date_token(token: str) -> bool:
    return bool(_DATE.search(fold(token))) or token in _TERMS


def _fits(key: str, token: str) -> bool:
    lex = _lexicon()
    if key == "valid_until":
        return _is_date_token(token)
    if key in lex.date_fields:
        return bool(_DATE.search(fold(token)))
    if key == "uscc":
        return bool(_USCC_TOKEN.fullmatch(fold(token).upper()))
    if key in lex.company_fields:
        return token.endswith(lex.company_suffixes)
    if key == "number_text":
        return "械" in token or sum(ch.isdigit() for ch in token) >= 6
    return not _is_date_token(token) and not _USCC_TOKEN.fullmatch(fold(token).upper())


def _assign_by_type(keys: Sequence[str], tokens: list[str]) -> dict[str, str]:
    """Columns merged into one line (「住所 成立日期 营业期限 长期 2010年03月19日 深圳市…」): each label
    takes the first token of its type; the rest go in order to labels of no particular type."""
    lex = _lexicon()
    out: dict[str, str] = {}
    left = [t for t in tokens if not _is_watermark(t)]
    typed = lex.date_fields | lex.company_fields | {"uscc", "number_text"}
    # dates that cannot be a term first, so that 「成立日期 营业期限 长期 2010年…」 pairs right
    for key in sorted((k for k in keys if k in typed), key=lambda k: k == "valid_until"):
        hit = next((t for t in left if _fits(key, t)), None)
        if hit is not None:
            out[key] = hit
            left.remove(hit)
    for key in (k for k in keys if k not in typed):
        hit = next((t for t in left if _fits(key, t)), None)
        if hit is not None:
            out[key] = hit
            left.remove(hit)
    return out


def _read_fields(lines: Sequence[str]) -> dict[str, str]:
    lex = _lexicon()
    raw: dict[str, str] = {}
    last: str | None = None
    pending: str | None = None
    for line in lines:
        canon_line = canonical(line)
        found = [
            (m.start(), m.end(), lex.label_of[_SPACES.sub("", m.group("label"))].key)
            for m in lex.label_re.finditer(canon_line)
        ]
        if not found:
            value = _clean(line)
            if not value:
                continue
            if pending is not None:
                raw.setdefault(pending, value)
                last, pending = pending, None
            elif last is not None and last in lex.multiline and last in raw:
                sep = " " if raw[last][-1:].isascii() and value[:1].isascii() else ""
                raw[last] = raw[last] + sep + value
            continue
        pending = None
        segments = [
            line[end : found[i + 1][0] if i + 1 < len(found) else len(line)]
            for i, (_, end, _) in enumerate(found)
        ]
        values = [_clean(seg) for seg in segments]
        keys = [k for _, _, k in found]
        if len(found) > 1 and any(not v for v in values[:-1]):
            tokens = [t for seg in segments for t in seg.split()]
            assigned = _assign_by_type(keys, tokens)
            for key in keys:
                if key in assigned:
                    raw.setdefault(key, assigned[key])
            last = keys[-1]
            continue
        for key, value in zip(keys, values, strict=True):
            if value:
                raw.setdefault(key, value)
            last = key
        if not values[-1]:
            pending = keys[-1]
    return _normalise_fields(raw)


def _normalise_fields(raw: Mapping[str, str]) -> dict[str, str]:
    lex = _lexicon()
    out: dict[str, str] = {}
    for key, value in raw.items():
        value = value.strip()
        if not value:
            continue
        if key in lex.date_fields:
            dates = parse_dates(value)
            if dates:
                # a range 「2022年…至2027年…」: the validity is its end; other dates: the first
                out[key] = (dates[-1] if key == "valid_until" else dates[0]).isoformat()
            else:
                out[f"{key}_raw"] = value
            continue
        if key == "uscc":
            value = fold(value).replace(" ", "").upper()
        out[key] = value
    return out


# --- document type ---------------------------------------------------------------------------


def _nonempty(lines: Sequence[str]) -> list[str]:
    return [ln for ln in lines if ln.strip()]


def _title(lines: Sequence[str]) -> tuple[DocType | None, bool, str]:
    """(document type, found in the top lines, note) from the title words."""
    lex = _lexicon()
    canon_lines = [canonical(ln) for ln in _nonempty(lines)]
    for i, line in enumerate(canon_lines):
        for doc_type, _word, pattern in lex.titles:
            if pattern.search(line):
                return doc_type, i < _TOP_LINES, ""
    # a title OCR garbled beyond the look-alike table: a short top line close to a title word
    best: tuple[float, DocType | None] = (0.0, None)
    for line in canon_lines[:_TOP_LINES]:
        compact = _SPACES.sub("", line)
        for doc_type, word, _pattern in lex.titles:
            if len(compact) > len(word) + 4:
                continue
            ratio = SequenceMatcher(None, compact, word).ratio()
            if ratio > best[0]:
                best = (ratio, doc_type)
    if best[1] is not None and best[0] >= _FUZZY_TITLE:
        return best[1], True, f"标题近似匹配（相似度{best[0]:.2f}）"
    return None, False, ""


def _labels_seen(lines: Sequence[str]) -> set[str]:
    lex = _lexicon()
    seen: set[str] = set()
    for line in lines:
        for m in lex.label_re.finditer(canonical(line)):
            seen.add(lex.label_of[_SPACES.sub("", m.group("label"))].label)
    return seen


def _line_at(text: str, start: int, end: int) -> str:
    lo = text.rfind("\n", 0, start) + 1
    hi = text.find("\n", end)
    return text[lo : hi if hi >= 0 else len(text)].strip()


def read_certificate(text: str, *, year_now: int | None = None) -> Certificate | None:
    """The certificate ``text`` (OCR of one image) shows, or None when it reads as none.

    ``year_now`` bounds plausible years in numbers (default: the current year)."""
    if not text or not text.strip():
        return None
    return _read(text, year_now if year_now is not None else datetime.now().year)


@lru_cache(maxsize=1024)
def _read(text: str, year_now: int) -> Certificate | None:
    lex = _lexicon()
    repaired = repair_ocr(text)
    lines = repaired.splitlines()
    numbers = extract_numbers(repaired, year_now=year_now)
    title_type, title_top, title_note = _title(lines)
    labels = _labels_seen(lines)
    scores: dict[DocType, float] = dict.fromkeys(DOC_TYPES, 0.0)
    if title_type is not None:
        scores[title_type] += _TITLE_TOP if title_top else _TITLE_ELSEWHERE
    kinds_seen = {n.kind for n in numbers}
    for kind in kinds_seen:
        doc = lex.number_kinds.get(kind)
        if doc is not None:
            scores[doc] += _USCC_CUE if kind == "uscc" else _NUMBER_CUE
    for doc, words in lex.type_labels.items():
        scores[doc] += min(3, len(words & labels))
    best = max(DOC_TYPES, key=lambda d: (scores[d], -DOC_TYPES.index(d)))
    number_cue = any(lex.number_kinds.get(k) == best for k in kinds_seen if k != "uscc")
    # a title alone (「本店已取得医疗器械经营许可证」 on a banner) is no certificate: a number or a label too
    if (
        scores[best] < _MIN_SCORE
        or not (title_type == best or number_cue or len(lex.type_labels[best] & labels) >= 3)
        or not (number_cue or labels)
    ):
        return None
    notes: list[str] = []
    if title_note:
        notes.append(title_note)
    if title_type is None:
        notes.append("未识别到证照标题，按编号和字段判断类型")
    elif title_type != best:
        notes.append(f"标题读作{DOC_TITLES[title_type]}，按编号和字段判为{DOC_TITLES[best]}")
    fields = _read_fields(lines)
    candidates = [n for n in numbers if lex.number_kinds.get(n.kind) == best]
    if best != "company_license":
        candidates = [n for n in candidates if n.kind != "uscc"]
    chosen: NumberMatch | None = next(
        (n for n in candidates if n.valid), candidates[0] if candidates else None
    )
    if chosen is None and best == "company_license" and "uscc" in fields:
        notes.append("统一社会信用代码校验未通过或未读全")
    if chosen is None:
        notes.append("未读到证照编号")
    elif repaired[chosen.start : chosen.end] != text[chosen.start : chosen.end]:
        notes.append(f"编号经OCR纠错：{text[chosen.start : chosen.end].strip()}→{chosen.raw.strip()}")
    if chosen is not None and not chosen.valid:
        notes.append("编号格式校验未通过：" + "；".join(chosen.problems))
    confidence = min(1.0, scores[best] / 12) * (1.0 if chosen is not None and chosen.valid else 0.7)
    return Certificate(
        doc_type=best,
        number=chosen.normalized if chosen is not None else None,
        fields=fields,
        number_kind=chosen.kind if chosen is not None else None,
        number_valid=chosen.valid if chosen is not None else False,
        number_problems=chosen.problems if chosen is not None else (),
        number_raw=text[chosen.start : chosen.end].strip() if chosen is not None else "",
        number_line=_line_at(text, chosen.start, chosen.end) if chosen is not None else "",
        number_start=chosen.start if chosen is not None else -1,
        number_end=chosen.end if chosen is not None else -1,
        device_class=chosen.device_class if chosen is not None else None,
        category_code=(chosen.parts.get("cat") or None) if chosen is not None else None,
        title_read=title_type is not None,
        confidence=round(confidence, 2),
        notes=tuple(notes),
    )


# --- numbers and certificates of a page's images ---------------------------------------------


@dataclass(frozen=True, slots=True)
class ImageNumber:
    """A number read in an image: ``number`` offsets index ``image.text`` (as read; the match itself
    comes from the repaired text, same length)."""

    number: NumberMatch
    image: ImageText

    @property
    def line(self) -> str:
        return _line_at(self.image.text, self.number.start, self.number.end)

    def evidence(self, page_url: str | None, detail: Mapping[str, str] | None = None) -> Evidence:
        n = self.number
        as_read = self.image.text[n.start : n.end].strip()
        return ocr_evidence(self.image, n.start, n.end, as_read, page_url, detail)


def ocr_evidence(
    image: ImageText,
    start: int,
    end: int,
    match: str,
    page_url: str | None,
    detail: Mapping[str, str] | None = None,
) -> Evidence:
    """Evidence quoting the line read in ``image`` (±30 characters around the span)."""
    return Evidence(
        "ocr",
        snippet(image.text, start, end),
        match=match,
        image_url=image.image_url,
        page_url=page_url,
        detail=dict(detail or {}),
    )


@lru_cache(maxsize=512)
def image_numbers(images: tuple[ImageText, ...], year_now: int) -> tuple[ImageNumber, ...]:
    """Every number read in ``images`` (after OCR repair), image by image, in reading order."""
    out: list[ImageNumber] = []
    for image in images:
        if not image.text:
            continue
        for n in extract_numbers(repair_ocr(image.text), year_now=year_now):
            out.append(ImageNumber(n, image))
    return tuple(out)


def image_certificates(images: tuple[ImageText, ...], year_now: int) -> list[tuple[ImageText, Certificate]]:
    """The images that read as certificates, with what they show."""
    out: list[tuple[ImageText, Certificate]] = []
    for image in images:
        cert = _read(image.text, year_now) if image.text.strip() else None
        if cert is not None:
            out.append((image, cert))
    return out


def field_evidence(
    image: ImageText, value: str, page_url: str | None, detail: Mapping[str, str] | None = None
) -> Evidence:
    """Evidence for a field value read in ``image`` (the line holding it, when found)."""
    pos = image.text.find(value)
    if pos < 0:
        compact = _SPACES.sub("", value)
        pos = image.text.find(compact[:6]) if compact else -1
        end = pos + len(compact[:6])
    else:
        end = pos + len(value)
    if pos < 0:
        return Evidence(
            "ocr", value, match=value, image_url=image.image_url, page_url=page_url, detail=dict(detail or {})
        )
    return ocr_evidence(image, pos, end, value, page_url, detail)
