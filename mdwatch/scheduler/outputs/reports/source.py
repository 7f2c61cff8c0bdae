"""What a report reads from the database: its runs, their page counts and their findings."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import NamedTuple

from sqlalchemy import func, select
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from mdwatch.storage.schema import Capture, FindingRow, PageRow, Run, Shop
from mdwatch.storage.store import Store

from .model import ReportError


class FindingRecord(NamedTuple):
    """One finding with its page, the page's capture and the page's shop (None when it has none)."""

    finding: FindingRow
    url: str
    kind: str
    title: str | None
    shop_id: int | None
    capture_sha256: str
    fetched_at: datetime
    shop_name: str | None
    shop_url: str | None


@dataclass(frozen=True, slots=True)
class RunData:
    runs: dict[int, Run]  # detached from their session: read after it closed
    page_counts: dict[int, int]  # pages stored by each run (runs without pages are absent)
    findings: list[FindingRecord]  # by run, page, finding id


def campaign_run_ids(store: Store, name: str) -> list[int]:
    """Every run id stored by campaign ``name``, oldest first (storage/leads.py's campaign_runs).

    Raises :class:`ReportError` when the campaign is unknown.
    """
    from mdwatch.storage.leads import LeadError, LeadStore

    try:
        ids = LeadStore(store).campaign_run_ids(name)  # shares the store's engine; closed by the caller
    except LeadError as exc:
        raise ReportError(str(exc)) from exc
    return list(dict.fromkeys(ids))


def read_runs(engine: Engine, ids: Sequence[int]) -> RunData:
    """The runs ``ids`` with their page counts and findings; :class:`ReportError` if one is missing."""
    with Session(engine, expire_on_commit=False) as conn:
        runs = {r.id: r for r in conn.scalars(select(Run).where(Run.id.in_(ids)))}
        missing = [i for i in ids if i not in runs]
        if missing:
            raise ReportError(f"运行 {'、'.join(map(str, missing))} 不存在。")
        page_counts = dict(conn.execute(
            select(PageRow.run_id, func.count(PageRow.id)).where(PageRow.run_id.in_(ids)).group_by(PageRow.run_id)
        ).all())
        stmt = (
            select(FindingRow, PageRow.url, PageRow.kind, PageRow.title, PageRow.shop_id, Capture.sha256,
                   Capture.fetched_at, Shop.name, Shop.url.label("shop_url"))
            .join(PageRow, FindingRow.page_id == PageRow.id)
            .join(Capture, PageRow.capture_id == Capture.id)
            .outerjoin(Shop, PageRow.shop_id == Shop.id)
            .where(FindingRow.run_id.in_(ids))
            .order_by(FindingRow.run_id, FindingRow.page_id, FindingRow.id)
        )
        findings = [FindingRecord(*row) for row in conn.execute(stmt)]
        conn.expunge_all()  # the rows outlive the session (the report is built after it closes)
    return RunData(runs=runs, page_counts=page_counts, findings=findings)
