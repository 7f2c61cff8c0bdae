"""The sweep's store commits a page without waiting for the disk, on both databases."""

from __future__ import annotations

from sqlalchemy import text

from mdwatch.storage.sweeps import open_sweep_store


def test_sweep_sessions_commit_asynchronously(db_url: str) -> None:
    with open_sweep_store(db_url) as store, store.engine.connect() as conn:
        if store.dialect == "postgresql":
            assert conn.execute(text("SHOW synchronous_commit")).scalar() == "off"
        else:
            assert conn.execute(text("PRAGMA synchronous")).scalar() == 1  # NORMAL
