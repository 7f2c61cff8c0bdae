"""Plain records going into and coming out of storage.

Storage imports nothing else of ours; the composition root converts crawler and analyzer types
to these. All datetimes must be time-zone aware; storage keeps them in UTC.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any


@dataclass(frozen=True)
class CaptureRecord:
    """Immutable evidence: one fetched response."""

    url: str
    final_url: str
    status: int
    headers: dict[str, Any]
    body: bytes
    sha256: str
    fetched_at: datetime
    method: str = "http"
    encoding: str | None = None


@dataclass(frozen=True)
class FindingRecord:
    rule: str
    severity: str
    article: str
    message: str
    evidence: list[dict[str, Any]] = field(default_factory=list)


@dataclass(frozen=True)
class PageRecord:
    """One analysed page. ``kind`` "shop" upserts a shop, "product" a listing (by URL).

    A product page whose ``extracted`` holds a string ``shop_url`` is linked to that shop.
    ``related_captures`` are further evidence for the page (images, screenshots ...).
    """

    capture: CaptureRecord
    url: str
    kind: str
    title: str | None
    extracted: dict[str, Any] = field(default_factory=dict)
    findings: list[FindingRecord] = field(default_factory=list)
    related_captures: list[CaptureRecord] = field(default_factory=list)


@dataclass(frozen=True)
class RunRecord:
    """Everything one scan / demo / sweep produced; saved in one transaction."""

    kind: str
    target: str
    started_at: datetime
    finished_at: datetime | None
    pages: list[PageRecord] = field(default_factory=list)
    stats: dict[str, Any] = field(default_factory=dict)
    status: str = "ok"


ScanRecord = RunRecord


@dataclass(frozen=True)
class StoredRun:
    id: int
    kind: str
    target: str
    started_at: datetime
    finished_at: datetime | None
    status: str
    stats: dict[str, Any]


@dataclass(frozen=True)
class StoredFinding:
    id: int
    run_id: int
    page_id: int
    page_url: str
    capture_sha256: str
    rule: str
    severity: str
    article: str
    message: str
    evidence: list[dict[str, Any]]
    created_at: datetime
