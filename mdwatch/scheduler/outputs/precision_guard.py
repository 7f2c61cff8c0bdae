"""The sweep-level precision guard (精度警戒): one rule firing on most pages of a platform.

When a rule fires on more than a set share of the pages of the kind it judges in one sweep
(default 60 % of the product pages for a ``PRODUCT_*`` rule), the likeliest cause is not that most
of the platform breaks the rule but that mdwatch did not understand the platform's pages (a field
label it cannot read, a layout its profile does not describe). Then:

- the sweep's stats (``runs.stats["precision_guard"]``) record the guard's result, so the sweep
  summary (``sweep.print_sweep_summary``), the reports (``reports.build_report``) and later steps
  read it;
- the sweep logs one Chinese line per tripped rule, with a few sample pages (:meth:`GuardAlert.line`);
- a campaign does not file that rule's findings from that sweep as leads: they are held for review
  (``campaigns.run_campaign`` records them in the campaign run's stats; ``campaigns.release_held``
  files them once a reviewer has confirmed the rule is right on that platform).

Which pages count: a rule judges pages of one kind — ``PRODUCT_*`` product pages, ``SHOP_*`` and
``DRUG_SHOP_*`` shop pages, ``PLATFORM_*`` platform home pages; any other rule (claims, drug
listing rules, price and history rules) is judged separately on each kind of page it fired on.
The share is the pages of that kind with the rule over all pages of that kind the sweep stored,
and a kind with fewer than ``min_pages`` pages (default 10) is never judged, so a small sweep
cannot trip the guard.

Configuration, the first given wins: :class:`~mdwatch.scheduler.jobs.sweep.SweepOptions`
(``guard_share``, ``guard_min_pages``), the environment (``MDWATCH_GUARD_SHARE``,
``MDWATCH_GUARD_MIN_PAGES``), the platform profile's ``precision_guard`` mapping (``share``,
``min_pages`` and per-rule ``rules: {RULE_ID: share}``), the defaults. A share of 1 turns the
guard off (no rule can fire on more than all pages).
"""

from __future__ import annotations

import os
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import func, select

from mdwatch.scheduler.outputs.labels import KIND_ZH
from mdwatch.storage.schema import FindingRow, PageRow
from mdwatch.storage.store import Store

__all__ = [
    "DEFAULT_MIN_PAGES",
    "DEFAULT_SHARE",
    "ENV_MIN_PAGES",
    "ENV_SHARE",
    "STATS_KEY",
    "GuardAlert",
    "GuardConfig",
    "GuardResult",
    "evaluate",
    "guard_config",
    "guard_result",
    "judged_kinds",
    "sweep_guard",
]

DEFAULT_SHARE = 0.6
DEFAULT_MIN_PAGES = 10
SAMPLES = 3
STATS_KEY = "precision_guard"
ENV_SHARE = "MDWATCH_GUARD_SHARE"
ENV_MIN_PAGES = "MDWATCH_GUARD_MIN_PAGES"
# rule-ID prefix → the page kind the rule judges (longest prefix first)
_RULE_KINDS: tuple[tuple[str, str], ...] = (
    ("DRUG_SHOP_", "shop"),
    ("PRODUCT_", "product"),
    ("SHOP_", "shop"),
    ("PLATFORM_", "platform"),
)


class GuardConfigError(ValueError):
    """A guard setting that is out of range (the message is one Chinese sentence)."""


def _share(value: Any, where: str) -> float:
    try:
        share = float(value)
    except (TypeError, ValueError):
        raise GuardConfigError(f"{where} 应为 0 到 1 之间的比例（如 0.6），不是 {value!r}。") from None
    if not 0.0 < share <= 1.0:
        raise GuardConfigError(f"{where} 应为大于 0、不超过 1 的比例（如 0.6），不是 {value!r}。")
    return share


def _min_pages(value: Any, where: str) -> int:
    try:
        n = int(value)
    except (TypeError, ValueError):
        raise GuardConfigError(f"{where} 应为正整数，不是 {value!r}。") from None
    if n < 1:
        raise GuardConfigError(f"{where} 应为正整数，不是 {value!r}。")
    return n


