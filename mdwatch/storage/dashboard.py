"""Read-only queries behind the console's overview, runs and lead pages: findings counted by day,
severity, rule, page and shop; the findings and pages of a set of runs (to compare two runs);
a running sweep's progress; the captures of a shop page (to read its company's credit code).

Grouped queries, each a single statement, on SQLite and PostgreSQL alike. Imports nothing else of
ours beyond this package. All datetimes are time-zone aware (UTC).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Engine, case, func, select
from sqlalchemy.orm import Session

from .evidence import EvidenceFileRow
from .records import CaptureRecord
from .schema import Capture, FindingRow, PageCapture, PageRow, Shop

__all__ = [
    "ShopTally",
    "evidence_page_id",
    "findings_by_day",
    "page_finding_counts",
    "rule_totals",
    "run_finding_keys",
    "run_page_urls",
    "run_progress",
    "severity_totals",
    "shop_captures",
    "top_shops",
]

_SEVERITY_RANK = ("critical", "high", "medium", "low", "info")


@dataclass(frozen=True, slots=True)
class ShopTally:
    id: int
    url: str
    name: str | None
    by_severity: dict[str, int]

    @property
    def total(self) -> int:
        return sum(self.by_severity.values())


def _day(engine: Engine, tz_name: str, offset_hours: float) -> Any:
    """The calendar day of ``findings.created_at`` in the display time zone, as SQL."""
    if engine.dialect.name == "postgresql":
        return func.to_char(func.timezone(tz_name, FindingRow.created_at), "YYYY-MM-DD")
    minutes = round(offset_hours * 60)
    return func.date(FindingRow.created_at, f"{minutes:+d} minutes")


def findings_by_day(engine: Engine, since: datetime, *, tz_name: str = "Asia/Shanghai",
                    offset_hours: float = 8.0) -> list[tuple[str, str, int]]:
    """(day ``YYYY-MM-DD`` in the display zone, severity, findings) since ``since``, oldest first."""
    day = _day(engine, tz_name, offset_hours).label("day")
    stmt = (select(day, FindingRow.severity, func.count(FindingRow.id))
            .where(FindingRow.created_at >= since).group_by(day, FindingRow.severity).order_by(day))
    with Session(engine) as session:
        return [(str(d), str(s), int(n)) for d, s, n in session.execute(stmt)]


def severity_totals(engine: Engine, since: datetime | None = None) -> dict[str, int]:
    stmt = select(FindingRow.severity, func.count(FindingRow.id)).group_by(FindingRow.severity)
    if since is not None:
        stmt = stmt.where(FindingRow.created_at >= since)
    with Session(engine) as session:
        return {str(s): int(n) for s, n in session.execute(stmt)}


def rule_totals(engine: Engine, since: datetime | None = None, limit: int = 15) -> list[tuple[str, int]]:
    n = func.count(FindingRow.id).label("n")
    stmt = select(FindingRow.rule, n).group_by(FindingRow.rule).order_by(n.desc(), FindingRow.rule).limit(limit)
    if since is not None:
        stmt = stmt.where(FindingRow.created_at >= since)
    with Session(engine) as session:
        return [(str(r), int(c)) for r, c in session.execute(stmt)]


def page_finding_counts(engine: Engine, since: datetime | None = None) -> list[tuple[str, int]]:
    """(page URL, findings) — the caller groups them by platform."""
    stmt = (select(PageRow.url, func.count(FindingRow.id)).join(PageRow, FindingRow.page_id == PageRow.id)
            .group_by(PageRow.url))
    if since is not None:
        stmt = stmt.where(FindingRow.created_at >= since)
    with Session(engine) as session:
        return [(str(u), int(c)) for u, c in session.execute(stmt)]


def top_shops(engine: Engine, since: datetime | None = None, limit: int = 10) -> list[ShopTally]:
    """The shops with the most serious findings: most critical first, then high, then all."""
    counts = {s: func.sum(case((FindingRow.severity == s, 1), else_=0)).label(s) for s in _SEVERITY_RANK}
    total = func.count(FindingRow.id).label("total")
    stmt = (select(Shop.id, Shop.url, Shop.name, *counts.values(), total)
            .join(PageRow, PageRow.shop_id == Shop.id).join(FindingRow, FindingRow.page_id == PageRow.id)
            .group_by(Shop.id, Shop.url, Shop.name)
            .order_by(counts["critical"].desc(), counts["high"].desc(), total.desc(), Shop.id).limit(limit))
    if since is not None:
        stmt = stmt.where(FindingRow.created_at >= since)
    with Session(engine) as session:
        return [ShopTally(int(row[0]), str(row[1]), row[2],
                          {s: int(row[3 + i] or 0) for i, s in enumerate(_SEVERITY_RANK)})
                for row in session.execute(stmt)]


def run_finding_keys(engine: Engine, run_ids: Sequence[int]) -> set[tuple[str, str]]:
    """(page URL, rule) of every finding of ``run_ids``."""
    if not run_ids:
        return set()
    stmt = (select(PageRow.url, FindingRow.rule).join(PageRow, FindingRow.page_id == PageRow.id)
            .where(FindingRow.run_id.in_(list(run_ids))).distinct())
    with Session(engine) as session:
        return {(str(u), str(r)) for u, r in session.execute(stmt)}


def run_page_urls(engine: Engine, run_ids: Sequence[int]) -> set[str]:
    if not run_ids:
        return set()
    with Session(engine) as session:
        return {str(u) for u in session.scalars(select(PageRow.url).where(PageRow.run_id.in_(list(run_ids))))}


def run_progress(engine: Engine, run_ids: Iterable[int]) -> dict[int, tuple[int, int]]:
    """Run id → (pages stored, findings) so far: a running sweep commits page by page."""
    ids = list(run_ids)
    if not ids:
        return {}
    out = {i: (0, 0) for i in ids}
    with Session(engine) as session:
        for rid, n in session.execute(select(PageRow.run_id, func.count(PageRow.id))
                                      .where(PageRow.run_id.in_(ids)).group_by(PageRow.run_id)):
            out[int(rid)] = (int(n), out[int(rid)][1])
        for rid, n in session.execute(select(FindingRow.run_id, func.count(FindingRow.id))
                                      .where(FindingRow.run_id.in_(ids)).group_by(FindingRow.run_id)):
            out[int(rid)] = (out[int(rid)][0], int(n))
    return out


def shop_captures(engine: Engine, shop_urls: Iterable[str]) -> dict[str, list[CaptureRecord]]:
    """For each shop URL, the captures of its newest stored page and of the pages judged with it
    (its qualification pages): where the shop shows its company's credit code."""
    urls = list(dict.fromkeys(shop_urls))
    if not urls:
        return {}
    out: dict[str, list[CaptureRecord]] = {}
    with Session(engine) as session:
        newest = (select(PageRow.url, func.max(PageRow.id).label("page_id"))
                  .where(PageRow.url.in_(urls)).group_by(PageRow.url).subquery())
        pages = {int(pid): str(url) for url, pid in session.execute(select(newest.c.url, newest.c.page_id))}
        if not pages:
            return {}
        own = select(PageRow.id.label("page_id"), PageRow.capture_id).where(PageRow.id.in_(list(pages)))
        related = select(PageCapture.page_id, PageCapture.capture_id).where(PageCapture.page_id.in_(list(pages)))
        both = own.union_all(related).subquery()
        stmt = select(both.c.page_id, Capture).join(Capture, Capture.id == both.c.capture_id)
        for page_id, c in session.execute(stmt):
            out.setdefault(pages[int(page_id)], []).append(CaptureRecord(
                url=c.url, final_url=c.final_url, status=c.status, headers=dict(c.headers), body=bytes(c.body),
                sha256=c.sha256, fetched_at=c.fetched_at, method=c.method, encoding=c.encoding))
    return out


def evidence_page_id(engine: Engine, file_id: int) -> int | None:
    """The page an evidence file belongs to (None: no such file, or a run's file such as a WARC)."""
    with Session(engine) as session:
        page_id = session.scalar(select(EvidenceFileRow.page_id).where(EvidenceFileRow.id == file_id))
    return None if page_id is None else int(page_id)
