"""Crawl traps: the endless link spaces a sweep of an unknown platform must not follow.

A sweep follows every same-site link of a platform it has no profile for (``generic``), and some
sites link without end: an event calendar's next-day links, relative links that append path
segments forever, filter combinations, page after page of one template. :class:`TrapGuard` is
asked before the sweep spider (``crawler/sweep_spider.py``) requests a URL; it refuses a URL that

- is more than ``max_depth`` link hops from a start URL (a pagination hop does not count: a long
  paginated index is what a platform is);
- has a path segment more than ``max_segment_repeats`` times (``/a/b/a/b/a/…``: a relative-link loop);
- has more than ``max_query_params`` query parameters (filter combinations);
- carries a date and its URL pattern already had ``max_dates`` distinct dates (a calendar:
  ``?date=2026-12-06``, ``/2026/12/07/``, next-day and next-month links);
- has a URL pattern that already had ``max_per_pattern`` URLs.

A product or shop page (by the profile's link patterns) is only held to the first two: a
platform's listings and shops share one pattern each, may carry several parameters and dates, and
are what a sweep is for (the page budget caps them).

A URL pattern is the URL with its variable parts generalised (:func:`url_pattern`): dates become
``{date}``, long identifiers ``{id}``, digit runs ``{n}``, query values ``*`` (parameter names are
kept). The limits come from the profile (``traps:``, docs/design/sweeps.md) over
:class:`TrapLimits`' defaults. Each rule and pattern that stops a URL is logged once, as one
Chinese line, on the ``mdwatch.crawler.traps`` logger, and the distinct URLs stopped are counted
per rule and pattern (:meth:`TrapGuard.report`) for the sweep's summary.

Plain data and pure functions apart from the guard's counters; one guard per crawl process (a
distributed sweep applies the limits in each process).
"""

from __future__ import annotations

import logging
import re
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, fields
from typing import Any, Literal, Self
from urllib.parse import parse_qsl, urlsplit

__all__ = [
    "TRAP_LOGGER",
    "TRAP_RULES_ZH",
    "TrapCount",
    "TrapGuard",
    "TrapLimits",
    "TrapStop",
    "url_pattern",
]

TRAP_LOGGER = "mdwatch.crawler.traps"
log = logging.getLogger(TRAP_LOGGER)

TrapRule = Literal["depth", "repeats", "query", "dates", "pattern"]

#: what each rule stops, as the summary names it
TRAP_RULES_ZH: dict[str, str] = {
    "depth": "链接层级过深",
    "repeats": "路径片段循环",
    "query": "筛选参数组合",
    "dates": "日期序列（日历）",
    "pattern": "同一网址模式过多",
}


@dataclass(frozen=True, slots=True)
class TrapLimits:
    """The limits of :class:`TrapGuard`; ``None`` switches a rule off."""

    max_depth: int | None = 12  # link hops from a start URL, pagination hops not counted
    max_segment_repeats: int | None = 2  # occurrences of one path segment in a path
    max_query_params: int | None = 3  # query parameters of one URL (tracking parameters already dropped)
    max_dates: int | None = 10  # distinct dates per URL pattern
    max_per_pattern: int | None = 1000  # URLs per URL pattern (product and shop pages exempt)

    @classmethod
    def from_mapping(cls, raw: Mapping[str, Any], name: str = "") -> Self:
        """Limits from a profile's ``traps:`` mapping over the defaults; ValueError (Chinese) when malformed."""
        known = {f.name for f in fields(cls)}
        unknown = sorted(str(k) for k in raw if k not in known)
        if unknown:
            raise ValueError(f"配置 {name} 的 traps 中有未知的设置：{'、'.join(unknown)}（可用：{'、'.join(sorted(known))}）。")
        values: dict[str, int | None] = {}
        for key, value in raw.items():
            if value is None:
                values[key] = None
                continue
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"配置 {name} 的 traps.{key} 应为正整数（或 null 表示不限）。")
            values[key] = value
        return cls(**values)


@dataclass(frozen=True, slots=True)
class TrapStop:
    """Why one URL was not requested."""

    rule: TrapRule
    pattern: str
    limit: int
    first: bool  # the first stop of this rule and pattern (log its line)

    def line(self) -> str:
        """The one Chinese line logged the first time this rule stops a URL of this pattern."""
        p, n = self.pattern, self.limit
        if self.rule == "depth":
            return f"陷阱拦截：{p} 距起始网址超过 {n} 层链接，不再深入。"
        if self.rule == "repeats":
            return f"陷阱拦截：{p} 的路径片段重复超过 {n} 次，疑似循环链接，不再抓取。"
        if self.rule == "query":
            return f"陷阱拦截：{p} 的查询参数超过 {n} 个，疑似筛选组合，不再抓取。"
        if self.rule == "dates":
            return f"陷阱拦截：日期序列 {p} 已抓取 {n} 个日期，疑似无尽日历，其余日期不再抓取。"
        return f"陷阱拦截：网址模式 {p} 已抓取 {n} 个网址，其余不再抓取。"


