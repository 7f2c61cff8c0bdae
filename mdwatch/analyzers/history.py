"""History rules: PRICE_ANOMALY and LISTING_CHANGED (PLATFORM-QMS 2.1, 2.2.1).

Pure. The composition root turns each analysed listing into a :class:`ListingSnapshot`
(:func:`snapshot`), loads the earlier snapshots of the same listing URL from storage (newest
first) and calls :func:`history_findings`. Nothing fires when the capture hash is the same as the
last one: an unchanged page was judged when it was first captured.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta
from functools import cache
from typing import Protocol

from mdwatch.analyzers import drug
from mdwatch.analyzers.catalogue import finding, rules
from mdwatch.analyzers.domain import is_device_listing, is_drug_listing
from mdwatch.analyzers.model import Context, Evidence, Finding, ListingSnapshot, Page, PageKind
from mdwatch.analyzers.normalize import fold
from mdwatch.lexicons import load_yaml

__all__ = [
    "HISTORY_RULES",
    "KINDS",
    "PRICE_ANOMALY_RATIO",
    "PRICE_WINDOW",
    "RULES",
    "WARNING_LABELS",
    "ListingSnapshot",
    "StoredSnapshot",
    "analyze",
    "from_stored",
    "history_findings",
    "parse_price",
    "snapshot",
]

HISTORY_RULES = ("PRICE_ANOMALY", "LISTING_CHANGED")
# the analyzer registry's view of this module: product listings, judged after the other analyzers
RULES = HISTORY_RULES
KINDS: tuple[PageKind, ...] = ("product",)
AFTER_OTHERS = True
PRICE_ANOMALY_RATIO = 0.5  # a move of at least 50 % between two captures (PLATFORM-QMS 2.2.1)
PRICE_WINDOW = timedelta(days=7)  # an "original price" must have been the actual price within 7 days
_PRICE_EPS = 0.005  # prices are compared to the cent

# mandated warning → the rule that fires when it is missing
WARNING_RULES: dict[str, str] = {
    "retail": "PRODUCT_WARNING_RETAIL_MISSING",
    "fitting": "PRODUCT_WARNING_FITTING_MISSING",
    "rx": "DRUG_RX_WARNING_MISSING",
}
WARNING_LABELS: dict[str, str] = {
    "retail": "网络销售警示语（购买和使用前请仔细阅读产品说明书……）",
    "fitting": "验配警示语",
    "rx": "处方药警示语",
}


class StoredSnapshot(Protocol):
    """What a stored snapshot row offers (``storage.history.SnapshotRow`` has these fields)."""

    @property
    def url(self) -> str: ...
    @property
    def fetched_at(self) -> datetime: ...
    @property
    def seen_until(self) -> datetime | None: ...
    @property
    def sha256(self) -> str: ...
    @property
    def price(self) -> float | None: ...
    @property
    def original_price(self) -> float | None: ...
    @property
    def rules(self) -> frozenset[str]: ...
    @property
    def warnings(self) -> frozenset[str]: ...
    @property
    def claims(self) -> frozenset[str]: ...


def from_stored(row: StoredSnapshot) -> ListingSnapshot:
    """A ListingSnapshot from a stored row (duck-typed: analyzers do not import storage)."""
    return ListingSnapshot(
        url=row.url,
        fetched_at=row.fetched_at,
        sha256=row.sha256,
        price=row.price,
        original_price=row.original_price,
        rules=frozenset(row.rules),
        warnings=frozenset(row.warnings),
        claims=frozenset(row.claims),
        seen_until=row.seen_until,
    )


# ---------------------------------------------------------------------------------------------
# prices

_NUMBER = re.compile(r"\d[\d,，]*(?:\.\d+)?")


def parse_price(text: str | None) -> float | None:
    """``"¥1,299.00"`` → 1299.0; ``"29.80元"`` → 29.8; ``"1.2万"`` → 12000.0; a range gives its low end.

    None for None, empty or number-less text.
    """
    if not text:
        return None
    m = _NUMBER.search(text.replace("\u00a0", " "))
    if m is None:
        return None
    raw = m.group(0).replace(",", "").replace("，", "")
    try:
        value = float(raw)
    except ValueError:
        return None
    if text[m.end() : m.end() + 1] == "万":
        value *= 10_000
    return value


def _money(value: float) -> str:
    return f"¥{value:,.2f}"


# ---------------------------------------------------------------------------------------------
# snapshots


@cache
def _fitting_words() -> tuple[str, ...]:
    data = load_yaml("warnings.yaml")
    return tuple(w for fit in data["fitting"].values() for w in fit["product_words"])


def _needs_fitting(page: Page) -> bool:
    name = " ".join(x for x in (page.title, page.fields.get("product_name", "")) if x)
    return any(w in name for w in _fitting_words())


def _claim_terms(findings: Iterable[Finding]) -> frozenset[str]:
    terms: set[str] = set()
    for f in findings:
        if not f.rule.startswith("CLAIM_"):
            continue
        for e in f.evidence:
            term = e.detail.get("term") or e.detail.get("claimed")
            if term:
                terms.add(term)
    return frozenset(terms)


def snapshot(
    page: Page,
    findings: Sequence[Finding],
    fetched_at: datetime,
    sha256: str,
    *,
    enabled_rules: frozenset[str] | None = None,
) -> ListingSnapshot:
    """The history summary of one analysed page (``findings``: what the analyzers found on it).

    A mandated warning counts as present when the page is a listing it applies to and the rule
    for its absence did not fire. Pass the run's ``enabled_rules`` when not every rule ran: a
    warning whose rule was disabled is not recorded either way.
    """
    fired = frozenset(f.rule for f in findings)

    def ran(rule: str) -> bool:
        return enabled_rules is None or rule in enabled_rules

    warnings: set[str] = set()
    if is_device_listing(page):
        if ran(WARNING_RULES["retail"]) and WARNING_RULES["retail"] not in fired:
            warnings.add("retail")
        if _needs_fitting(page) and ran(WARNING_RULES["fitting"]) and WARNING_RULES["fitting"] not in fired:
            warnings.add("fitting")
    elif (
        is_drug_listing(page)
        and ran(WARNING_RULES["rx"])
        and WARNING_RULES["rx"] not in fired
        and "DRUG_RX_NOT_DISTINGUISHED" not in fired
        and _rx_listing(page)
    ):
        warnings.add("rx")
    return ListingSnapshot(
        url=page.url,
        fetched_at=fetched_at,
        sha256=sha256.lower(),
        price=parse_price(page.price),
        original_price=parse_price(page.fields.get("original_price")),
        rules=fired,
        warnings=frozenset(warnings),
        claims=_claim_terms(findings),
    )


def _rx_listing(page: Page) -> bool:
    """True when the drug listing is marked prescription-only (the rx warning applies)."""
    cues = load_yaml("drug.yaml")
    return drug._is_rx(fold(page.text), cues)


# ---------------------------------------------------------------------------------------------
# rules


def _fmt_time(at: datetime) -> str:
    return at.strftime("%Y-%m-%d %H:%M")


def _price_finding(
    current: ListingSnapshot, previous: Sequence[ListingSnapshot], now: datetime
) -> Finding | None:
    """One PRICE_ANOMALY (findings are keyed by run, URL and rule) with one evidence per reason."""
    evidence: list[Evidence] = []
    parts: list[str] = []
    last = previous[0]
    if current.price is not None and last.price is not None and last.price > 0:
        change = (current.price - last.price) / last.price
        if abs(change) >= PRICE_ANOMALY_RATIO - 1e-9:
            direction = "上涨" if change > 0 else "下降"
            evidence.append(
                Evidence(
                    "structure",
                    f"价格由 {_money(last.price)}（{_fmt_time(last.fetched_at)} 采集）变为 "
                    f"{_money(current.price)}（{_fmt_time(current.fetched_at)} 采集），{direction} {abs(change):.0%}",
                    match=_money(current.price),
                    page_url=current.url,
                    detail={
                        "kind": "price_move",
                        "previous_price": f"{last.price:.2f}",
                        "current_price": f"{current.price:.2f}",
                        "change": f"{change:+.1%}",
                        "previous_fetched_at": last.fetched_at.isoformat(),
                        "previous_sha256": last.sha256,
                    },
                )
            )
            parts.append(f"价格在两次采集间{direction} {abs(change):.0%}（≥50%）")
    orig = current.original_price
    if orig is not None and (current.price is None or orig > current.price + _PRICE_EPS):
        since = now - PRICE_WINDOW
        window = [s for s in previous if s.last_seen >= since]
        if window and not any(s.price is not None and abs(s.price - orig) <= _PRICE_EPS for s in window):
            seen = sorted({s.price for s in window if s.price is not None})
            seen_text = "、".join(_money(p) for p in seen) if seen else "无价格"
            n = len(window)
            evidence.append(
                Evidence(
                    "structure",
                    f"划线原价 {_money(orig)}；近7日内 {n} 次采集的实际售价：{seen_text}",
                    match=_money(orig),
                    page_url=current.url,
                    detail={
                        "kind": "original_price_unseen",
                        "original_price": f"{orig:.2f}",
                        "seen_prices": "、".join(f"{p:.2f}" for p in seen),
                        "captures_in_window": str(n),
                        "window_start": since.isoformat(),
                    },
                )
            )
            parts.append(
                f"标注的原价 {_money(orig)} 在近7日内的 {n} 次采集中从未作为实际售价出现"
                "（仅依据本系统近7日的采集记录判断）"
            )
    if not evidence:
        return None
    return finding("PRICE_ANOMALY", evidence, message="；".join(parts) + "。")


def _rule_title(rule: str) -> str:
    spec = rules().get(rule)
    return f"{spec.title}（{rule}）" if spec else rule


def _changed_finding(current: ListingSnapshot, last: ListingSnapshot) -> Finding | None:
    # a warning counts as removed only when the rule for its absence fires now
    removed = sorted(w for w in last.warnings - current.warnings if WARNING_RULES.get(w) in current.rules)
    removal_rules = {WARNING_RULES[w] for w in removed}
    new_rules = sorted(current.rules - last.rules - set(HISTORY_RULES) - removal_rules)
    new_claims = sorted(current.claims - last.claims)
    if not (removed or new_rules or new_claims):
        return None
    when = f"上次采集 {_fmt_time(last.fetched_at)}，本次采集 {_fmt_time(current.fetched_at)}"
    evidence: list[Evidence] = []
    parts: list[str] = []
    for w in removed:
        evidence.append(
            Evidence(
                "structure",
                f"警示语被删除：{WARNING_LABELS.get(w, w)}（{when}）",
                match=WARNING_LABELS.get(w, w),
                page_url=current.url,
                detail={"change": "warning_removed", "warning": w, "previous_sha256": last.sha256},
            )
        )
    if removed:
        parts.append("删除了警示语：" + "、".join(WARNING_LABELS.get(w, w) for w in removed))
    for term in new_claims:
        evidence.append(
            Evidence(
                "structure",
                f"新增宣称用语：「{term}」（{when}）",
                match=term,
                page_url=current.url,
                detail={"change": "claim_added", "term": term, "previous_sha256": last.sha256},
            )
        )
    if new_claims:
        parts.append("新增宣称用语：" + "、".join(f"「{t}」" for t in new_claims))
    for rule in new_rules:
        evidence.append(
            Evidence(
                "structure",
                f"新出现的问题：{_rule_title(rule)}（{when}）",
                match=rule,
                page_url=current.url,
                detail={"change": "rule_new", "rule": rule, "previous_sha256": last.sha256},
            )
        )
    if new_rules:
        parts.append("新出现的问题：" + "、".join(_rule_title(r) for r in new_rules))
    return finding(
        "LISTING_CHANGED",
        evidence,
        message="商品页面自上次采集以来发生与合规相关的变化：" + "；".join(parts) + "。",
    )


def history_findings(
    current: ListingSnapshot, previous: Sequence[ListingSnapshot], now: datetime
) -> list[Finding]:
    """PRICE_ANOMALY / LISTING_CHANGED of ``current`` against the earlier captures (newest first).

    ``previous`` should hold the snapshots of the same URL taken before ``current`` (other URLs
    and later captures are ignored). Nothing fires on the first capture or when the content
    hash equals the last capture's.
    """
    earlier = [
        s
        for s in previous
        if s.url == current.url and s.fetched_at <= current.fetched_at and s is not current
    ]
    if not earlier or earlier[0].sha256 == current.sha256.lower():
        return []
    found = (_price_finding(current, earlier, now), _changed_finding(current, earlier[0]))
    return [f for f in found if f is not None]


def analyze(page: Page, ctx: Context) -> list[Finding]:
    """The history rules as an analyzer: this capture (with what the other analyzers found on it,
    ``ctx.prior``) against the listing's earlier captures (``ctx.history``). Nothing without
    history: a one-off scan has no earlier capture to compare with."""
    if ctx.history is None:
        return []
    current = current_snapshot(page, ctx)
    return history_findings(current, ctx.history.previous, ctx.now)


def current_snapshot(page: Page, ctx: Context, findings: Sequence[Finding] | None = None) -> ListingSnapshot:
    """This capture's snapshot (``findings``: every finding on the page; default ``ctx.prior``)."""
    assert ctx.history is not None
    snap = snapshot(page, ctx.prior if findings is None else findings, ctx.history.fetched_at,
                    ctx.history.sha256, enabled_rules=ctx.enabled_rules)
    return dataclasses.replace(snap, url=ctx.history.url)