@dataclass(frozen=True, slots=True)
class GuardConfig:
    """When the guard trips: share of pages (strictly more than), minimum pages, per-rule shares."""

    share: float = DEFAULT_SHARE
    min_pages: int = DEFAULT_MIN_PAGES
    rules: Mapping[str, float] = field(default_factory=dict)

    def share_for(self, rule: str) -> float:
        return self.rules.get(rule, self.share)

    @classmethod
    def from_mapping(cls, raw: Mapping[str, Any] | None, where: str = "precision_guard") -> GuardConfig:
        """From a profile's ``precision_guard`` mapping (``share``, ``min_pages``, ``rules``)."""
        raw = raw or {}
        unknown = sorted(set(raw) - {"share", "min_pages", "rules"})
        if unknown:
            raise GuardConfigError(f"{where} 中有未知的设置：{'、'.join(map(str, unknown))}（可用 share、min_pages、rules）。")
        share = _share(raw["share"], f"{where}.share") if raw.get("share") is not None else DEFAULT_SHARE
        pages = (_min_pages(raw["min_pages"], f"{where}.min_pages") if raw.get("min_pages") is not None
                 else DEFAULT_MIN_PAGES)
        rules = raw.get("rules") or {}
        if not isinstance(rules, Mapping):
            raise GuardConfigError(f"{where}.rules 应为“规则: 比例”映射。")
        return cls(share, pages, {str(k): _share(v, f"{where}.rules.{k}") for k, v in rules.items()})


def guard_config(profile_guard: Mapping[str, Any] | None = None, *, share: float | None = None,
                 min_pages: int | None = None, env: Mapping[str, str] | None = None) -> GuardConfig:
    """The guard's configuration: options, then environment, then the profile, then the defaults."""
    base = GuardConfig.from_mapping(profile_guard)
    env = os.environ if env is None else env
    if share is None and env.get(ENV_SHARE):
        share = _share(env[ENV_SHARE], ENV_SHARE)
    if min_pages is None and env.get(ENV_MIN_PAGES):
        min_pages = _min_pages(env[ENV_MIN_PAGES], ENV_MIN_PAGES)
    if share is not None:  # an explicit share overrides the profile's per-rule shares too
        return GuardConfig(_share(share, "--guard-share"), base.min_pages if min_pages is None
                           else _min_pages(min_pages, "--guard-min-pages"))
    if min_pages is not None:
        return GuardConfig(base.share, _min_pages(min_pages, "--guard-min-pages"), base.rules)
    return base


def judged_kinds(rule: str, fired_on: Collection[str]) -> tuple[str, ...]:
    """The page kinds ``rule`` is judged on: its own kind by ID prefix, else each kind it fired on."""
    for prefix, kind in _RULE_KINDS:
        if rule.startswith(prefix):
            return (kind,)
    return tuple(sorted(fired_on))


@dataclass(frozen=True, slots=True)
class GuardAlert:
    """One tripped rule: ``pages`` of the sweep's ``total`` pages of ``kind`` have it."""

    rule: str
    kind: str
    pages: int
    total: int
    threshold: float
    samples: tuple[str, ...] = ()
    run_id: int | None = None

    @property
    def share(self) -> float:
        return self.pages / self.total if self.total else 0.0

    def line(self) -> str:
        """The one Chinese line of the summary, the report and the log."""
        samples = f"示例：{'、'.join(self.samples)}" if self.samples else "示例：无"
        return (f"精度警戒：{self.rule} 在 {self.share:.0%} 的{KIND_ZH.get(self.kind, self.kind)}上触发"
                f"（{self.pages}/{self.total}），可能是页面结构未识别；该规则本次的线索暂缓提交，待人工复核。{samples}")

    def to_dict(self) -> dict[str, Any]:
        return {"rule": self.rule, "kind": self.kind, "pages": self.pages, "total": self.total,
                "share": round(self.share, 4), "threshold": self.threshold, "samples": list(self.samples),
                "line": self.line()}

    @classmethod
    def from_dict(cls, raw: Mapping[str, Any], run_id: int | None = None) -> GuardAlert:
        return cls(rule=str(raw["rule"]), kind=str(raw["kind"]), pages=int(raw["pages"]), total=int(raw["total"]),
                   threshold=float(raw.get("threshold", DEFAULT_SHARE)),
                   samples=tuple(str(s) for s in raw.get("samples") or ()), run_id=run_id)