@dataclass(frozen=True, slots=True)
class TrapCount:
    """URLs one rule stopped for one pattern during a crawl."""

    rule: str
    pattern: str
    stopped: int
    limit: int

    def line(self) -> str:
        name = TRAP_RULES_ZH.get(self.rule, self.rule)
        return f"陷阱拦截：{name} {self.pattern}，{self.stopped} 个网址未抓取（上限 {self.limit}）。"

    def to_stats(self) -> dict[str, Any]:
        return {"rule": self.rule, "pattern": self.pattern, "stopped": self.stopped, "limit": self.limit}

    @classmethod
    def from_stats(cls, raw: Mapping[str, Any]) -> TrapCount:
        return cls(str(raw["rule"]), str(raw["pattern"]), int(raw["stopped"]), int(raw["limit"]))


# ----------------------------------------------------------------------------- URL patterns

_YEAR = r"(?:19|20)\d{2}"
_MONTH = r"(?:0?[1-9]|1[0-2])"
_DAY = r"(?:0?[1-9]|[12]\d|3[01])"
# a date written with separators inside one segment or value: 2026-12-06, 2026_12_06, 2026.12, 2026-12
_DATE_IN_TEXT = re.compile(rf"(?<!\d){_YEAR}([-_.]){_MONTH}(?:\1{_DAY})?(?!\d)")
# 20261206 only where the parameter says it is a date (an eight-digit id would look the same)
_COMPACT_DATE = re.compile(rf"^{_YEAR}(?:0[1-9]|1[0-2])(?:0[1-9]|[12]\d|3[01])$")
_DATE_PARAM = re.compile(r"date|day|riqi|rq$", re.IGNORECASE)
_YEAR_SEG = re.compile(rf"^{_YEAR}$")
_MONTH_SEG = re.compile(rf"^{_MONTH}$")
_DAY_SEG = re.compile(rf"^{_DAY}$")
# a long identifier: hex of 12+, or 16+ characters of a token that holds a digit
_ID = re.compile(r"(?<![0-9A-Za-z])(?:[0-9a-fA-F]{12,}|(?=[A-Za-z_-]*\d)[0-9A-Za-z_-]{16,})(?![0-9A-Za-z])")
_DIGITS = re.compile(r"\d+")


def _generalise_segment(segment: str, dates: list[str]) -> str:
    def date(m: re.Match[str]) -> str:
        dates.append(re.sub(r"[-_.]", "-", m.group(0)))
        return "{date}"

    segment = _DATE_IN_TEXT.sub(date, segment)
    segment = _ID.sub("{id}", segment)
    return _DIGITS.sub("{n}", segment)


def _generalise_path(path: str, dates: list[str]) -> str:
    segs = path.split("/")
    out: list[str] = []
    i = 0
    while i < len(segs):
        # /2026/12/07/ and /2026/12/: a date spread over path segments
        if _YEAR_SEG.match(segs[i]) and i + 1 < len(segs) and _MONTH_SEG.match(segs[i + 1]):
            parts = [segs[i], segs[i + 1]]
            if i + 2 < len(segs) and _DAY_SEG.match(segs[i + 2]):
                parts.append(segs[i + 2])
            dates.append("-".join(parts))
            out.append("{date}")
            i += len(parts)
            continue
        out.append(_generalise_segment(segs[i], dates))
        i += 1
    return "/".join(out)


def _pattern_and_dates(url: str) -> tuple[str, tuple[str, ...]]:
    parts = urlsplit(url)
    dates: list[str] = []
    path = _generalise_path(parts.path or "/", dates)
    query: list[str] = []
    for name, value in parse_qsl(parts.query, keep_blank_values=True):
        if _COMPACT_DATE.match(value) and _DATE_PARAM.search(name):
            dates.append(f"{value[:4]}-{value[4:6]}-{value[6:]}")
            shown = "{date}"
        elif _DATE_IN_TEXT.fullmatch(value):
            dates.append(re.sub(r"[-_.]", "-", value))
            shown = "{date}"
        elif value.isdigit():
            shown = "{n}"
        else:
            shown = "*"
        query.append(f"{name}={shown}")
    return path + ("?" + "&".join(query) if query else ""), tuple(dates)


def url_pattern(url: str) -> str:
    """``url``'s path and query with dates, identifiers, numbers and query values generalised."""
    return _pattern_and_dates(url)[0]


