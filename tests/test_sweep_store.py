"""The sweep's store commits a page without waiting for the disk, on both databases."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from sqlalchemy import text

from mdwatch.storage.sweeps import open_sweep_store


def test_sweep_sessions_commit_asynchronously(db_url: str) -> None:
    with open_sweep_store(db_url) as store, store.engine.connect() as conn:
        if store.dialect == "postgresql":
            assert conn.execute(text("SHOW synchronous_commit")).scalar() == "off"
        else:
            assert conn.execute(text("PRAGMA synchronous")).scalar() == 1  # NORMAL


def test_processes_opening_a_new_sqlite_database_together_all_get_it(tmp_path: Path) -> None:
    """A sweep's workers may be the first to open a database: switching it to WAL needs the file to
    itself, so they wait for one another instead of failing with "database is locked"."""
    code = ("import sys; from mdwatch.storage.sweeps import open_sweep_store; "
            "s = open_sweep_store(sys.argv[1]); print(s.engine.connect().exec_driver_sql('PRAGMA journal_mode').scalar())")
    for n in range(3):
        url = f"sqlite:///{tmp_path / f'fresh{n}.db'}"
        procs = [subprocess.Popen([sys.executable, "-c", code, url], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                  text=True) for _ in range(4)]
        outs = [p.communicate(timeout=120) for p in procs]
        assert [p.returncode for p in procs] == [0] * 4, [err[-300:] for _, err in outs]
        assert {out.strip() for out, _ in outs} == {"wal"}
