"""The database of a hostile case, on SQLite or on PostgreSQL, and what it holds afterwards.

``database(backend, directory)`` gives a URL: a SQLite file in ``directory`` (not created here:
mdwatch creates it, or not), or a fresh PostgreSQL schema (``conftest.postgres_schema_url``,
dropped on exit; skipped when the server is unreachable, failed under
``MDWATCH_REQUIRE_SERVICES=1``). The readers below work through SQLAlchemy on either backend and
never create anything: a SQLite file that does not exist reads as an empty database.

``BACKENDS`` parametrizes a fixture or a test over both (the PostgreSQL case marked ``postgres``).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from conftest import postgres_schema_url
from sqlalchemy import Engine, MetaData, Table, create_engine, func, inspect, select
from sqlalchemy.engine import make_url

BACKENDS = ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]


@contextmanager
def database(backend: str, directory: Path, name: str = "db.sqlite3") -> Iterator[str]:
    """A database URL for ``backend`` ("sqlite" or "postgres"), empty."""
    if backend == "sqlite":
        yield "sqlite:///" + (directory / name).as_posix()
    elif backend == "postgres":
        with postgres_schema_url("mdw_hostile_") as url:
            yield url
    else:
        raise AssertionError(backend)


@pytest.fixture(name="db", params=BACKENDS)
def db_fixture(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """An empty database: a SQLite file in tmp_path, or a throw-away PostgreSQL schema.
    Test modules import it (``from dbstate import db_fixture``) to use it as their ``db`` fixture."""
    with database(request.param, tmp_path) as url:
        yield url


def sqlite_file(url: str) -> Path | None:
    """The file of a SQLite URL, None for PostgreSQL."""
    sa_url = make_url(url)
    return Path(sa_url.database or "") if sa_url.get_backend_name() == "sqlite" else None


@contextmanager
def _engine(url: str) -> Iterator[Engine | None]:
    path = sqlite_file(url)
    if path is not None and not path.exists():  # connecting would create it
        yield None
        return
    engine = create_engine(url)
    try:
        yield engine
    finally:
        engine.dispose()


def table_names(url: str) -> set[str]:
    with _engine(url) as engine:
        return set() if engine is None else set(inspect(engine).get_table_names())


def count(url: str, table: str) -> int:
    """Rows in ``table``; 0 when the database or the table does not exist."""
    with _engine(url) as engine:
        if engine is None or not inspect(engine).has_table(table):
            return 0
        reflected = Table(table, MetaData(), autoload_with=engine)
        with engine.connect() as conn:
            return int(conn.execute(select(func.count()).select_from(reflected)).scalar_one())


def rows(url: str, table: str) -> list[dict[str, Any]]:
    """Every row of ``table`` as a dict (empty when the database or the table does not exist)."""
    with _engine(url) as engine:
        if engine is None or not inspect(engine).has_table(table):
            return []
        meta = MetaData()
        meta.reflect(engine, only=[table])
        with engine.connect() as conn:
            return [dict(r) for r in conn.execute(select(meta.tables[table])).mappings()]


def all_text(url: str) -> str:
    """Every value of every table, as text (bytes decoded leniently)."""
    parts: list[str] = []
    with _engine(url) as engine:
        if engine is None:
            return ""
        meta = MetaData()
        meta.reflect(engine)
        with engine.connect() as conn:
            for table in meta.sorted_tables:
                for row in conn.execute(select(table)):
                    for value in row:
                        if isinstance(value, memoryview):
                            value = value.tobytes()
                        parts.append(value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value))
    return "\n".join(parts)
