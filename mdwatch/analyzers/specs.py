"""Does a listed model or specification name one of the registered ones?

A registration's 型号规格 is written as a list (A、B、C; A/B), a series (BP-100系列), a run of
models (YE650A～YE650D), a range of values (-1.00D至-6.00D，每0.25D一档; with 至, 到, ～, ~ or －)
or a size in one of several notations (20×30cm, 20*30cm, 20x30 cm; 4贴/盒 vs 4贴). A listing that
shows one member of such a list, series, run or range, or the same size in another notation,
shows a registered model (GSP-NET 第十三条第二款 asks for the information "as registered", not
for the same typography).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from functools import lru_cache

from mdwatch.analyzers.evasion import simplify
from mdwatch.analyzers.normalize import fold

__all__ = ["canonical_spec", "join_notation", "range_outside", "range_within", "spec_in_range", "spec_matches"]

_TIMES = re.compile(r"(?<=\d)\s*[×*✕xX]\s*(?=\d)|(?<=[a-zA-Z])\s*[×*✕]\s*(?=\d)")
_PACK_SUFFIX = re.compile(r"(?<=[\d片贴只支粒袋个条卷片副枚张])\s*/\s*(?:盒|袋|包|瓶|支|箱|套|板|罐|卷)$")
_SERIES = re.compile(r"(系列|型号?)$")
_NUM = r"[-+－﹣]?\d+(?:\.\d+)?"
_UNIT = r"[a-zμ°%度℃]{0,4}"
_VALUE_RANGE = re.compile(rf"({_NUM})\s*({_UNIT})\s*(?:至|到|～|~|〜|—|－)\s*({_NUM})\s*({_UNIT})")
_VALUE = re.compile(rf"({_NUM})\s*({_UNIT})")
_MODEL_RANGE = re.compile(r"([a-z0-9][a-z0-9\-_.]*?)(\d+|[a-z])\s*(?:至|到|～|~|〜)\s*([a-z0-9][a-z0-9\-_.]*?)(\d+|[a-z])(?![a-z0-9])")
_SPLIT = re.compile(r"[、,，;；/|\s]+")
_DIMS = re.compile(r"^(\d+(?:\.\d+)?)([a-z]{0,2})((?:x\d+(?:\.\d+)?[a-z]{0,2})+)$")
_UNIT_BEFORE_TIMES = re.compile(r"(\d(?:\.\d+)?)\s*(?:mm|cm|m)(?=x\d)")
_BRACKETED = re.compile(r"[(（][^)）]*[)）]")
# a size then a count in one spec, joined by ×, -, * or nothing (60mm×120mm×4贴, 60mm*120mm-4贴,
# 60x120mm 4贴): one notation
_COUNT_JOIN = re.compile(r"(?<=[mlg])\s*[x\-*]?\s*(?=\d+(?:贴|片|只|支|袋|个|粒|条|卷|人份|枚|对|副|套|张))")
_DROP = re.compile(r"[\s\u3000()（）\[\]【】\"'“”‘’:：]")


_UNIT_GAP = re.compile(r"(?<=\d)\s+(?=(?:mm|cm|ml|mL|m|g|kg|D|G|L|μm)(?![A-Za-z]))")


def join_notation(text: str) -> str:
    """One token per size or value: 「10 X 10 cm」 → 「10x10cm」, 「-3.50 D」 → 「-3.50D」."""
    return _UNIT_GAP.sub("", _TIMES.sub("x", text))


def _sign(text: str) -> str:
    return text.replace("－", "-").replace("﹣", "-")


@lru_cache(maxsize=16384)
def canonical_spec(text: str) -> str:
    """A spec in one notation: NFKC, simplified, lower case, no spaces, ``x`` for ×/*/X between
    numbers, a trailing per-pack unit (/盒) dropped."""
    out = unicodedata.normalize("NFKC", simplify(fold(text))).lower()
    out = _TIMES.sub("x", out)
    out = _COUNT_JOIN.sub("-", out)
    out = _UNIT_BEFORE_TIMES.sub(r"\1", out)  # 7.5cmx7.5cm → 7.5x7.5cm
    out = _DROP.sub("", out)
    out = _PACK_SUFFIX.sub("", out)
    return _sign(out)


def _dims(text: str) -> tuple[tuple[float, ...], str] | None:
    """``20x30cm`` → ((20.0, 30.0), "cm"); units written after each number are allowed."""
    m = _DIMS.match(text)
    if m is None:
        return None
    numbers = [float(x) for x in re.findall(r"\d+(?:\.\d+)?", text)]
    units = {u for u in re.findall(r"[a-z]+", re.sub(r"x(?=\d)", " ", text))}
    if len(units) > 1:
        return None
    return tuple(numbers), next(iter(units), "")


def spec_in_range(shown: str, registered: str) -> bool:
    """``shown`` (one value such as -3.50D) lies within a range written in ``registered``."""
    reg = canonical_spec(registered)
    value = _VALUE.fullmatch(canonical_spec(shown))
    if value is None:
        return False
    number, unit = float(value.group(1)), value.group(2)
    for m in _VALUE_RANGE.finditer(reg):
        lo, hi = float(m.group(1)), float(m.group(3))
        lo_unit, hi_unit = m.group(2), m.group(4)
        range_unit = hi_unit or lo_unit
        if unit and range_unit and unit != range_unit:
            continue
        if not unit and not range_unit:
            continue  # bare numbers: too weak to call a match
        if min(lo, hi) <= number <= max(lo, hi):
            return True
    return False


def _in_model_run(shown: str, registered: str) -> bool:
    """``shown`` is one of a run of models such as yE650a～ye650d or bp1～bp5."""
    for m in _MODEL_RANGE.finditer(registered):
        prefix_a, start, prefix_b, end = m.groups()
        if prefix_a != prefix_b or not shown.startswith(prefix_a):
            continue
        rest = shown[len(prefix_a) :]
        if start.isdigit() and end.isdigit() and rest.isdigit():
            if int(start) <= int(rest) <= int(end):
                return True
        elif (len(start) == len(end) == len(rest) == 1 and start.isalpha() and end.isalpha() and rest.isalpha()
              and start <= rest <= end):
            return True
    return False


def _one_matches(shown: str, entry: str) -> bool:
    if not shown or not entry:
        return False
    if shown == entry:
        return True
    series = _SERIES.sub("", entry)
    if series != entry and len(series) >= 2 and (shown.startswith(series) or _SERIES.sub("", shown) == series):
        return True
    dims_a, dims_b = _dims(shown), _dims(entry)
    if dims_a is not None and dims_b is not None:
        (na, ua), (nb, ub) = dims_a, dims_b
        return na == nb and (ua == ub or not ua or not ub)
    return _in_model_run(shown, entry) or spec_in_range(shown, entry)


def spec_matches(shown: str, registered: Iterable[str]) -> bool:
    """The listing's model/spec ``shown`` names (one of) the registered models or specs."""
    shown = _BRACKETED.sub(" ", fold(shown))  # 「7.5*7.5cm-8层（灭菌型）」: the descriptor aside
    page = canonical_spec(shown)
    segments = {canonical_spec(s) for s in _SPLIT.split(shown) if s.strip()} | {page}
    for entry in registered:
        whole = canonical_spec(entry)
        parts = {canonical_spec(p) for p in _SPLIT.split(fold(entry)) if p.strip()} | {whole}
        # 「14.5cm×9.5cm（儿童）」: the bracketed descriptor says whom, not which size
        parts |= {canonical_spec(_BRACKETED.sub("", fold(p))) for p in _SPLIT.split(fold(entry)) if p.strip()}
        parts.discard("")
        for seg in segments:
            if any(_one_matches(seg, p) for p in parts):
                return True
            if _in_model_run(seg, whole) or spec_in_range(seg, entry):
                return True
    return False


def _ranges(text: str) -> list[tuple[float, float, str]]:
    out = []
    for m in _VALUE_RANGE.finditer(canonical_spec(text)):
        lo, hi = float(m.group(1)), float(m.group(3))
        unit = m.group(4) or m.group(2)
        if unit:
            out.append((min(lo, hi), max(lo, hi), unit))
    return out


def range_outside(shown: str, registered: Iterable[str]) -> bool:
    """The page offers a range of values (-0.50D～-10.00D) that reaches beyond every registered
    range in the same unit (-0.50D～-8.00D): a specification outside the registration."""
    offered = _ranges(shown)
    if not offered:
        return False
    allowed = [r for entry in registered for r in _ranges(entry)]
    for lo, hi, unit in offered:
        same_unit = [(a, b) for a, b, u in allowed if u == unit]
        if same_unit and not any(a <= lo and hi <= b for a, b in _merged(same_unit)):
            return True
    return False


def _merged(ranges: list[tuple[float, float]]) -> list[tuple[float, float]]:
    """Ranges joined where they touch or nearly touch (-0.50～-6.00 and -6.50～-10.00 in steps)."""
    out: list[tuple[float, float]] = []
    for a, b in sorted(ranges):
        if out and a <= out[-1][1] + 0.5:
            out[-1] = (out[-1][0], max(out[-1][1], b))
        else:
            out.append((a, b))
    return out


def range_within(shown: str, registered: Iterable[str]) -> bool:
    """Every range of values the page offers lies within a registered range of the same unit."""
    offered = _ranges(shown)
    allowed = [r for entry in registered for r in _ranges(entry)]
    if not offered or not allowed:
        return False
    for lo, hi, unit in offered:
        same_unit = [(a, b) for a, b, u in allowed if u == unit]
        if not any(a <= lo and hi <= b for a, b in _merged(same_unit)):
            return False
    return True

