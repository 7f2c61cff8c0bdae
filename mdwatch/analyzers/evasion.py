"""Normalisation that sees through the ways sellers dodge keyword filters.

``normalize_for_matching`` folds full-width forms to ASCII, upper to lower case and traditional
to simplified characters (1:1, from OpenCC's ``TSCharacters`` table), and drops the spaces,
symbols and in-word punctuation sellers insert inside words (根 治, 根*治, 根-治, 根·治, 根🔥治).
Sentence punctuation (。，！？；：、 and their ASCII forms) and line breaks are kept, so separate
sentences and separate text blocks are never glued into one word.

The folded text is usually what a matcher needs; the map back to the page's original offsets
is built only when a hit needs evidence (``OffsetMap``), and costs nothing when no character
was dropped. See ``docs/rule-semantics.md`` and RULES.md ("Sellers dodge keyword filters").
"""

from __future__ import annotations

import re
import unicodedata
from bisect import bisect_right
from dataclasses import dataclass
from functools import cache
from importlib import resources
from itertools import accumulate

from mdwatch.analyzers.buildcache import cached_build
from mdwatch.analyzers.normalize import FOLD_TABLE

# Kept as boundaries: sentence and clause punctuation, line breaks, and ``%`` (part of claims).
KEEP = frozenset("。，！？；：、,!?;:%\n")
_DROP_CATEGORIES = frozenset({"Zs", "So", "Sk", "Sm", "Sc", "Pd", "Pc", "Ps", "Pe", "Pi", "Pf", "Po", "Cf"})
_MAX_CP = 0x20000


@cache
def t2s_table() -> dict[int, int]:
    """Traditional → simplified, one character to one character (OpenCC ``TSCharacters``)."""
    data = resources.files("opencc").joinpath("dictionary/TSCharacters.txt").read_text(encoding="utf-8")
    out: dict[int, int] = {}
    for line in data.splitlines():
        parts = line.split("\t")
        if len(parts) < 2 or len(parts[0]) != 1:
            continue
        target = parts[1].split(" ")[0]
        if len(target) == 1 and target != parts[0]:
            out[ord(parts[0])] = ord(target)
    return out


@cache
def drop_codepoints() -> frozenset[int]:
    """Characters removed before matching: spaces (not line breaks), symbols, in-word punctuation."""
    out = set()
    for cp in range(0x20, _MAX_CP):
        ch = chr(cp)
        if ch in KEEP:
            continue
        if unicodedata.category(ch) in _DROP_CATEGORIES:
            out.add(cp)
    out.add(0x09)  # tab
    out.add(0x0D)  # carriage return
    # Keep the full-width forms of kept punctuation: they fold to their ASCII forms instead.
    return frozenset(cp for cp in out if chr(FOLD_TABLE.get(cp, cp)) not in KEEP)


@cache
def match_table() -> dict[int, int | None]:
    """The single ``str.translate`` table: fold, lower, traditional → simplified, drop.

    Kept in the user's build cache: finding the characters to drop asks ``unicodedata`` about
    every code point below U+20000, 0.05 s of each process's start (a scan, a sweep worker).
    """
    return cached_build("match_table", _build_match_table, lexicons=[],
                        modules=[__name__, "mdwatch.analyzers.normalize", "opencc"])


def _build_match_table() -> dict[int, int | None]:
    table: dict[int, int | None] = {}
    t2s = t2s_table()
    for cp, folded in FOLD_TABLE.items():
        ch = chr(folded).lower()
        table[cp] = t2s.get(ord(ch), ord(ch))
    for cp in range(ord("A"), ord("Z") + 1):
        table[cp] = cp + 32
    for cp, simp in t2s.items():
        table.setdefault(cp, simp)
    for cp in drop_codepoints():
        table[cp] = None
    for cp, folded in FOLD_TABLE.items():  # a full-width symbol is dropped like its ASCII form
        if folded in table and table[folded] is None:
            table[cp] = None
    return table


def _ranges(cps: frozenset[int]) -> str:
    items = sorted(cps)
    parts: list[str] = []
    i = 0
    while i < len(items):
        j = i
        while j + 1 < len(items) and items[j + 1] == items[j] + 1:
            j += 1
        lo, hi = items[i], items[j]
        parts.append(re.escape(chr(lo)) if lo == hi else f"{re.escape(chr(lo))}-{re.escape(chr(hi))}")
        i = j + 1
    return "".join(parts)


@dataclass(frozen=True, slots=True)
class _Compiled:
    drop_re: re.Pattern[str]  # BMP characters to drop (one C pass, no Python per character)
    astral_drop_re: re.Pattern[str]  # astral characters to drop (emoji): run only when present
    map_re: re.Pattern[str]  # BMP characters to map (full-width letters/digits/%, traditional)
    map_table: dict[int, int]
    astral_mapped: re.Pattern[str]  # astral characters the map would change (rare: slow path)
    full_table: dict[int, int | None]  # slow path: astral characters, length-changing lower()


_ASTRAL = re.compile("[\U00010000-\U0010FFFF]")


@cache
def _compiled() -> _Compiled:
    table = match_table()
    drop = frozenset(cp for cp, v in table.items() if v is None and cp < 0x10000)
    mapping = {
        cp: v
        for cp, v in table.items()
        # full-width ，！？；： stay as they are: they are boundaries either way
        if v is not None and cp < 0x10000 and not (65 <= cp <= 90) and not (cp > 127 and chr(v) in KEEP and v != 37)
    }
    return _Compiled(
        drop_re=re.compile("[" + _ranges(drop) + "]"),
        astral_drop_re=re.compile(
            "[" + _ranges(frozenset(cp for cp, v in table.items() if v is None and cp >= 0x10000)) + "]"
        ),
        map_re=re.compile("[" + _ranges(frozenset(mapping)) + "]"),
        map_table=mapping,
        astral_mapped=re.compile(
            "[" + (_ranges(frozenset(cp for cp, v in table.items() if v is not None and cp >= 0x10000)) or "\U0010FFFF") + "]"
        ),
        full_table=table,
    )


