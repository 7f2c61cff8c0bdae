"""mdwatch.storage: SQLAlchemy ORM and repository; imports nothing else of ours."""

from __future__ import annotations

from .config import default_db_url, normalize_db_url
from .database import DatabaseError, DatabaseUnavailable, DatabaseUrlError, open_engine
from .records import (
    CaptureRecord,
    FindingRecord,
    PageRecord,
    RunRecord,
    ScanRecord,
    StoredFinding,
    StoredRun,
)
from .store import Store, create_store_engine

__all__ = [
    "CaptureRecord",
    "DatabaseError",
    "DatabaseUnavailable",
    "DatabaseUrlError",
    "FindingRecord",
    "PageRecord",
    "RunRecord",
    "ScanRecord",
    "Store",
    "StoredFinding",
    "StoredRun",
    "create_store_engine",
    "default_db_url",
    "normalize_db_url",
    "open_engine",
]
