"""Concurrent first use and versioned schema (issue 10, item 4).

- ten ``mdwatch scan`` processes started together on one new SQLite file, and on one new
  PostgreSQL schema, all succeed (no ``table … already exists``), ten runs stored, schema at head;
- a database made by the former ``create_all`` path (no ``alembic_version``) is adopted in place
  by the migrations, its rows kept;
- the migrations create every table and column of every module's models.

The ten scans run on SQLite and on PostgreSQL (one test each); the upgrade in place and the
migrations' tables and columns run once per backend (``db_url``). PostgreSQL cases skip without
the server unless ``MDWATCH_REQUIRE_SERVICES=1``.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from conftest import postgres_schema_url
from sqlalchemy import create_engine, inspect, text

from mdwatch.demo.server import DemoServer, serve
from mdwatch.storage.database import schema_head
from mdwatch.storage.migrations.models import target_metadata
from mdwatch.storage.records import CaptureRecord, PageRecord, RunRecord
from mdwatch.storage.store import Store

pytestmark = pytest.mark.network

SCANS = 10
RUN_TIMEOUT = 300


@pytest.fixture(scope="module")
def demo() -> Iterator[DemoServer]:
    with serve() as server:
        yield server


def _scan_together(url: str, db: str) -> list[subprocess.CompletedProcess[str]]:
    argv = [sys.executable, "-m", "mdwatch.scheduler.cli", "scan", url, "--db", db, "--no-browser",
            "--ocr-engine", "none", "--json"]
    procs = [subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for _ in range(SCANS)]
    done = []
    for p in procs:
        out, err = p.communicate(timeout=RUN_TIMEOUT)
        done.append(subprocess.CompletedProcess(argv, p.returncode, out, err))
    return done


def _assert_all_ok(done: list[subprocess.CompletedProcess[str]]) -> None:
    for proc in done:
        assert "Traceback" not in proc.stderr, proc.stderr
        assert "already exists" not in proc.stderr, proc.stderr
        assert proc.returncode == 0, proc.stderr


def _check_db(db: str) -> None:
    engine = create_engine(db)
    try:
        with engine.connect() as conn:
            assert conn.execute(text("SELECT version_num FROM alembic_version")).scalars().all() == [schema_head()]
            assert conn.execute(text("SELECT count(*) FROM runs WHERE kind = 'scan'")).scalar() == SCANS
            assert conn.execute(text("SELECT count(DISTINCT sha256) FROM captures")).scalar() == \
                conn.execute(text("SELECT count(*) FROM captures")).scalar()
    finally:
        engine.dispose()


def test_ten_scans_on_a_new_sqlite_file(demo: DemoServer, tmp_path: Path) -> None:
    db_file = tmp_path / "first-use.sqlite3"
    assert not db_file.exists()
    done = _scan_together(demo.url("/index.html"), f"sqlite:///{db_file}")
    _assert_all_ok(done)
    _check_db(f"sqlite:///{db_file}")


@pytest.mark.postgres
def test_ten_scans_on_a_new_postgres_schema(demo: DemoServer) -> None:
    with postgres_schema_url("mdw_first_use_") as db:
        done = _scan_together(demo.url("/index.html"), db)
        _assert_all_ok(done)
        _check_db(db)


def _legacy_database(url: str) -> None:
    """A database as mdwatch made it before migrations: create_all of every model, one run saved."""
    engine = create_engine(url)
    try:
        for metadata in target_metadata():
            metadata.create_all(engine)
        store = Store(engine)  # a bare engine: no migration
        now = datetime.now(UTC)
        capture = CaptureRecord(url="http://legacy.example/p.html", final_url="http://legacy.example/p.html",
                                status=200, headers={"content-type": "text/html"}, body=b"<html>legacy</html>",
                                sha256="ab" * 32, fetched_at=now)
        page = PageRecord(url=capture.url, kind="product", title="旧库商品", extracted={}, capture=capture)
        store.save_run(RunRecord(kind="scan", target=capture.url, started_at=now, finished_at=now, pages=[page]))
        assert "alembic_version" not in inspect(engine).get_table_names()
    finally:
        engine.dispose()


def test_existing_database_is_upgraded_in_place(db_url: str) -> None:
    _legacy_database(db_url)
    proc = subprocess.run([sys.executable, "-m", "mdwatch.scheduler.cli", "registry", "stats", "--db", db_url],
                          capture_output=True, text=True, timeout=RUN_TIMEOUT, check=False)
    assert proc.returncode == 0, proc.stderr
    assert "Traceback" not in proc.stderr
    engine = create_engine(db_url)
    try:
        with engine.connect() as conn:
            assert conn.execute(text("SELECT version_num FROM alembic_version")).scalars().all() == [schema_head()]
            assert conn.execute(text("SELECT title FROM pages")).scalars().all() == ["旧库商品"]
            assert conn.execute(text("SELECT count(*) FROM runs")).scalar() == 1
    finally:
        engine.dispose()
    with Store.open(db_url) as store:  # and it is used as before
        assert store.counts()["runs"] == 1


def test_migrations_create_every_table_of_the_models(db_url: str) -> None:
    Store.open(db_url).close()
    engine = create_engine(db_url)
    try:
        found = inspect(engine)
        tables = set(found.get_table_names())
        models = {name for metadata in target_metadata() for name in metadata.tables}
        assert models <= tables, sorted(models - tables)
        assert "alembic_version" in tables
        for metadata in target_metadata():  # and every column: a model change needs a revision
            for name, table in metadata.tables.items():
                columns = {c["name"] for c in found.get_columns(name)}
                assert {c.name for c in table.columns} <= columns, (name, sorted({c.name for c in table.columns} - columns))
    finally:
        engine.dispose()