def _fast_ok(text: str, lowered: str) -> bool:
    """Regex passes suffice unless lower() changes the length or an astral character needs mapping."""
    if len(lowered) != len(text):
        return False
    astral = _ASTRAL.search(text)
    return astral is None or _compiled().astral_mapped.search(text) is None


def fold_for_matching(text: str) -> str:
    """The normalised text only (fast path; no offsets). Full-width ，！？；： are kept as they are."""
    comp = _compiled()
    lowered = text.lower()
    if not _fast_ok(text, lowered):
        return text.translate(comp.full_table)
    if comp.map_re.search(lowered) is not None:
        # usually a handful of characters: a per-match callback beats a dict translate of the page
        table = comp.map_table
        lowered = comp.map_re.sub(lambda m: chr(table[ord(m.group())]), lowered)
    if _ASTRAL.search(lowered) is not None:
        lowered = comp.astral_drop_re.sub("", lowered)
    return comp.drop_re.sub("", lowered)


@dataclass(frozen=True, slots=True)
class OffsetMap:
    """Maps an index in the normalised text back to the index in the original text."""

    original: str
    _marks: tuple[int, ...]  # for the k-th dropped character: its original position minus k

    @classmethod
    def build(cls, original: str) -> OffsetMap:
        comp = _compiled()
        if _fast_ok(original, original.lower()):
            dropped = [m.start() for m in comp.drop_re.finditer(original)]
            if _ASTRAL.search(original) is not None:
                dropped = sorted(dropped + [m.start() for m in comp.astral_drop_re.finditer(original)])
            marks = tuple(pos - k for k, pos in enumerate(dropped))
        else:
            table = comp.full_table
            dropped = [i for i, ch in enumerate(original) if table.get(ord(ch), 0) is None]
            marks = tuple(pos - k for k, pos in enumerate(dropped))
        return cls(original, marks)

    def orig(self, i: int) -> int:
        """Original index of normalised character ``i``."""
        return i + bisect_right(self._marks, i) if self._marks else i

    def span(self, start: int, end: int) -> tuple[int, int]:
        """Original ``(start, end)`` of the normalised span ``[start, end)`` (``end > start``)."""
        return self.orig(start), self.orig(end - 1) + 1


class LineOffsetMap:
    """Like ``OffsetMap``, built line by line on demand.

    Line breaks survive normalisation, so line *k* of the normalised text is line *k* of the
    original; a hit needs the offset map of its own line only, not of the whole page.
    """

    __slots__ = ("_lines", "_norm_starts", "_orig_starts", "original")

    def __init__(self, original: str, norm: str) -> None:
        self.original = original
        self._norm_starts = _line_starts(norm)
        self._orig_starts = _line_starts(original)
        self._lines: dict[int, OffsetMap] = {}

    def _line(self, k: int) -> OffsetMap:
        omap = self._lines.get(k)
        if omap is None:
            lo = self._orig_starts[k]
            hi = self._orig_starts[k + 1] if k + 1 < len(self._orig_starts) else len(self.original)
            omap = self._lines[k] = OffsetMap.build(self.original[lo:hi])
        return omap

    def orig(self, i: int) -> int:
        k = bisect_right(self._norm_starts, i) - 1
        return self._orig_starts[k] + self._line(k).orig(i - self._norm_starts[k])

    def span(self, start: int, end: int) -> tuple[int, int]:
        return self.orig(start), self.orig(end - 1) + 1


def _line_starts(text: str) -> list[int]:
    """Start offset of every line (C-level passes: split, len, accumulate)."""
    ends = list(accumulate(map(len, text.split("\n"))))  # end of line k, minus the k newlines before it
    return [0, *(end + k + 1 for k, end in enumerate(ends[:-1]))]


@dataclass(frozen=True, slots=True)
class NormText:
    """Normalised text; ``offsets[i]`` is the index in the original of normalised char ``i``."""

    text: str
    offsets: tuple[int, ...] | list[int]


def normalize_for_matching(text: str) -> NormText:
    """Fold, lower, traditional → simplified, drop in-word symbols; with the full offset map."""
    norm = fold_for_matching(text)
    omap = OffsetMap.build(text)
    return NormText(norm, [omap.orig(i) for i in range(len(norm))])


# --- whole-page traditional → simplified -----------------------------------------------------

#: a page with at least this many traditional characters is read as a traditional-Chinese page
TRADITIONAL_MIN_CHARS = 4


@cache
def _t2s_compiled() -> tuple[re.Pattern[str], dict[int, int]]:
    table = {cp: v for cp, v in t2s_table().items() if cp < 0x10000}
    return re.compile("[" + _ranges(frozenset(table)) + "]"), table


def looks_traditional(text: str) -> bool:
    """True when ``text`` holds at least :data:`TRADITIONAL_MIN_CHARS` traditional characters.

    A few characters that simplified texts also use (乾 in 乾坤, 著 in names) never reach the count
    on a simplified page; a traditional page reaches it in its first line.
    """
    pattern, _ = _t2s_compiled()
    hits = pattern.finditer(text)
    return all(next(hits, None) is not None for _ in range(TRADITIONAL_MIN_CHARS))


def simplify(text: str) -> str:
    """Traditional → simplified, character by character (OpenCC ``TSCharacters``): the result has
    the same length as ``text``, so an offset in one is the same offset in the other."""
    pattern, table = _t2s_compiled()
    return pattern.sub(lambda m: chr(table[ord(m.group())]), text)
