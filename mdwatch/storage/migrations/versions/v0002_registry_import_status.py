"""registry_imports.status and .error: an import closed as failed with its reason (issue 10, item 5).

Added only when absent (``registry_schema.create_registry_schema`` may have added them already).

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-05
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    present = {c["name"] for c in sa.inspect(op.get_bind()).get_columns("registry_imports")}
    if "status" not in present:
        op.add_column("registry_imports",
                      sa.Column("status", sa.String(length=8), nullable=False, server_default="done"))
    if "error" not in present:
        op.add_column("registry_imports", sa.Column("error", sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("registry_imports") as batch:
        batch.drop_column("error")
        batch.drop_column("status")
