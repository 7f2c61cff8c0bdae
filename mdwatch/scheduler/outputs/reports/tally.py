"""A report's findings counted by rule, severity, shop and platform, and grouped into its flagged pages.

:class:`Tally` takes the findings one by one in the database's order (run, page, finding id); the
order in which a rule, shop or platform is first seen breaks ties in the sorted tables.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

from mdwatch.analyzers.catalogue import Rule
from mdwatch.storage.schema import FindingRow

from .labels import KIND_ZH, NO_SHOP, SEVERITY_ORDER, SEVERITY_ZH, severity_rank, shanghai
from .model import (
    EvidenceItem,
    FindingItem,
    PageItem,
    PlatformCount,
    RuleCount,
    Screenshot,
    SeverityCount,
    ShopCount,
)
from .source import FindingRecord

MAX_EVIDENCE = 5  # evidence snippets shown per finding (the rest are counted)

_Key = TypeVar("_Key", str, int | None)


def evidence_items(raw: Sequence[dict[str, Any]]) -> tuple[list[EvidenceItem], int]:
    """The first :data:`MAX_EVIDENCE` snippets, split around their match, and how many are left out."""
    items: list[EvidenceItem] = []
    for e in raw[:MAX_EVIDENCE]:
        snippet = str(e.get("snippet") or "")
        match = str(e.get("match") or "")
        source = str(e.get("source") or "")
        before, matched, after = snippet, "", ""
        if match and source != "structure":  # a structure snippet says what is missing: no page text
            at = snippet.find(match)
            if at >= 0:
                before, matched, after = snippet[:at], match, snippet[at + len(match):]
        image_url = e.get("image_url")
        page_url = e.get("page_url")
        items.append(EvidenceItem(source=source, snippet=snippet, match=match, before=before, matched=matched,
                                  after=after, image_url=str(image_url) if image_url else None,
                                  page_url=str(page_url) if page_url else None))
    return items, max(0, len(raw) - MAX_EVIDENCE)


@dataclass(slots=True)
class _Bucket:
    """The findings of one rule, severity, shop or platform."""

    severity: str  # of its first finding: a rule's severity
    article: str  # of its first finding: a rule's article when the catalogue no longer has the rule
    platform: str  # of its first finding: a shop's platform
    findings: int = 0
    critical: int = 0
    pages: set[int] = field(default_factory=set)
    rules: set[str] = field(default_factory=set)
    shops: set[int] = field(default_factory=set)

    def add(self, record: FindingRecord) -> None:
        finding = record.finding
        self.findings += 1
        self.pages.add(finding.page_id)
        self.rules.add(finding.rule)
        if record.shop_id is not None:
            self.shops.add(record.shop_id)
        if finding.severity == "critical":
            self.critical += 1


def _count(buckets: dict[_Key, _Bucket], key: _Key, record: FindingRecord, platform: str) -> None:
    bucket = buckets.get(key)
    if bucket is None:
        bucket = buckets[key] = _Bucket(record.finding.severity, record.finding.article, platform)
    bucket.add(record)


@dataclass(slots=True)
class Tally:
    catalogue: Mapping[str, Rule]
    pages: dict[int, tuple[FindingRecord, str]] = field(default_factory=dict)  # first finding, platform
    findings_by_page: dict[int, list[FindingItem]] = field(default_factory=dict)
    rules: dict[str, _Bucket] = field(default_factory=dict)
    severities: dict[str, _Bucket] = field(default_factory=dict)
    shops: dict[int | None, _Bucket] = field(default_factory=dict)  # None: pages of no shop
    platforms: dict[str, _Bucket] = field(default_factory=dict)
    shop_names: dict[int, tuple[str, str]] = field(default_factory=dict)  # shop id -> name, URL

    def add(self, record: FindingRecord, platform: str) -> None:
        """Count one finding, found on a page of ``platform``."""
        finding = record.finding
        self.findings_by_page.setdefault(finding.page_id, []).append(self._finding_item(finding))
        self.pages.setdefault(finding.page_id, (record, platform))
        if record.shop_id is not None:
            self.shop_names[record.shop_id] = (record.shop_name or record.shop_url or str(record.shop_id),
                                               record.shop_url or "")
        _count(self.rules, finding.rule, record, platform)
        _count(self.severities, finding.severity, record, platform)
        _count(self.shops, record.shop_id, record, platform)
        _count(self.platforms, platform, record, platform)

    def _finding_item(self, finding: FindingRow) -> FindingItem:
        rule = self.catalogue.get(finding.rule)
        evidence, more = evidence_items(list(finding.evidence or []))
        return FindingItem(id=finding.id, run_id=finding.run_id, rule=finding.rule,
                           title=rule.title if rule else finding.rule, severity=finding.severity,
                           severity_zh=SEVERITY_ZH.get(finding.severity, finding.severity),
                           article=finding.article, message=finding.message, evidence=evidence,
                           more_evidence=more)

    def by_rule(self) -> list[RuleCount]:
        """Most severe rules first, then most findings."""
        cat = self.catalogue
        counts = (RuleCount(rule=r, title=cat[r].title if r in cat else r, severity=b.severity,
                            severity_zh=SEVERITY_ZH.get(b.severity, b.severity),
                            article=cat[r].article if r in cat else b.article,
                            findings=b.findings, pages=len(b.pages))
                  for r, b in self.rules.items())
        return sorted(counts, key=lambda c: (severity_rank(c.severity), -c.findings, c.rule))

    def by_severity(self) -> list[SeverityCount]:
        """Every known severity, most severe first and with zero counts too, then unknown ones by name."""

        def count(severity: str, label: str) -> SeverityCount:
            b = self.severities.get(severity)
            return SeverityCount(severity=severity, label=label, findings=b.findings if b else 0,
                                 pages=len(b.pages) if b else 0)

        return ([count(s, SEVERITY_ZH[s]) for s in SEVERITY_ORDER]
                + [count(s, s) for s in sorted(self.severities) if s not in SEVERITY_ZH])

    def by_shop(self) -> list[ShopCount]:
        """Shops with the most critical findings first; the pages of no shop last."""
        counts = (ShopCount(shop_id=sid, name=self.shop_names[sid][0] if sid is not None else NO_SHOP,
                            url=self.shop_names[sid][1] if sid is not None else "", platform=b.platform,
                            findings=b.findings, pages=len(b.pages), critical=b.critical, rules=len(b.rules))
                  for sid, b in self.shops.items())
        return sorted(counts, key=lambda c: (c.shop_id is None, -c.critical, -c.findings, c.name))

    def by_platform(self) -> list[PlatformCount]:
        counts = (PlatformCount(platform=p, findings=b.findings, pages=len(b.pages), shops=len(b.shops),
                                critical=b.critical)
                  for p, b in self.platforms.items())
        return sorted(counts, key=lambda c: (-c.findings, c.platform))

    def findings_by_shop(self) -> Counter[int]:
        """Findings of each shop (pages of no shop left out)."""
        return Counter({sid: b.findings for sid, b in self.shops.items() if sid is not None})

    def page_items(self, shots: Mapping[int, Screenshot]) -> list[PageItem]:
        """The flagged pages, those with the most severe findings first, each with its findings by severity."""
        items = [self._page_item(page_id, record, platform, shots.get(page_id))
                 for page_id, (record, platform) in self.pages.items()]
        items.sort(key=lambda p: (min(severity_rank(f.severity) for f in p.findings), p.run_id, p.page_id))
        return items

    def _page_item(self, page_id: int, record: FindingRecord, platform: str, shot: Screenshot | None) -> PageItem:
        shop_name = (record.shop_name or record.shop_url or NO_SHOP) if record.shop_id is not None else NO_SHOP
        findings = sorted(self.findings_by_page[page_id], key=lambda f: (severity_rank(f.severity), f.rule, f.id))
        return PageItem(page_id=page_id, run_id=record.finding.run_id, url=record.url, kind=record.kind,
                        kind_zh=KIND_ZH.get(record.kind, record.kind), title=record.title or "",
                        platform=platform, shop_id=record.shop_id, shop_name=shop_name,
                        shop_url=record.shop_url or "", fetched_at=shanghai(record.fetched_at),
                        capture_sha256=record.capture_sha256, screenshot=shot, findings=findings)
