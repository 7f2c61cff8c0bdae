"""The console (监测工作台): accounts (console_users, console_tokens, console_sessions), the
append-only audit_log, finding_reviews; and on the lead tables the campaign's organisation
(campaigns.org), a lead's deadline (leads.deadline) and who acted on it (lead_events.actor).

Tables are created and columns added only when absent (a process that loaded the new models may
have made them with ``create_all``); the triggers refusing UPDATE and DELETE on audit_log are
(re)created either way.

Revision ID: v0005_console
Revises: v0004_notification_log
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "v0005_console"
down_revision = "v0004_notification_log"
branch_labels = None
depends_on = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
_JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")
_AUDIT_MESSAGE = "audit_log is append-only"
_PG_FUNCTION = f"""
CREATE OR REPLACE FUNCTION mdwatch_audit_append_only() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION '{_AUDIT_MESSAGE}';
END;
$$ LANGUAGE plpgsql
"""


def _tables() -> set[str]:
    return set(sa.inspect(op.get_bind()).get_table_names())


def _columns(table: str) -> set[str]:
    return {c["name"] for c in sa.inspect(op.get_bind()).get_columns(table)}


def _create_accounts(existing: set[str]) -> None:
    if "console_users" not in existing:
        op.create_table("console_users",
            sa.Column("id", _ID, autoincrement=True, nullable=False),
            sa.Column("name", sa.String(length=100), nullable=False),
            sa.Column("role", sa.String(length=16), nullable=False),
            sa.Column("org", sa.String(length=200), nullable=True),
            sa.Column("password_hash", sa.Text(), nullable=True),
            sa.Column("active", sa.Boolean(), nullable=False),
            sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
            sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
            sa.PrimaryKeyConstraint("id"),
            sa.UniqueConstraint("name"),
        )
    if "console_tokens" not in existing:
        op.create_table("console_tokens",
            sa.Column("id", _ID, autoincrement=True, nullable=False),
            sa.Column("user_id", _ID, nullable=False),
            sa.Column("token_sha256", sa.String(length=64), nullable=False),
            sa.Column("label", sa.String(length=200), nullable=True),
            sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
            sa.Column("last_used_at", sa.DateTime(timezone=True), nullable=True),
            sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
            sa.ForeignKeyConstraint(["user_id"], ["console_users.id"]),
            sa.PrimaryKeyConstraint("id"),
            sa.UniqueConstraint("token_sha256"),
        )
        op.create_index(op.f("ix_console_tokens_user_id"), "console_tokens", ["user_id"], unique=False)
    if "console_sessions" not in existing:
        op.create_table("console_sessions",
            sa.Column("id", _ID, autoincrement=True, nullable=False),
            sa.Column("sid_sha256", sa.String(length=64), nullable=False),
            sa.Column("user_id", _ID, nullable=False),
            sa.Column("csrf", sa.String(length=64), nullable=False),
            sa.Column("address", sa.String(length=100), nullable=True),
            sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
            sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
            sa.ForeignKeyConstraint(["user_id"], ["console_users.id"]),
            sa.PrimaryKeyConstraint("id"),
            sa.UniqueConstraint("sid_sha256"),
        )
        op.create_index(op.f("ix_console_sessions_user_id"), "console_sessions", ["user_id"], unique=False)
        op.create_index(op.f("ix_console_sessions_expires_at"), "console_sessions", ["expires_at"], unique=False)


def _create_audit(existing: set[str]) -> None:
    if "audit_log" not in existing:
        op.create_table("audit_log",
            sa.Column("id", _ID, autoincrement=True, nullable=False),
            sa.Column("at", sa.DateTime(timezone=True), nullable=False),
            sa.Column("actor", sa.String(length=200), nullable=False),
            sa.Column("role", sa.String(length=16), nullable=True),
            sa.Column("org", sa.String(length=200), nullable=True),
            sa.Column("address", sa.String(length=100), nullable=False),
            sa.Column("action", sa.String(length=64), nullable=False),
            sa.Column("target_kind", sa.String(length=32), nullable=False),
            sa.Column("target", sa.Text(), nullable=False),
            sa.Column("detail", _JSON, nullable=False),
            sa.PrimaryKeyConstraint("id"),
        )
        op.create_index(op.f("ix_audit_log_at"), "audit_log", ["at"], unique=False)
        op.create_index(op.f("ix_audit_log_action"), "audit_log", ["action"], unique=False)
        op.create_index("ix_audit_log_target", "audit_log", ["target_kind", "target"], unique=False)
    if op.get_bind().dialect.name == "postgresql":
        op.execute(_PG_FUNCTION)
        for event in ("UPDATE", "DELETE"):
            name = f"audit_log_no_{event.lower()}"
            op.execute(f"DROP TRIGGER IF EXISTS {name} ON audit_log")
            op.execute(f"CREATE TRIGGER {name} BEFORE {event} ON audit_log "
                       "FOR EACH ROW EXECUTE FUNCTION mdwatch_audit_append_only()")
        return
    for event in ("UPDATE", "DELETE"):  # SQLite
        name = f"audit_log_no_{event.lower()}"
        op.execute(f"DROP TRIGGER IF EXISTS {name}")
        op.execute(f"CREATE TRIGGER {name} BEFORE {event} ON audit_log "
                   f"BEGIN SELECT RAISE(ABORT, '{_AUDIT_MESSAGE}'); END")


def _create_reviews(existing: set[str]) -> None:
    if "finding_reviews" in existing:
        return
    op.create_table("finding_reviews",
        sa.Column("id", _ID, autoincrement=True, nullable=False),
        sa.Column("finding_id", _ID, nullable=False),
        sa.Column("rule", sa.String(length=64), nullable=False),
        sa.Column("decision", sa.String(length=16), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("reviewer", sa.String(length=100), nullable=False),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("snippet", sa.Text(), nullable=False),
        sa.Column("message", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(["finding_id"], ["findings.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("finding_id"),
    )
    op.create_index(op.f("ix_finding_reviews_rule"), "finding_reviews", ["rule"], unique=False)
    op.create_index(op.f("ix_finding_reviews_decision"), "finding_reviews", ["decision"], unique=False)


def _add_lead_columns(existing: set[str]) -> None:
    if "campaigns" in existing and "org" not in _columns("campaigns"):
        with op.batch_alter_table("campaigns") as batch:
            batch.add_column(sa.Column("org", sa.String(length=200), nullable=True))
        op.create_index(op.f("ix_campaigns_org"), "campaigns", ["org"], unique=False)
    if "leads" in existing and "deadline" not in _columns("leads"):
        with op.batch_alter_table("leads") as batch:
            batch.add_column(sa.Column("deadline", sa.DateTime(timezone=True), nullable=True))
    if "lead_events" in existing and "actor" not in _columns("lead_events"):
        with op.batch_alter_table("lead_events") as batch:
            batch.add_column(sa.Column("actor", sa.String(length=200), nullable=True))


def upgrade() -> None:
    existing = _tables()
    _create_accounts(existing)
    _create_audit(existing)
    _create_reviews(existing)
    _add_lead_columns(existing)


def downgrade() -> None:
    bind = op.get_bind()
    for table, column in (("lead_events", "actor"), ("leads", "deadline")):
        with op.batch_alter_table(table) as batch:
            batch.drop_column(column)
    op.drop_index(op.f("ix_campaigns_org"), table_name="campaigns")
    with op.batch_alter_table("campaigns") as batch:
        batch.drop_column("org")
    op.drop_table("finding_reviews")
    if bind.dialect.name == "postgresql":
        op.execute("DROP TABLE IF EXISTS audit_log CASCADE")
        op.execute("DROP FUNCTION IF EXISTS mdwatch_audit_append_only()")
    else:
        op.drop_table("audit_log")
    for table in ("console_sessions", "console_tokens", "console_users"):
        op.drop_table(table)
