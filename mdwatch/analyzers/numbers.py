"""Registration, filing and licence numbers: extraction and format validation.

Formats and checks: ``shared/REGISTRY-NOTES.md`` §0–§1. Candidates are found with loose
patterns that accept ASCII and full-width digits, letters and brackets alike, on the text as it
stood on the page (so offsets need no mapping); the captured parts are then folded
(``normalize.fold``) and validated strictly. Folding the whole page first would cost more than
all the matching. Malformed numbers are returned
with ``valid=False`` and Chinese reasons in ``problems``. False friends (国药准字, ICP numbers,
文号 such as 国食药监械〔2007〕345号, the phrase 械字号) have no anchor here and are never returned.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Literal

from mdwatch.analyzers.normalize import fold

NumberKind = Literal[
    "registration",
    "registration_legacy",
    "filing",
    "business_license",
    "business_filing",
    "production_license",
    "production_filing",
    "platform_filing",
    "seller_net_filing",
    "internet_drug_info",
    "uscc",
]

PROVINCES = "京津沪渝冀豫云辽黑湘皖鲁新苏浙赣鄂桂甘晋蒙陕吉闽贵粤青藏川宁琼"
_ISSUERS = frozenset(PROVINCES + "国")
_PROVINCE_SET = frozenset(PROVINCES)


def _codes(*spans: tuple[int, int]) -> frozenset[str]:
    return frozenset(f"{i:02d}" for lo, hi in spans for i in range(lo, hi + 1))


CATEGORIES_2002 = _codes(
    (1, 10), (12, 13), (15, 16), (20, 28), (30, 34), (40, 41), (45, 46), (54, 58), (63, 66), (70, 70), (77, 77)
)
CATEGORIES_2017 = _codes((1, 22), (40, 40))
CATEGORIES = CATEGORIES_2002 | CATEGORIES_2017

NEW_REGISTRATION_SINCE = 2014
LEGACY_YEARS = (1995, 2014)
LICENCE_SINCE = 1995
NET_FILING_SINCE = 2017


@dataclass(frozen=True, slots=True)
class NumberMatch:
    """One number found in a text, as shown and in canonical form, with its validation result."""

    kind: NumberKind
    raw: str
    normalized: str
    start: int
    end: int
    valid: bool
    problems: tuple[str, ...] = ()
    parts: Mapping[str, str] = field(default_factory=dict, hash=False, compare=False)

    @property
    def device_class(self) -> int | None:
        """Management class the number implies (1 for class I filings), if it says one."""
        if self.kind == "filing":
            return 1
        cls = self.parts.get("cls", "")
        return int(cls) if cls in ("1", "2", "3") else None


# --- shared pieces ------------------------------------------------------------------------

_S = r"[^\S\n]*"  # whitespace inside a number, never a line break
_D = "[0-9０-９]"
_AN = "[0-9A-Za-z０-９Ａ-Ｚａ-ｚ]"
_DIGITS = rf"{_D}(?:[^\S\n]?{_D})*"  # a digit run, single spaces allowed inside
_ALNUM = rf"{_AN}(?:[^\S\n]?{_AN})*"
_OPEN = "[(\\[<（［〔【﹝〈]"
_CLOSE = "[)\\]>）］〕】﹞〉]"
_DASH = "[-－]"
_GROUP = re.compile(r"\S+")
_SPACE = re.compile(r"\s+")
_HAO = re.compile(_S + "号")


def _compact(s: str) -> str:
    """Spaces dropped, full-width folded, letters upper-cased."""
    return fold(_SPACE.sub("", s)).upper()


def _is_cjk(ch: str) -> bool:
    return "\u4e00" <= ch <= "\u9fff"


@dataclass(frozen=True, slots=True)
class _Prefix:
    issuer: str  # 国, a province, an unknown character, or "" when nothing precedes
    city: str
    start: int
    known: bool


def _prefix(text: str, pos: int, window: int = 3) -> _Prefix:
    """The issuing-authority abbreviation right before ``pos``: 国 or a province plus 0–2 city characters."""
    lo = pos
    while lo > 0 and pos - lo < window and _is_cjk(text[lo - 1]):
        lo -= 1
    run = text[lo:pos]
    for i in range(len(run) - 1, -1, -1):
        if run[i] in _ISSUERS:
            # a city abbreviation that is also a province's (豫新械备: 新乡, not 新疆; 鲁青, 浙宁):
            # the province stands before it
            if i > 0 and run[i - 1] in _ISSUERS and run[i - 1] != "国":
                return _Prefix(run[i - 1], run[i:], lo + i - 1, True)
            return _Prefix(run[i], run[i + 1 :], lo + i, True)
    if run:
        return _Prefix(run[-1], "", pos - 1, False)
    return _Prefix("", "", pos, False)


def _cut(text: str, start: int, end: int, lengths: tuple[int, ...]) -> tuple[str, int]:
    """The run ``text[start:end]`` cut at a space where its length (spaces dropped) is one of
    ``lengths``; else its first space-free group. Returns (value without spaces, end offset)."""
    groups = list(_GROUP.finditer(text, start, end))
    total = 0
    cut = groups[0].end()
    for g in groups:
        total += g.end() - g.start()
        if total in lengths:
            cut = g.end()
            break
        if total > max(lengths):
            break
    return _compact(text[start:cut]), cut


def _with_hao(text: str, end: int) -> int:
    m = _HAO.match(text, end)
    return m.end() if m else end


def _year_problems(year: str, lo: int, year_now: int, what: str = "", hi: int | None = None) -> list[str]:
    if len(year) != 4 or not year.isdigit():
        return [f"年份“{year}”不是4位数字"]
    y = int(year)
    if y > year_now:
        return [f"年份{y}晚于当前年份"]
    if hi is not None and y > hi:
        return [f"年份{y}晚于{hi}年{what}"]
    if y < lo:
        return [f"年份{y}早于{lo}年{what}"]
    return []


def _issuer_problems(pre: _Prefix) -> list[str]:
    if not pre.issuer:
        return ["缺少发证机关简称（国或省份简称）"]
    if not pre.known:
        return [f"发证机关简称“{pre.issuer}”不是国或省份简称"]
    return []


Parser = Callable[[str, "re.Match[str]", int], "NumberMatch | None"]


def _make(
    kind: NumberKind, text: str, start: int, end: int, normalized: str, problems: list[str], parts: dict[str, str]
) -> NumberMatch:
    return NumberMatch(
        kind=kind,
        raw=text[start:end],
        normalized=normalized,
        start=start,
        end=end,
        valid=not problems,
        problems=tuple(problems),
        parts={k: v for k, v in parts.items() if v},
    )


# --- 1.1 registration certificate (since 2014) ---------------------------------------------

_REG = re.compile(rf"械{_S}注{_S}(?P<origin>[准进许])?{_S}(?P<run>{_DIGITS})")


def _registration(f: str, m: re.Match[str], year_now: int) -> NumberMatch | None:
    origin = m.group("origin") or ""
    pre = _prefix(f, m.start())
    if pre.issuer == "器" or (not origin and not pre.known):
        return None
    digits, end = _cut(f, m.start("run"), m.end("run"), (11,))
    end = _with_hao(f, end)
    problems = _issuer_problems(pre)
    if pre.city:
        problems.append(f"注册证发证机关应为国或省份简称，不应带市级简称“{pre.city}”")
    if not origin:
        problems.append("缺少“准/进/许”字")
    parts = {"issuer": pre.issuer, "origin": origin}
    if len(digits) != 11:
        problems.append(f"编号数字为{len(digits)}位，应为11位（年份4位、类别1位、分类编码2位、流水号4位）")
    else:
        year, cls, cat, serial = digits[:4], digits[4], digits[5:7], digits[7:]
        parts |= {"year": year, "cls": cls, "cat": cat, "serial": serial}
        problems += _year_problems(year, NEW_REGISTRATION_SINCE, year_now, "（新格式注册证始于2014年）")
        if cls == "1":
            problems.append("类别代码1不适用于注册证（第一类实行备案）")
        elif cls not in ("2", "3"):
            problems.append(f"类别代码{cls}无效，应为2或3")
        elif origin == "准" and pre.issuer == "国" and cls != "3":
            problems.append(f"国械注准编号的类别代码应为3，实为{cls}")
        elif origin == "准" and pre.issuer in _PROVINCE_SET and cls != "2":
            problems.append(f"省级注册证（{pre.issuer}械注准）的类别代码应为2，实为{cls}")
        if cat not in CATEGORIES:
            problems.append(f"分类编码{cat}不在2002版或2017版医疗器械分类目录中")
    if origin in ("进", "许") and pre.known and pre.issuer != "国":
        problems.append(f"进口及港澳台注册证（械注{origin}）应由国家局核发，发证机关简称应为“国”")
    normalized = f"{pre.issuer}{pre.city}械注{origin}{digits}"
    return _make("registration", f, pre.start, end, normalized, problems, parts)


# --- 1.2 legacy registration (before Oct 2014) ---------------------------------------------

_LEGACY = re.compile(
    rf"械{_S}{_OPEN}?{_S}(?P<origin>[准进许试]){_S}{_CLOSE}?{_S}字{_S}"
    rf"(?P<run1>{_DIGITS})?{_S}(?P<di>第)?{_S}(?P<run2>{_DIGITS})?"
    rf"(?:{_S}(?P<hao>号))?(?:{_S}{_OPEN}{_S}(?P<suffix>[更延补]){_S}{_CLOSE})?"
)
# The agency right before 械, looked up backwards (the regex anchors on 械, which is fast).
_LEGACY_AGENCY = re.compile(rf"(?:{_OPEN}食{_CLOSE}药监|食药监|药监|食药管|药管){_S}$")


def _legacy(f: str, m: re.Match[str], year_now: int) -> NumberMatch | None:
    run1, run2 = m.group("run1"), m.group("run2")
    if not run1 and not run2:
        return None
    found = _LEGACY_AGENCY.search(f, max(0, m.start() - 8), m.start())
    if not found:
        return None
    pre = _prefix(f, found.start())
    origin = m.group("origin")
    if run1 and run2:
        year, body = _compact(run1), _compact(run2)
    else:
        compact = _compact(run1 or run2)
        year, body = compact[:4], compact[4:]
    problems = _issuer_problems(pre)
    problems += _year_problems(year, LEGACY_YEARS[0], year_now, "（旧格式注册证）", hi=LEGACY_YEARS[1])
    agency = _SPACE.sub("", found.group())
    agency = "食" + agency[3:] if len(agency) == 5 else agency  # 国(食)药监 → 国食药监
    parts = {"issuer": pre.issuer, "city": pre.city, "agency": agency, "origin": origin, "year": year}
    if len(body) not in (6, 7):
        problems.append(f"“第”后编号为{len(body)}位，应为6至7位（类别1位、分类编码2位、流水号3至4位）")
    else:
        cls, cat, serial = body[0], body[1:3], body[3:]
        parts |= {"cls": cls, "cat": cat, "serial": serial}
        if cls not in ("1", "2", "3"):
            problems.append(f"类别代码{cls}无效，应为1至3")
        elif origin == "准" and pre.issuer == "国" and cls != "3":
            problems.append(f"国家局注册（国…械(准)字）的类别代码应为3，实为{cls}")
        elif origin == "准" and pre.issuer in _PROVINCE_SET and cls == "3":
            problems.append("第三类医疗器械应由国家局注册，省级注册证类别代码不应为3")
        if cat not in CATEGORIES_2002:
            problems.append(f"分类编码{cat}不在2002版医疗器械分类目录（68xx）中")
    if origin in ("进", "许") and pre.known and pre.issuer != "国":
        problems.append(f"进口及港澳台注册证（械({origin})字）应由国家局核发")
    end = m.end()
    suffix = m.group("suffix") or ""
    parts["suffix"] = suffix
    normalized = f"{pre.issuer}{pre.city}{agency}械({origin})字{year}第{body}号" + (f"({suffix})" if suffix else "")
    return _make("registration_legacy", f, pre.start, end, normalized, problems, parts)


# --- 1.3 class I filing --------------------------------------------------------------------

_FILING = re.compile(rf"械{_S}备{_S}(?P<run>{_DIGITS})")


def _filing(f: str, m: re.Match[str], year_now: int) -> NumberMatch | None:
    pre = _prefix(f, m.start())
    if pre.issuer == "器" or not pre.issuer:
        return None
    digits, end = _cut(f, m.start("run"), m.end("run"), (8, 9))
    end = _with_hao(f, end)
    problems = _issuer_problems(pre)
    if pre.issuer == "国" and pre.city:
        problems.append(f"进口第一类备案应为“国械备”，不应带“{pre.city}”")
    parts = {"issuer": pre.issuer, "city": pre.city}
    if len(digits) not in (8, 9):
        problems.append(f"编号数字为{len(digits)}位，应为8至9位（年份4位、流水号4至5位）")
    else:
        parts |= {"year": digits[:4], "serial": digits[4:]}
        problems += _year_problems(digits[:4], NEW_REGISTRATION_SINCE, year_now, "（第一类备案始于2014年）")
    normalized = f"{pre.issuer}{pre.city}械备{digits}号"
    return _make("filing", f, pre.start, end, normalized, problems, parts)


# --- 1.4 / 1.5 business and production licences and filings --------------------------------

_LICENCE = re.compile(rf"械{_S}(?P<what>经营|生产){_S}(?P<kind>[许备]){_S}字?{_S}(?P<run>{_ALNUM})")
_AGENCIES = ("食药监", "食药管", "药监", "市监")
_LICENCE_KINDS: dict[tuple[str, str], NumberKind] = {
    ("经营", "许"): "business_license",
    ("经营", "备"): "business_filing",
    ("生产", "许"): "production_license",
    ("生产", "备"): "production_filing",
}
_BIZ_SERIAL = re.compile(r"[0-9]{4,5}|[0-9]?[A-Z][0-9]{3,4}")


def _licence(f: str, m: re.Match[str], year_now: int) -> NumberMatch | None:
    agency = next((a for a in _AGENCIES if f.endswith(a, 0, m.start())), "")
    pre = _prefix(f, m.start() - len(agency))
    if pre.issuer == "器" or (not agency and not pre.known):
        return None
    what, kind_char = m.group("what"), m.group("kind")
    kind = _LICENCE_KINDS[(what, kind_char)]
    lengths = (8, 9) if what == "经营" else (8,)
    value, end = _cut(f, m.start("run"), m.end("run"), lengths)
    end = _with_hao(f, end)
    problems = _issuer_problems(pre)
    if pre.issuer == "国":
        problems.append("生产经营许可/备案由省市级部门核发，发证机关简称不应为“国”")
    if not agency:
        problems.append("缺少发证部门（食药监/药监/市监）")
    year, serial = value[:4], value[4:]
    parts = {"issuer": pre.issuer, "city": pre.city, "agency": agency, "year": year, "serial": serial}
    problems += _year_problems(year, LICENCE_SINCE, year_now)
    if what == "经营":
        if not _BIZ_SERIAL.fullmatch(serial):
            problems.append(f"流水号“{serial}”格式不符，应为年份后4至5位编号")
    elif not (len(serial) == 4 and serial.isdigit()):
        problems.append(f"流水号“{serial}”格式不符，应为年份后4位数字")
    normalized = f"{pre.issuer}{pre.city}{agency}械{what}{kind_char}{value}号"
    return _make(kind, f, pre.start, end, normalized, problems, parts)


# --- 1.6 online-sale filings ---------------------------------------------------------------

_NET_PRE = re.compile(rf"{_OPEN}{_S}(?P<pre>[\u4e00-\u9fff]{{1,3}}){_S}{_CLOSE}{_S}$")
_NET = re.compile(
    rf"网{_S}(?:械{_S}(?P<what>平台|企)|(?P<info>药{_S}械{_S}信{_S}息)){_S}备{_S}字{_S}"
    rf"(?:{_OPEN}{_S}(?P<year>{_D}*){_S}{_CLOSE}|(?P<year2>{_D}{{4}}))?"
    rf"{_S}(?P<di>第)?{_S}(?P<serial>{_D}+)?(?:{_S}(?P<hao>号))?"
)


def _net(f: str, m: re.Match[str], year_now: int) -> NumberMatch | None:
    what = m.group("what")
    kind: NumberKind = "internet_drug_info" if m.group("info") else (
        "platform_filing" if what == "平台" else "seller_net_filing"
    )
    body = {"platform_filing": "网械平台备字", "seller_net_filing": "网械企备字"}.get(kind, "网药械信息备字")
    problems: list[str] = []
    lo = max(0, m.start() - 12)
    before = _NET_PRE.search(f, lo, m.start())
    if before:
        bracketed = before.group("pre")
        issuer, city, start = bracketed[0], bracketed[1:], before.start()
        known = issuer in _PROVINCE_SET
    else:
        p = _prefix(f, m.start())
        issuer, city, start, known = p.issuer, p.city, p.start, p.known and p.issuer != "国"
    if not issuer:
        problems.append("缺少省份简称，应为“（省）”")
    elif not known:
        problems.append(f"省份简称“{issuer}{city}”无效")
    elif kind != "seller_net_filing" and city:
        problems.append(f"备案机关应为省级，简称不应带“{city}”")
    year = _compact(m.group("year") if m.group("year") is not None else (m.group("year2") or ""))
    serial = _compact(m.group("serial") or "")
    if not year:
        problems.append("缺少备案年份")
    else:
        problems += _year_problems(year, NET_FILING_SINCE, year_now)
    if not serial:
        problems.append("缺少备案序号")
    elif not 3 <= len(serial) <= 6:
        problems.append(f"备案序号“{serial}”位数不符，应为3至6位数字")
    end = m.end()
    while end > start and f[end - 1].isspace():
        end -= 1
    parts = {"issuer": issuer, "city": city, "year": year, "serial": serial}
    normalized = f"({issuer}{city}){body}[{year}]第{serial}号"
    return _make(kind, f, start, end, normalized, problems, parts)


_ITD = re.compile(
    rf"(?P<what>非?经营性){_S}{_CLOSE}?{_S}{_DASH}{_S}(?P<year>{_D}+){_S}{_DASH}{_S}(?P<serial>{_D}+)"
)
_ITD_PRE = re.compile(
    rf"(?:{_OPEN}{_S})?(?P<issuer>[\u4e00-\u9fff])(?:{_S}{_CLOSE})?{_S}{_DASH}?{_S}{_OPEN}?{_S}$"
)


def _itd(f: str, m: re.Match[str], year_now: int) -> NumberMatch | None:
    what = m.group("what")
    year, serial = _compact(m.group("year")), _compact(m.group("serial"))
    before = _ITD_PRE.search(f, max(0, m.start() - 10), m.start())
    issuer = before.group("issuer") if before else ""
    start = before.start() if before else m.start()
    problems: list[str] = []
    if issuer not in _PROVINCE_SET:
        problems.append("缺少省份简称")
    problems += _year_problems(year, 2000, year_now)
    if len(serial) != 4:
        problems.append(f"序号“{serial}”应为4位数字")
    parts = {"issuer": issuer, "what": what, "year": year, "serial": serial}
    return _make("internet_drug_info", f, start, m.end(), f"({issuer})-{what}-{year}-{serial}", problems, parts)


# --- 1.7 统一社会信用代码 -------------------------------------------------------------------

_USCC_CHARS = "0123456789ABCDEFGHJKLMNPQRTUWXY"
_USCC_WEIGHTS = (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)
_UC = "0-9A-HJ-NPQRTUWXY０-９Ａ-ＨＪ-ＮＰＱＲＴＵＷＸＹ"
_NOT_AN = "[0-9A-Za-z０-９Ａ-Ｚａ-ｚ]"
# The character class comes first (the lookbehind after it) so the regex engine can skip
# ahead on it: that makes the scan several times faster on CJK text.
_USCC = re.compile(rf"[{_UC}]{{2}}(?<!{_NOT_AN}..){_D}{{6}}[{_UC}]{{10}}(?!{_NOT_AN})")
_USCC_LABELS = ("信用代码", "社会信用", "税号", "执照", "注册号")
_USCC_LABEL_WINDOW = 20


def uscc_valid(code: str) -> bool:
    """GB 32100-2015 check character of an 18-character 统一社会信用代码."""
    code = code.strip().upper()
    if len(code) != 18 or any(c not in _USCC_CHARS for c in code):
        return False
    total = sum(_USCC_CHARS.index(c) * w for c, w in zip(code[:17], _USCC_WEIGHTS, strict=True))
    return _USCC_CHARS[(31 - total % 31) % 31] == code[17]


def _uscc(f: str, m: re.Match[str], year_now: int) -> NumberMatch | None:
    code = fold(m.group())
    ok = uscc_valid(code)
    if not ok:
        # 18-character strings are common (order and ID-card numbers): a failing one counts only
        # when a label says it is meant as a credit code.
        before = f[max(0, m.start() - _USCC_LABEL_WINDOW) : m.start()]
        if not any(label in before for label in _USCC_LABELS):
            return None
    problems = [] if ok else ["统一社会信用代码校验位错误"]
    return _make("uscc", f, m.start(), m.end(), code, problems, {"check": code[17]})


# --- extraction ----------------------------------------------------------------------------

_SCANNERS: tuple[tuple[str, re.Pattern[str], Parser], ...] = (
    ("械", _REG, _registration),
    ("械", _LEGACY, _legacy),
    ("械", _FILING, _filing),
    ("械", _LICENCE, _licence),
    ("网", _NET, _net),
    ("经营性", _ITD, _itd),
    ("", _USCC, _uscc),
)


def extract_numbers(text: str, *, year_now: int) -> list[NumberMatch]:
    """Every registration, filing, licence and credit-code number in ``text``, in text order.

    Offsets index ``text`` itself; ``valid`` and ``problems`` give the format check against
    ``year_now`` (the latest plausible year in a number).
    """
    f = text
    found: list[NumberMatch] = []
    for cue, pattern, parse in _SCANNERS:
        if cue and cue not in f:
            continue
        for m in pattern.finditer(f):
            n = parse(f, m, year_now)
            if n is not None:
                found.append(n)
    found.sort(key=lambda n: (n.start, -(n.end - n.start)))
    out: list[NumberMatch] = []
    last_end = -1
    for n in found:
        if n.start >= last_end:
            out.append(n)
            last_end = n.end
    return out
