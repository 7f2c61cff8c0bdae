"""notification_log: one row per notification sent on a channel (企业微信, 钉钉, 飞书, e-mail,
webhook), with the masked target, the title, the result and its detail, and the run it reports.

The table is created only when absent (a process that loaded ``storage.notifications`` may have
made it with ``create_all``).

Revision ID: v0004_notification_log
Revises: 0003
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "v0004_notification_log"
down_revision = "0003"
branch_labels = None
depends_on = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    if "notification_log" in set(sa.inspect(op.get_bind()).get_table_names()):
        return
    op.create_table("notification_log",
        sa.Column("id", _ID, autoincrement=True, nullable=False),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("channel", sa.String(length=32), nullable=False),
        sa.Column("target", sa.Text(), nullable=False),
        sa.Column("title", sa.String(length=500), nullable=False),
        sa.Column("ok", sa.Boolean(), nullable=False),
        sa.Column("detail", sa.Text(), nullable=True),
        sa.Column("run_id", _ID, nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(op.f("ix_notification_log_sent_at"), "notification_log", ["sent_at"], unique=False)
    op.create_index(op.f("ix_notification_log_run_id"), "notification_log", ["run_id"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_notification_log_run_id"), table_name="notification_log")
    op.drop_index(op.f("ix_notification_log_sent_at"), table_name="notification_log")
    op.drop_table("notification_log")
