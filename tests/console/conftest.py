"""Fixtures of the console tests (helpers in ``support.py``)."""

from __future__ import annotations

import dataclasses
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from .support import Clock, Seeded, make_console, seed


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture(scope="session")
def seeded_template(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Seeded]:
    """One seeded SQLite file per session (argon2 hashes take a while on purpose)."""
    path = tmp_path_factory.mktemp("console-seed") / "seed.sqlite3"
    return path, seed("sqlite:///" + path.as_posix(), Clock().now)


@pytest.fixture
def seeded(seeded_template: tuple[Path, Seeded], tmp_path: Path) -> Seeded:
    """A copy of the seeded database for this test."""
    source, data = seeded_template
    target = tmp_path / "console.sqlite3"
    shutil.copyfile(source, target)
    return dataclasses.replace(data, db_url="sqlite:///" + target.as_posix())


@pytest.fixture
def api(seeded: Seeded, clock: Clock) -> Iterator[FastAPI]:
    asgi = make_console(seeded.db_url, clock)
    yield asgi
    asgi.state.console.close()


@pytest.fixture
def client(api: FastAPI) -> Iterator[TestClient]:
    with TestClient(api, base_url="http://127.0.0.1") as c:
        yield c
