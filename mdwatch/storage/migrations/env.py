"""Alembic environment for authoring revisions with the ``alembic`` command (see README).

mdwatch applies its migrations without this file (``storage.database.ensure_schema``)."""

from __future__ import annotations

from alembic import context

from mdwatch.storage.database import build_engine, resolve_db_url
from mdwatch.storage.migrations.models import target_metadata


def run() -> None:
    engine = build_engine(resolve_db_url(None))
    with engine.connect() as conn:
        context.configure(connection=conn, target_metadata=target_metadata(), render_as_batch=True)
        with context.begin_transaction():
            context.run_migrations()
    engine.dispose()


run()
