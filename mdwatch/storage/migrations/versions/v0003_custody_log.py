"""custody_log: the append-only chain of custody of evidence packages (who exported or verified
which package, when, its manifest SHA-256 and the result).

The table is created only when absent (a process that loaded ``storage.custody`` may have made it
with ``create_all``); the triggers refusing UPDATE and DELETE are (re)created either way.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-05
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
_MESSAGE = "custody_log is append-only"

_PG_FUNCTION = f"""
CREATE OR REPLACE FUNCTION mdwatch_custody_append_only() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION '{_MESSAGE}';
END;
$$ LANGUAGE plpgsql
"""


def _create_table() -> None:
    op.create_table("custody_log",
        sa.Column("id", _ID, autoincrement=True, nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("operator", sa.String(length=200), nullable=False),
        sa.Column("action", sa.String(length=16), nullable=False),
        sa.Column("target_kind", sa.String(length=16), nullable=False),
        sa.Column("target", sa.Text(), nullable=False),
        sa.Column("manifest_sha256", sa.String(length=64), nullable=True),
        sa.Column("result", sa.String(length=16), nullable=False),
        sa.Column("package", sa.Text(), nullable=True),
        sa.Column("detail", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_custody_log_target", "custody_log", ["target_kind", "target"], unique=False)
    op.create_index(op.f("ix_custody_log_manifest_sha256"), "custody_log", ["manifest_sha256"], unique=False)


def _create_triggers() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(_PG_FUNCTION)
        for event in ("UPDATE", "DELETE"):
            name = f"custody_log_no_{event.lower()}"
            op.execute(f"DROP TRIGGER IF EXISTS {name} ON custody_log")
            op.execute(f"CREATE TRIGGER {name} BEFORE {event} ON custody_log "
                       "FOR EACH ROW EXECUTE FUNCTION mdwatch_custody_append_only()")
        return
    for event in ("UPDATE", "DELETE"):  # SQLite
        name = f"custody_log_no_{event.lower()}"
        op.execute(f"DROP TRIGGER IF EXISTS {name}")
        op.execute(f"CREATE TRIGGER {name} BEFORE {event} ON custody_log "
                   f"BEGIN SELECT RAISE(ABORT, '{_MESSAGE}'); END")


def upgrade() -> None:
    if "custody_log" not in set(sa.inspect(op.get_bind()).get_table_names()):
        _create_table()
    _create_triggers()


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TABLE IF EXISTS custody_log CASCADE")
        op.execute("DROP FUNCTION IF EXISTS mdwatch_custody_append_only()")
        return
    op.drop_index("ix_custody_log_manifest_sha256", table_name="custody_log")
    op.drop_index("ix_custody_log_target", table_name="custody_log")
    op.drop_table("custody_log")