def _repeated_segment(path: str, limit: int) -> bool:
    counts = Counter(s.lower() for s in path.split("/") if s)
    return any(n > limit for n in counts.values())


def _loop_pattern(path: str, limit: int) -> str:
    """The path up to where a segment repeats for the ``limit`` + 1-th time, then ``…``."""
    seen: Counter[str] = Counter()
    kept: list[str] = []
    for seg in path.split("/"):
        if seg:
            seen[seg.lower()] += 1
            if seen[seg.lower()] > limit:
                break
        kept.append(seg)
    return "/".join(kept).rstrip("/") + "/…"


# ----------------------------------------------------------------------------- the guard

_LAST_NUMBER = re.compile(r"\d+(?=\D*$)")


def _pagination_key(url: str) -> str:
    """The per-pattern count of a pagination link: its URL with only the page number (the last
    digit run) generalised. Every shop's list pages share one pattern (``/shops/s{n}/index-{n}``),
    so counting them together would stop a large platform's listings after the first thousand
    list pages; counted per list, an endless run of pages is still stopped (pagination hops do
    not count towards the depth)."""
    return _LAST_NUMBER.sub("{n}", url, count=1)

_WANTED_ROLES = frozenset({"product", "shop"})  # what a sweep is for: held to the depth and repeat limits only


class TrapGuard:
    """Decides whether the sweep may request a URL; counts what it stopped (see module docstring)."""

    def __init__(self, limits: TrapLimits = TrapLimits()) -> None:
        self.limits = limits
        self._per_pattern: Counter[str] = Counter()
        self._dates: dict[str, set[tuple[str, ...]]] = {}
        self._stopped: dict[tuple[str, str], set[str]] = {}
        self._limit_of: dict[tuple[str, str], int] = {}

    def admit_start(self, url: str) -> None:
        """A start URL is the user's: always requested, but counted in its pattern."""
        pattern, dates = _pattern_and_dates(url)
        self._per_pattern[pattern] += 1
        if dates:
            self._dates.setdefault(pattern, set()).add(dates)

    def check(self, url: str, role: str, depth: int) -> TrapStop | None:
        """None (and the URL counted as requested) when the sweep may request ``url``; else why not.

        ``role`` is what the profile makes of the URL (a ``product`` or ``shop`` page is held to the
        depth and repeat limits only); ``depth`` the link hops from a start URL. A URL stopped for its depth
        may be admitted later when a shorter way to it turns up.
        """
        lim = self.limits
        parts = urlsplit(url)
        path = parts.path or "/"
        pattern, dates = _pattern_and_dates(url)
        if lim.max_segment_repeats is not None and _repeated_segment(path, lim.max_segment_repeats):
            return self._stop("repeats", _loop_pattern(path, lim.max_segment_repeats), lim.max_segment_repeats, url)
        if lim.max_depth is not None and depth > lim.max_depth:
            return self._stop("depth", pattern, lim.max_depth, url)
        listing = role in _WANTED_ROLES
        if not listing and lim.max_query_params is not None \
                and len(parse_qsl(parts.query, keep_blank_values=True)) > lim.max_query_params:
            return self._stop("query", pattern, lim.max_query_params, url)
        seen_dates = self._dates.get(pattern)
        if not listing and dates and lim.max_dates is not None and seen_dates is not None \
                and dates not in seen_dates and len(seen_dates) >= lim.max_dates:
            return self._stop("dates", pattern, lim.max_dates, url)
        counted = _pagination_key(url) if role == "pagination" else pattern
        if not listing and lim.max_per_pattern is not None and self._per_pattern[counted] >= lim.max_per_pattern:
            return self._stop("pattern", counted, lim.max_per_pattern, url)
        self._per_pattern[counted] += 1
        if dates:
            self._dates.setdefault(pattern, set()).add(dates)
        return None

    def _stop(self, rule: TrapRule, pattern: str, limit: int, url: str) -> TrapStop:
        key = (rule, pattern)
        urls = self._stopped.get(key)
        first = urls is None
        if urls is None:
            urls = self._stopped[key] = set()
            self._limit_of[key] = limit
        urls.add(url)
        stop = TrapStop(rule, pattern, limit, first)
        if first:
            log.warning(stop.line())
        return stop

    @property
    def stopped(self) -> int:
        """Distinct URLs stopped by any rule."""
        return len(set().union(*self._stopped.values())) if self._stopped else 0

    def report(self) -> list[TrapCount]:
        """URLs stopped per rule and pattern, most first."""
        counts = [TrapCount(rule, pattern, len(urls), self._limit_of[(rule, pattern)])
                  for (rule, pattern), urls in self._stopped.items()]
        return sorted(counts, key=lambda c: (-c.stopped, c.rule, c.pattern))
