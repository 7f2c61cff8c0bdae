"""Shared fixtures.

``db_url`` runs a test once on SQLite (a file in ``tmp_path``) and once on PostgreSQL (a freshly
created schema ``mdw_test_<random>`` on 127.0.0.1:5432, dropped afterwards; the URL carries
``options=-csearch_path=<schema>`` so any engine built from it is isolated). Services that are
unreachable skip the test, unless ``MDWATCH_REQUIRE_SERVICES=1``, which makes them fail.

Environment: ``MDWATCH_TEST_POSTGRES_URL`` overrides the server probed (default: database
``test`` as user ``postgres``, else ``root``).
"""

from __future__ import annotations

import functools
import os
import secrets
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import NoReturn

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import URL, make_url
from sqlalchemy.schema import CreateSchema, DropSchema

# the user's data directory (default database, evidence files, the evidence signing key) is
# never the developer's or the CI user's real one: a fresh directory for the whole run, which
# subprocesses inherit; a test that needs its own sets XDG_DATA_HOME itself
os.environ["XDG_DATA_HOME"] = tempfile.mkdtemp(prefix="mdwatch-test-data-")

REDIS_URL = os.environ.get("MDWATCH_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
PG_HOST = "127.0.0.1"
PG_PORT = 5432
PG_DATABASE = "test"
PG_USERS = ("postgres", "root")


def require_services() -> bool:
    """True when unreachable test services must fail tests instead of skipping them."""
    return os.environ.get("MDWATCH_REQUIRE_SERVICES", "").strip() == "1"


def service_unavailable(reason: str) -> NoReturn:
    """Skip the current test, or fail it under ``MDWATCH_REQUIRE_SERVICES=1``."""
    if require_services():
        pytest.fail(f"required service unavailable: {reason}", pytrace=False)
    pytest.skip(reason)


def _candidate_pg_urls() -> list[URL]:
    env = os.environ.get("MDWATCH_TEST_POSTGRES_URL", "").strip()
    if env:
        url = make_url(env)
        if url.drivername in ("postgresql", "postgres"):
            url = url.set(drivername="postgresql+psycopg")
        return [url]
    return [
        URL.create("postgresql+psycopg", username=user, host=PG_HOST, port=PG_PORT, database=PG_DATABASE)
        for user in PG_USERS
    ]


@functools.cache
def _probe_postgres() -> tuple[URL | None, str]:
    errors: list[str] = []
    for url in _candidate_pg_urls():
        engine = create_engine(url, connect_args={"connect_timeout": 3})
        try:
            with engine.connect() as conn:
                conn.execute(text("SELECT 1"))
            return url, ""
        except Exception as exc:  # any connection failure means "unavailable"
            errors.append(f"{url.render_as_string(hide_password=True)}: {type(exc).__name__}: {exc}")
        finally:
            engine.dispose()
    return None, "; ".join(errors)


def postgres_base_url() -> URL | None:
    """The reachable PostgreSQL server's URL (cached per process), or None."""
    return _probe_postgres()[0]


@contextmanager
def postgres_schema_url(prefix: str = "mdw_test_") -> Iterator[str]:
    """A URL whose connections use a fresh, empty schema; the schema is dropped on exit."""
    base, error = _probe_postgres()
    if base is None:
        service_unavailable(f"PostgreSQL unreachable ({error})")
    schema = prefix + secrets.token_hex(6)
    admin = create_engine(base)
    try:
        with admin.begin() as conn:
            conn.execute(CreateSchema(schema))
        url = base.update_query_dict({"options": f"-csearch_path={schema}"})
        try:
            yield url.render_as_string(hide_password=False)
        finally:
            with admin.begin() as conn:
                conn.execute(text("SET LOCAL lock_timeout = '10s'"))
                conn.execute(DropSchema(schema, cascade=True, if_exists=True))
    finally:
        admin.dispose()


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return "sqlite:///" + (tmp_path / "mdwatch-test.sqlite3").as_posix()


@pytest.fixture
def postgres_url() -> Iterator[str]:
    with postgres_schema_url() as url:
        yield url


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A database URL for each backend: SQLite in tmp_path, PostgreSQL in a throw-away schema."""
    if request.param == "sqlite":
        yield "sqlite:///" + (tmp_path / "mdwatch-test.sqlite3").as_posix()
    else:
        with postgres_schema_url() as url:
            yield url


@pytest.fixture
def redis_prefix() -> Iterator[str]:
    """A Redis key prefix of this test alone (``mdw_test_…``); every key containing it (the sweep's
    ``PREFIX:…`` keys, RQ's ``rq:…:PREFIX`` queue keys) is deleted afterwards."""
    from redis import Redis

    client = Redis.from_url(REDIS_URL, socket_connect_timeout=3)
    try:
        client.ping()
    except Exception as exc:
        client.close()
        service_unavailable(f"Redis unreachable at {REDIS_URL} ({type(exc).__name__}: {exc})")
    prefix = "mdw_test_" + secrets.token_hex(6)
    try:
        yield prefix
    finally:
        keys = list(client.scan_iter(match=f"*{prefix}*"))
        if keys:
            client.delete(*keys)
        client.close()
