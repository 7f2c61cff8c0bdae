"""What a stored finding rests on, read from storage: the captures stored with its page (a shop's
qualification pages, images: ``PageRecord.related_captures``, table ``page_captures``) and the
pages one run stored at given URLs (a shop's product pages a finding names).

Imports nothing else of ours beyond this package.
"""

from __future__ import annotations

from collections.abc import Collection

from sqlalchemy import Engine, or_, select
from sqlalchemy.orm import Session

from .evidence import PageRef
from .records import CaptureRecord
from .schema import Capture, PageCapture, PageRow

__all__ = ["related_captures", "run_pages_at"]


def _record(row: Capture) -> CaptureRecord:
    return CaptureRecord(url=row.url, final_url=row.final_url, status=row.status, headers=dict(row.headers),
                         body=bytes(row.body), sha256=row.sha256, fetched_at=row.fetched_at, method=row.method,
                         encoding=row.encoding)


def related_captures(engine: Engine, page_id: int) -> list[CaptureRecord]:
    """The captures stored with a page (not its own capture), in the order they were stored."""
    stmt = (
        select(Capture)
        .join(PageCapture, PageCapture.capture_id == Capture.id)
        .join(PageRow, PageRow.id == PageCapture.page_id)
        .where(PageCapture.page_id == page_id, PageCapture.capture_id != PageRow.capture_id)
        .order_by(Capture.id)
    )
    with Session(engine) as session:
        return [_record(row) for row in session.scalars(stmt)]


def run_pages_at(engine: Engine, run_id: int, urls: Collection[str]) -> list[PageRef]:
    """The pages ``run_id`` stored whose URL (or whose capture's URL or final URL) is one of ``urls``."""
    wanted = sorted({u for u in urls if u})
    if not wanted:
        return []
    stmt = (
        select(PageRow.id, PageRow.run_id, PageRow.url, PageRow.kind, Capture.sha256, Capture.fetched_at)
        .join(Capture, PageRow.capture_id == Capture.id)
        .where(PageRow.run_id == run_id,
               or_(PageRow.url.in_(wanted), Capture.url.in_(wanted), Capture.final_url.in_(wanted)))
        .order_by(PageRow.id)
    )
    with Session(engine) as session:
        return [PageRef(*row) for row in session.execute(stmt)]
