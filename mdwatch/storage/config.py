"""Where the database lives: ``MDWATCH_DB_URL`` or a SQLite file in the user's data directory."""

from __future__ import annotations

import os
from pathlib import Path

import platformdirs

ENV_DB_URL = "MDWATCH_DB_URL"
DEFAULT_FILENAME = "mdwatch.sqlite3"


def default_data_dir() -> Path:
    """The per-user data directory (created if absent)."""
    path = Path(platformdirs.user_data_dir("mdwatch"))
    path.mkdir(parents=True, exist_ok=True)
    return path


def default_db_url() -> str:
    """``$MDWATCH_DB_URL`` (normalised) if set, else a SQLite file under the user's data directory."""
    env = os.environ.get(ENV_DB_URL, "").strip()
    if env:
        return normalize_db_url(env)
    return "sqlite:///" + (default_data_dir() / DEFAULT_FILENAME).as_posix()


def normalize_db_url(url: str) -> str:
    """Make a user-supplied database location into a SQLAlchemy URL.

    ``postgresql://`` and ``postgres://`` select the psycopg 3 driver; a plain file path (no
    ``scheme://``) becomes an absolute ``sqlite:///`` URL; ``:memory:`` becomes in-memory SQLite.
    Anything else is returned unchanged.
    """
    url = url.strip()
    if not url:
        raise ValueError("empty database URL")
    for prefix in ("postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    if url == ":memory:":
        return "sqlite://"
    if "://" not in url:
        path = Path(url).expanduser().absolute()
        return "sqlite:///" + path.as_posix()
    return url
