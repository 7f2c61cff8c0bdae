"""The report's data: plain frozen dataclasses, filled by ``build.py`` and read by the renderers.

Every time is already a Beijing-time string and every label already Chinese, so the HTML
template, the XLSX writer and the JSON document show the same values.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any


class ReportError(Exception):
    """A report that cannot be made (unknown run or campaign); the message is Chinese."""


@dataclass(frozen=True, slots=True)
class RunInfo:
    id: int
    kind: str
    kind_zh: str
    target: str
    platform: str
    status: str
    started_at: str  # Asia/Shanghai
    finished_at: str
    pages: int
    findings: int


@dataclass(frozen=True, slots=True)
class EvidenceItem:
    source: str
    snippet: str
    match: str
    before: str  # snippet split around the first occurrence of match (for highlighting)
    matched: str
    after: str
    image_url: str | None
    page_url: str | None


@dataclass(frozen=True, slots=True)
class FindingItem:
    id: int
    run_id: int
    rule: str
    title: str
    severity: str
    severity_zh: str
    article: str
    message: str
    evidence: list[EvidenceItem]
    more_evidence: int  # snippets not shown


@dataclass(frozen=True, slots=True)
class Screenshot:
    evidence_file_id: int
    sha256: str
    size: int
    thumbnail: str = field(repr=False)  # data: URI of a JPEG thumbnail ('' if it could not be read)


@dataclass(frozen=True, slots=True)
class PageItem:
    page_id: int
    run_id: int
    url: str
    kind: str
    kind_zh: str
    title: str
    platform: str
    shop_id: int | None
    shop_name: str
    shop_url: str
    fetched_at: str
    capture_sha256: str
    screenshot: Screenshot | None
    findings: list[FindingItem]


@dataclass(frozen=True, slots=True)
class RuleCount:
    rule: str
    title: str
    severity: str
    severity_zh: str
    article: str
    findings: int
    pages: int


@dataclass(frozen=True, slots=True)
class SeverityCount:
    severity: str
    label: str
    findings: int
    pages: int


@dataclass(frozen=True, slots=True)
class ShopCount:
    shop_id: int | None
    name: str
    url: str
    platform: str
    findings: int
    pages: int
    critical: int
    rules: int


@dataclass(frozen=True, slots=True)
class PlatformCount:
    platform: str
    findings: int
    pages: int
    shops: int
    critical: int


@dataclass(frozen=True, slots=True)
class RepeatOffender:
    shop_id: int
    name: str
    url: str
    run_count: int
    run_ids: list[int]
    findings_total: int  # in every run counted
    findings_here: int  # in this report's runs
    rules: list[str]
    first_at: str
    last_at: str


@dataclass(frozen=True, slots=True)
class PrecisionAlert:
    """A rule the sweep's precision guard held (see ``precision_guard.py``)."""

    run_id: int
    rule: str
    title: str
    kind: str
    pages: int
    total: int
    share: float
    samples: list[str]
    line: str


@dataclass(frozen=True, slots=True)
class Report:
    title: str
    scope: str  # "sweep" | "run" | "campaign"
    scope_label: str  # e.g. "巡查 12" or "专项监测 海南网售"
    generated_at: str
    period: str  # first start – last end, Asia/Shanghai
    platforms: list[str]
    runs: list[RunInfo]
    total_findings: int
    total_pages: int  # pages stored by the runs
    flagged_pages: int  # pages with findings
    shops_with_findings: int
    by_rule: list[RuleCount]
    by_severity: list[SeverityCount]
    by_shop: list[ShopCount]
    by_platform: list[PlatformCount]
    repeat_offenders: list[RepeatOffender]
    repeat_runs: int
    pages: list[PageItem]
    precision_alerts: list[PrecisionAlert] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        """The report as a JSON document (screenshots by SHA-256, without the thumbnail bytes)."""
        doc = asdict(self)
        doc["format"] = "mdwatch-report/1"
        for page in doc["pages"]:
            shot = page.get("screenshot")
            if shot is not None:
                shot.pop("thumbnail", None)
        return doc
