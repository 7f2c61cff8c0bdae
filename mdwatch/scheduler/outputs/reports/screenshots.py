"""The screenshot of each flagged page (from ``evidence_files``) and its thumbnail for the HTML report.

The thumbnail is embedded as a ``data:`` URI so the HTML report opens from disk without its files.
"""

from __future__ import annotations

import base64
import io
import os
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import NamedTuple

from sqlalchemy import select
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from mdwatch.storage.evidence import EvidenceFileRow

from .model import Screenshot

THUMB_WIDTH = 360
THUMB_MAX_HEIGHT = 540
BATCH = 500  # page ids per IN (...) query, well below SQLite's bound-parameter limit


class _StoredFile(NamedTuple):
    id: int
    sha256: str
    size: int
    path: str | None  # on disk, or None when the bytes are in the row
    body: bytes | None  # the row's bytes, read only when a thumbnail needs them


def thumbnail_data_uri(png: bytes, width: int = THUMB_WIDTH, max_height: int = THUMB_MAX_HEIGHT) -> str:
    """A small JPEG of the top of a screenshot, as a ``data:`` URI ('' if the bytes are no image)."""
    from PIL import Image

    try:
        with Image.open(io.BytesIO(png)) as img:
            w, h = img.size
            keep = min(h, max(1, int(max_height * w / width)))  # the part that fits the thumbnail's box
            top = img.crop((0, 0, w, keep)).convert("RGB")
    except Exception:  # a damaged or foreign file: the report says 无截图 instead of failing
        return ""
    top.thumbnail((width, max_height), Image.Resampling.BILINEAR, reducing_gap=2.0)
    out = io.BytesIO()
    top.save(out, format="JPEG", quality=72)
    return "data:image/jpeg;base64," + base64.b64encode(out.getvalue()).decode("ascii")


def screenshots(engine: Engine, page_ids: Iterable[int], thumbnails: bool) -> dict[int, Screenshot]:
    """The newest screenshot of each page (from ``evidence_files``), with a thumbnail if asked.

    Thumbnails are made on a few threads (PNG decoding releases the GIL).
    """
    with Session(engine) as session:
        newest = _newest_screenshots(session, list(page_ids))
        files = {page_id: _read_file(session, file_id, thumbnails) for page_id, file_id in newest.items()}

    def thumb(item: _StoredFile) -> str:
        return _thumbnail(item) if thumbnails else ""

    with ThreadPoolExecutor(max_workers=min(4, os.cpu_count() or 1)) as pool:
        thumbs = dict(zip(files, pool.map(thumb, files.values()), strict=True))
    return {page_id: Screenshot(evidence_file_id=f.id, sha256=f.sha256, size=f.size, thumbnail=thumbs[page_id])
            for page_id, f in files.items()}


def _newest_screenshots(session: Session, ids: list[int]) -> dict[int, int]:
    """Page id -> id of its newest screenshot file, for the pages that have one."""
    newest: dict[int, int] = {}
    for start in range(0, len(ids), BATCH):
        stmt = (select(EvidenceFileRow.page_id, EvidenceFileRow.id)
                .where(EvidenceFileRow.page_id.in_(ids[start:start + BATCH]), EvidenceFileRow.kind == "screenshot")
                .order_by(EvidenceFileRow.id))
        for page_id, file_id in session.execute(stmt):
            if page_id is not None:
                newest[page_id] = file_id  # the latest screenshot of a page wins
    return newest


def _read_file(session: Session, file_id: int, thumbnails: bool) -> _StoredFile:
    fid, sha, size, path = session.execute(
        select(EvidenceFileRow.id, EvidenceFileRow.sha256, EvidenceFileRow.size, EvidenceFileRow.path)
        .where(EvidenceFileRow.id == file_id)).one()
    body: bytes | None = None
    if thumbnails and path is None:  # the body column can be large: read only when a thumbnail needs it
        raw = session.scalar(select(EvidenceFileRow.body).where(EvidenceFileRow.id == file_id))
        body = bytes(raw) if raw is not None else None
    return _StoredFile(fid, sha, int(size), path, body)


def _thumbnail(item: _StoredFile) -> str:
    try:
        data = Path(item.path).read_bytes() if item.path else (item.body or b"")
    except OSError:  # a file moved or deleted since it was stored: no thumbnail rather than no report
        return ""
    return thumbnail_data_uri(data)