@dataclass(frozen=True, slots=True)
class GuardResult:
    """The guard's verdict on one sweep (what ``runs.stats["precision_guard"]`` holds)."""

    config: GuardConfig
    pages_by_kind: Mapping[str, int]
    alerts: tuple[GuardAlert, ...] = ()

    @property
    def tripped(self) -> bool:
        return bool(self.alerts)

    @property
    def held_rules(self) -> frozenset[str]:
        """Rules whose findings in this sweep are held for review instead of becoming leads."""
        return frozenset(a.rule for a in self.alerts)

    def lines(self) -> list[str]:
        return [a.line() for a in self.alerts]

    def to_stats(self) -> dict[str, Any]:
        return {"share": self.config.share, "min_pages": self.config.min_pages, "rules": dict(self.config.rules),
                "pages_by_kind": dict(self.pages_by_kind), "tripped": self.tripped,
                "held_rules": sorted(self.held_rules), "alerts": [a.to_dict() for a in self.alerts]}


def guard_result(stats: Mapping[str, Any] | None, run_id: int | None = None) -> GuardResult | None:
    """The guard's result recorded in a run's stats (None: the run was never judged)."""
    raw = (stats or {}).get(STATS_KEY)
    if not isinstance(raw, Mapping):
        return None
    config = GuardConfig(float(raw.get("share", DEFAULT_SHARE)), int(raw.get("min_pages", DEFAULT_MIN_PAGES)),
                         {str(k): float(v) for k, v in (raw.get("rules") or {}).items()})
    alerts = tuple(GuardAlert.from_dict(a, run_id) for a in raw.get("alerts") or ())
    return GuardResult(config, {str(k): int(v) for k, v in (raw.get("pages_by_kind") or {}).items()}, alerts)


def evaluate(
    pages_by_kind: Mapping[str, int],
    rule_pages: Mapping[tuple[str, str], int],
    config: GuardConfig = GuardConfig(),
    samples: Mapping[tuple[str, str], Sequence[str]] | None = None,
) -> GuardResult:
    """The guard's verdict from counts (pure): ``rule_pages[(rule, kind)]`` pages of ``kind`` with ``rule``.

    A rule trips on a kind it judges when that kind has at least ``min_pages`` pages and the rule
    fired on strictly more than its share of them; a rule is reported once (its worst kind).
    """
    fired_on: dict[str, set[str]] = {}
    for rule, kind in rule_pages:
        fired_on.setdefault(rule, set()).add(kind)
    alerts: list[GuardAlert] = []
    for rule in sorted(fired_on):
        threshold = config.share_for(rule)
        worst: GuardAlert | None = None
        for kind in judged_kinds(rule, fired_on[rule]):
            total = int(pages_by_kind.get(kind, 0))
            pages = int(rule_pages.get((rule, kind), 0))
            if total < config.min_pages or total <= 0 or pages / total <= threshold:
                continue
            alert = GuardAlert(rule, kind, pages, total, threshold,
                               tuple((samples or {}).get((rule, kind), ())[:SAMPLES]))
            if worst is None or alert.share > worst.share:
                worst = alert
        if worst is not None:
            alerts.append(worst)
    alerts.sort(key=lambda a: (-a.share, a.rule))
    return GuardResult(config, dict(pages_by_kind), tuple(alerts))


def sweep_guard(store: Store, run_id: int, config: GuardConfig = GuardConfig()) -> GuardResult:
    """The guard's verdict on the pages and findings run ``run_id`` stored (a few grouped queries)."""
    with store.transaction() as session:
        pages_by_kind = {str(kind): int(n) for kind, n in session.execute(
            select(PageRow.kind, func.count(PageRow.id)).where(PageRow.run_id == run_id).group_by(PageRow.kind))}
        rule_pages = {(str(rule), str(kind)): int(n) for rule, kind, n in session.execute(
            select(FindingRow.rule, PageRow.kind, func.count(func.distinct(FindingRow.page_id)))
            .join(PageRow, FindingRow.page_id == PageRow.id)
            .where(FindingRow.run_id == run_id)
            .group_by(FindingRow.rule, PageRow.kind))}
    verdict = evaluate(pages_by_kind, rule_pages, config)
    if not verdict.alerts:
        return verdict
    samples: dict[tuple[str, str], list[str]] = {}
    with store.transaction() as session:
        for alert in verdict.alerts:
            urls = session.scalars(
                select(PageRow.url)
                .join(FindingRow, FindingRow.page_id == PageRow.id)
                .where(FindingRow.run_id == run_id, FindingRow.rule == alert.rule, PageRow.kind == alert.kind)
                .group_by(PageRow.id, PageRow.url)
                .order_by(PageRow.id)
                .limit(SAMPLES))
            samples[(alert.rule, alert.kind)] = list(urls)
    return evaluate(pages_by_kind, rule_pages, config, samples)
