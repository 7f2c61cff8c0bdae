"""Initial schema: every table of mdwatch as ``create_all`` made it before migrations existed.

Each table (with its indexes) is created only when absent, so a database made by the former
``create_all`` path (or one that lacks some tables only) is adopted in place with its rows, and
a new database is created whole.

Revision ID: 0001
Revises:
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    existing = set(sa.inspect(op.get_bind()).get_table_names())
    if "campaigns" not in existing:
        op.create_table("campaigns",
            sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False),
            sa.Column("name", sa.String(length=200), nullable=False),
            sa.Column("packs", sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"), nullable=False),
            sa.Column("profile", sa.String(length=200), nullable=True),
            sa.Column("base_url", sa.Text(), nullable=True),
            sa.Column("cron", sa.String(length=200), nullable=True),
            sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
            sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
            sa.PrimaryKeyConstraint("id"),
            sa.UniqueConstraint("name")
        )
    if "captures" not in existing:
        op.create_table("captures",
            sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False),
            sa.Column("sha256", sa.String(length=64), nullable=False),
            sa.Column("url", sa.Text(), nullable=False),
            sa.Column("final_url", sa.Text(), nullable=False),
            sa.Column("status", sa.Integer(), nullable=False),
            sa.Column("headers", sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"), nullable=False),
            sa.Column("body", sa.LargeBinary().with_variant(postgresql.BYTEA(), "postgresql"), nullable=False),
            sa.Column("encoding", sa.String(length=64), nullable=True),
            sa.Column("method", sa.String(length=32), nullable=False),
            sa.Column("fetched_at", sa.DateTime(timezone=True), nullable=False),
            sa.PrimaryKeyConstraint("id"),
            sa.UniqueConstraint("sha256")
        )
    if "images" not in existing:
        op.create_table("images",
            sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False),
            sa.Column("sha256", sa.String(length=64), nullable=False),
            sa.Column("url", sa.Text(), nullable=False),
            sa.Column("content_type", sa.String(length=255), nullable=False),
            sa.Column("bytes", sa.LargeBinary().with_variant(postgresql.BYTEA(), "postgresql"), nullable=True),
            sa.Column("width", sa.Integer(), nullable=True),
            sa.Column("height", sa.Integer(), nullable=True),
            sa.Column("format", sa.String(length=32), nullable=True),
            sa.Column("skip_reason", sa.Text(), nullable=True),
            sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
            sa.PrimaryKeyConstraint("id"),
            sa.UniqueConstraint("sha256")
        )
    if "ocr_results" not in existing:
        op.create_table("ocr_results",
            sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False),
            sa.Column("sha256", sa.String(length=64), nullable=False),
            sa.Column("engine", sa.String(length=32), nullable=False),
            sa.Column("text", sa.Text(), nullable=False),
            sa.Column("lines", sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"), nullable=False),
            sa.Column("seconds", sa.Float(), nullable=False),
            sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
            sa.PrimaryKeyConstraint("id"),
            sa.UniqueConstraint("sha256", "engine", name="uq_ocr_results_sha256_engine")
        )
        op.create_index(op.f("ix_ocr_results_sha256"), "ocr_results", ["sha256"], unique=False)
    if "runs" not in existing:
        op.create_table("runs",
            sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False),
            sa.Column("kind", sa.String(length=32), nullable=False),
            sa.Column("target", sa.Text(), nullable=False),
            sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
            sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
            sa.Column("status", sa.String(length=16), nullable=False),
            sa.Column("stats", sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"), nullable=False),
            sa.PrimaryKeyConstraint("id")
        )
        op.create_index(op.f("ix_runs_kind"), "runs", ["kind"], unique=False)
        op.create_index(op.f("ix_runs_started_at"), "runs", ["started_at"], unique=False)
    if "schedule_locks" not in existing:
        op.create_table("schedule_locks",
            sa.Column("name", sa.String(length=191), nullable=False),
            sa.Column("pid", sa.Integer(), nullable=False),
            sa.Column("host", sa.String(length=255), nullable=False),
            sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
            sa.PrimaryKeyConstraint("name")
        )
    if "schedule_runs" not in existing:
        op.create_table("schedule_runs",
            sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False),
            sa.Column("name", sa.String(length=191), nullable=False),
            sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
            sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
            sa.Column("exit_code", sa.Integer(), nullable=True),
            sa.Column("pid", sa.Integer(), nullable=False),
            sa.Column("host", sa.String(length=255), nullable=False),
            sa.Column("status", sa.String(length=16), nullable=False),
            sa.Column("command", sa.Text(), nullable=False),
            sa.Column("log_path", sa.Text(), nullable=True),
            sa.PrimaryKeyConstraint("id")
        )
        op.create_index(op.f("ix_schedule_runs_name"), "schedule_runs", ["name"], unique=False)
        op.create_index(op.f("ix_schedule_runs_started_at"), "schedule_runs", ["started_at"], unique=False)
    if "shops" not in existing:
        op.create_table("shops",
            sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False),
            sa.Column("url", sa.Text(), nullable=False),
            sa.Column("name", sa.Text(), nullable=True),
            sa.Column("first_seen", sa.DateTime(timezone=True), nullable=False),
            sa.Column("last_seen", sa.DateTime(timezone=True), nullable=False),
            sa.PrimaryKeyConstraint("id"),
            sa.UniqueConstraint("url")
        )
    if "campaign_runs" not in existing:
        op.create_table("campaign_runs",
            sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False),
            sa.Column("campaign_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
            sa.Column("run_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
            sa.Column("run_ids", sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"), nullable=False),
            sa.Column("status", sa.String(length=16), nullable=False),
            sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
            sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
            sa.Column("stats", sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"), nullable=False),
            sa.ForeignKeyConstraint(["campaign_id"], ["campaigns.id"], ),
            sa.ForeignKeyConstraint(["run_id"], ["runs.id"], ),
            sa.PrimaryKeyConstraint("id")
        )
        op.create_index(op.f("ix_campaign_runs_campaign_id"), "campaign_runs", ["campaign_id"], unique=False)
        op.create_index(op.f("ix_campaign_runs_run_id"), "campaign_runs", ["run_id"], unique=False)
    if "campaign_targets" not in existing:
        op.create_table("campaign_targets",
            sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False),
            sa.Column("campaign_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
            sa.Column("kind", sa.String(length=16), nullable=False),
            sa.Column("target", sa.Text(), nullable=False),
            sa.Column("last_status", sa.String(length=16), nullable=True),
            sa.Column("last_error", sa.Text(), nullable=True),
            sa.Column("last_checked_at", sa.DateTime(timezone=True), nullable=True),
            sa.Column("last_run_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
            sa.ForeignKeyConstraint(["campaign_id"], ["campaigns.id"], ),
            sa.ForeignKeyConstraint(["last_run_id"], ["runs.id"], ),
            sa.PrimaryKeyConstraint("id"),
            sa.UniqueConstraint("campaign_id", "kind", "target", name="uq_campaign_targets")
        )
        op.create_index(op.f("ix_campaign_targets_campaign_id"), "campaign_targets", ["campaign_id"], unique=False)
    if "listing_snapshots" not in existing:
        op.create_table("listing_snapshots",
            sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False),
            sa.Column("listing_url", sa.Text(), nullable=False),
            sa.Column("run_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
            sa.Column("fetched_at", sa.DateTime(timezone=True), nullable=False),
            sa.Column("seen_until", sa.DateTime(timezone=True), nullable=True),
            sa.Column("sha256", sa.String(length=64), nullable=False),
            sa.Column("price", sa.Float(), nullable=True),
            sa.Column("original_price", sa.Float(), nullable=True),
            sa.Column("rules", sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"), nullable=False),
            sa.Column("warnings", sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"), nullable=False),
            sa.Column("claims", sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"), nullable=False),
            sa.ForeignKeyConstraint(["run_id"], ["runs.id"], ),
            sa.PrimaryKeyConstraint("id"),
            sa.UniqueConstraint("run_id", "listing_url", name="uq_listing_snapshots_run_url")
        )
        op.create_index(op.f("ix_listing_snapshots_run_id"), "listing_snapshots", ["run_id"], unique=False)
        op.create_index("ix_listing_snapshots_url_fetched", "listing_snapshots", ["listing_url", "fetched_at"], unique=False)
    if "listings" not in existing:
        op.create_table("listings",
            sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False),
            sa.Column("url", sa.Text(), nullable=False),
            sa.Column("shop_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
            sa.Column("title", sa.Text(), nullable=True),
            sa.Column("first_seen", sa.DateTime(timezone=True), nullable=False),
            sa.Column("last_seen", sa.DateTime(timezone=True), nullable=False),
            sa.Column("gone_at", sa.DateTime(timezone=True), nullable=True),
            sa.ForeignKeyConstraint(["shop_id"], ["shops.id"], ),
            sa.PrimaryKeyConstraint("id"),
            sa.UniqueConstraint("url")
        )
        op.create_index(op.f("ix_listings_shop_id"), "listings", ["shop_id"], unique=False)
    if "pages" not in existing:
        op.create_table("pages",
            sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False),
            sa.Column("run_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
            sa.Column("capture_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
            sa.Column("url", sa.Text(), nullable=False),
            sa.Column("kind", sa.String(length=32), nullable=False),
            sa.Column("title", sa.Text(), nullable=True),
            sa.Column("extracted", sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"), nullable=False),
            sa.Column("shop_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
            sa.Column("listing_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
            sa.ForeignKeyConstraint(["capture_id"], ["captures.id"], ),
            sa.ForeignKeyConstraint(["listing_id"], ["listings.id"], ),
            sa.ForeignKeyConstraint(["run_id"], ["runs.id"], ),
            sa.ForeignKeyConstraint(["shop_id"], ["shops.id"], ),
            sa.PrimaryKeyConstraint("id")
        )
        op.create_index(op.f("ix_pages_capture_id"), "pages", ["capture_id"], unique=False)
        op.create_index(op.f("ix_pages_listing_id"), "pages", ["listing_id"], unique=False)
        op.create_index(op.f("ix_pages_run_id"), "pages", ["run_id"], unique=False)
        op.create_index(op.f("ix_pages_shop_id"), "pages", ["shop_id"], unique=False)
    if "evidence_files" not in existing:
        op.create_table("evidence_files",
            sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False),
            sa.Column("run_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
            sa.Column("page_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
            sa.Column("capture_sha256", sa.String(length=64), nullable=True),
            sa.Column("kind", sa.String(length=16), nullable=False),
            sa.Column("sha256", sa.String(length=64), nullable=False),
            sa.Column("size", sa.BigInteger(), nullable=False),
            sa.Column("content_type", sa.String(length=255), nullable=False),
            sa.Column("path", sa.Text(), nullable=True),
            sa.Column("bytes", sa.LargeBinary().with_variant(postgresql.BYTEA(), "postgresql"), nullable=True),
            sa.Column("note", sa.Text(), nullable=True),
            sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
            sa.ForeignKeyConstraint(["page_id"], ["pages.id"], ),
            sa.ForeignKeyConstraint(["run_id"], ["runs.id"], ),
            sa.PrimaryKeyConstraint("id")
        )
        op.create_index(op.f("ix_evidence_files_page_id"), "evidence_files", ["page_id"], unique=False)
        op.create_index("ix_evidence_files_run_kind", "evidence_files", ["run_id", "kind"], unique=False)
        op.create_index(op.f("ix_evidence_files_sha256"), "evidence_files", ["sha256"], unique=False)
    if "findings" not in existing:
        op.create_table("findings",
            sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False),
            sa.Column("run_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
            sa.Column("page_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
            sa.Column("rule", sa.String(length=64), nullable=False),
            sa.Column("severity", sa.String(length=16), nullable=False),
            sa.Column("article", sa.Text(), nullable=False),
            sa.Column("message", sa.Text(), nullable=False),
            sa.Column("evidence", sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"), nullable=False),
            sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
            sa.ForeignKeyConstraint(["page_id"], ["pages.id"], ),
            sa.ForeignKeyConstraint(["run_id"], ["runs.id"], ),
            sa.PrimaryKeyConstraint("id")
        )
        op.create_index(op.f("ix_findings_page_id"), "findings", ["page_id"], unique=False)
        op.create_index(op.f("ix_findings_rule"), "findings", ["rule"], unique=False)
        op.create_index(op.f("ix_findings_run_id"), "findings", ["run_id"], unique=False)
        op.create_index("ix_findings_run_rule_severity", "findings", ["run_id", "rule", "severity"], unique=False)
        op.create_index(op.f("ix_findings_severity"), "findings", ["severity"], unique=False)
    if "page_captures" not in existing:
        op.create_table("page_captures",
            sa.Column("page_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
            sa.Column("capture_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
            sa.ForeignKeyConstraint(["capture_id"], ["captures.id"], ),
            sa.ForeignKeyConstraint(["page_id"], ["pages.id"], ),
            sa.PrimaryKeyConstraint("page_id", "capture_id")
        )
    if "sweep_pages" not in existing:
        op.create_table("sweep_pages",
            sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False),
            sa.Column("run_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
            sa.Column("url", sa.Text(), nullable=False),
            sa.Column("role", sa.String(length=16), nullable=False),
            sa.Column("page_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
            sa.Column("stored_at", sa.DateTime(timezone=True), nullable=False),
            sa.ForeignKeyConstraint(["page_id"], ["pages.id"], ),
            sa.ForeignKeyConstraint(["run_id"], ["runs.id"], ),
            sa.PrimaryKeyConstraint("id"),
            sa.UniqueConstraint("run_id", "url", name="uq_sweep_pages_run_url")
        )
        op.create_index(op.f("ix_sweep_pages_run_id"), "sweep_pages", ["run_id"], unique=False)
    if "leads" not in existing:
        op.create_table("leads",
            sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False),
            sa.Column("campaign_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
            sa.Column("page_url", sa.Text(), nullable=False),
            sa.Column("rule", sa.String(length=64), nullable=False),
            sa.Column("severity", sa.String(length=16), nullable=False),
            sa.Column("message", sa.Text(), nullable=False),
            sa.Column("shop_url", sa.Text(), nullable=True),
            sa.Column("title", sa.Text(), nullable=True),
            sa.Column("status", sa.String(length=16), nullable=False),
            sa.Column("assignee", sa.Text(), nullable=True),
            sa.Column("notes", sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"), nullable=False),
            sa.Column("recheck", sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"), nullable=False),
            sa.Column("first_run_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
            sa.Column("last_run_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
            sa.Column("last_finding_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
            sa.Column("seen_count", sa.Integer(), nullable=False),
            sa.Column("reopened_count", sa.Integer(), nullable=False),
            sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
            sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
            sa.Column("first_seen", sa.DateTime(timezone=True), nullable=False),
            sa.Column("last_seen", sa.DateTime(timezone=True), nullable=False),
            sa.Column("assigned_at", sa.DateTime(timezone=True), nullable=True),
            sa.Column("resolved_at", sa.DateTime(timezone=True), nullable=True),
            sa.ForeignKeyConstraint(["campaign_id"], ["campaigns.id"], ),
            sa.ForeignKeyConstraint(["first_run_id"], ["runs.id"], ),
            sa.ForeignKeyConstraint(["last_finding_id"], ["findings.id"], ),
            sa.ForeignKeyConstraint(["last_run_id"], ["runs.id"], ),
            sa.PrimaryKeyConstraint("id"),
            sa.UniqueConstraint("campaign_id", "page_url", "rule", name="uq_leads_campaign_url_rule")
        )
        op.create_index(op.f("ix_leads_campaign_id"), "leads", ["campaign_id"], unique=False)
        op.create_index("ix_leads_campaign_status", "leads", ["campaign_id", "status"], unique=False)
        op.create_index(op.f("ix_leads_status"), "leads", ["status"], unique=False)
    if "lead_events" not in existing:
        op.create_table("lead_events",
            sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False),
            sa.Column("lead_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
            sa.Column("at", sa.DateTime(timezone=True), nullable=False),
            sa.Column("kind", sa.String(length=32), nullable=False),
            sa.Column("from_status", sa.String(length=16), nullable=True),
            sa.Column("to_status", sa.String(length=16), nullable=True),
            sa.Column("run_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
            sa.Column("campaign_run_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
            sa.Column("note", sa.Text(), nullable=False),
            sa.ForeignKeyConstraint(["campaign_run_id"], ["campaign_runs.id"], ),
            sa.ForeignKeyConstraint(["lead_id"], ["leads.id"], ),
            sa.ForeignKeyConstraint(["run_id"], ["runs.id"], ),
            sa.PrimaryKeyConstraint("id")
        )
        op.create_index(op.f("ix_lead_events_lead_id"), "lead_events", ["lead_id"], unique=False)
    if "registrations" not in existing:
        op.create_table("registrations",
            sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False),
            sa.Column("registration_no", sa.String(length=96), nullable=False),
            sa.Column("product_name", sa.Text(), nullable=False),
            sa.Column("registrant", sa.Text(), nullable=False),
            sa.Column("manufacturer", sa.Text(), nullable=False),
            sa.Column("model_spec", sa.Text(), nullable=False),
            sa.Column("structure", sa.Text(), nullable=False),
            sa.Column("scope", sa.Text(), nullable=False),
            sa.Column("device_class", sa.SmallInteger(), nullable=True),
            sa.Column("category_code", sa.String(length=64), nullable=False),
            sa.Column("approved_on", sa.Date(), nullable=True),
            sa.Column("valid_until", sa.Date(), nullable=True),
            sa.Column("status", sa.String(length=16), nullable=False),
            sa.Column("source", sa.String(length=16), nullable=False),
            sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
            sa.Column("import_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
            sa.PrimaryKeyConstraint("id")
        )
        op.create_index("ix_registrations_registration_no", "registrations", ["registration_no"], unique=True)
    if "registry_imports" not in existing:
        op.create_table("registry_imports",
            sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False),
            sa.Column("path", sa.Text(), nullable=False),
            sa.Column("sha256", sa.String(length=64), nullable=False),
            sa.Column("kind", sa.String(length=8), nullable=False),
            sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
            sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
            sa.Column("records_read", sa.Integer(), nullable=False),
            sa.Column("inserted", sa.Integer(), nullable=False),
            sa.Column("updated", sa.Integer(), nullable=False),
            sa.Column("skipped", sa.Integer(), nullable=False),
            sa.Column("skip_reasons", sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"), nullable=False),
            sa.PrimaryKeyConstraint("id")
        )
    if "registry_numbers" not in existing:
        op.create_table("registry_numbers",
            sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False),
            sa.Column("registration_no", sa.String(length=96), nullable=False),
            sa.Column("product_name", sa.Text(), nullable=False),
            sa.Column("registrant", sa.Text(), nullable=False),
            sa.Column("manufacturer", sa.Text(), nullable=False),
            sa.Column("model_specs", sa.Text(), nullable=False),
            sa.Column("structure", sa.Text(), nullable=False),
            sa.Column("scope", sa.Text(), nullable=False),
            sa.Column("device_class", sa.SmallInteger(), nullable=True),
            sa.Column("category_code", sa.String(length=64), nullable=False),
            sa.Column("approved_on", sa.Date(), nullable=True),
            sa.Column("valid_until", sa.Date(), nullable=True),
            sa.Column("status", sa.String(length=16), nullable=False),
            sa.Column("brand_names", sa.Text(), nullable=False),
            sa.Column("source", sa.String(length=16), nullable=False),
            sa.Column("udi_count", sa.Integer(), nullable=False),
            sa.PrimaryKeyConstraint("id")
        )
        op.create_index("ix_registry_numbers_registration_no", "registry_numbers", ["registration_no"], unique=True)
    if "udi_devices" not in existing:
        op.create_table("udi_devices",
            sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False),
            sa.Column("device_record_key", sa.String(length=128), nullable=False),
            sa.Column("di", sa.String(length=128), nullable=False),
            sa.Column("registration_no", sa.String(length=96), nullable=False),
            sa.Column("product_name", sa.Text(), nullable=False),
            sa.Column("brand", sa.Text(), nullable=False),
            sa.Column("model_spec", sa.Text(), nullable=False),
            sa.Column("registrant", sa.Text(), nullable=False),
            sa.Column("registrant_en", sa.Text(), nullable=False),
            sa.Column("uscc", sa.String(length=64), nullable=False),
            sa.Column("category_code", sa.String(length=64), nullable=False),
            sa.Column("old_category_code", sa.String(length=64), nullable=False),
            sa.Column("ivd", sa.Boolean(), nullable=False),
            sa.Column("description", sa.Text(), nullable=False),
            sa.Column("withdrawn_on", sa.Date(), nullable=True),
            sa.Column("version_number", sa.Integer(), nullable=True),
            sa.Column("version_time", sa.Date(), nullable=True),
            sa.Column("version_status", sa.String(length=32), nullable=False),
            sa.Column("import_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
            sa.PrimaryKeyConstraint("id"),
            sa.UniqueConstraint("device_record_key", "registration_no", name="uq_udi_devices_key_no")
        )
        op.create_index("ix_udi_devices_device_record_key", "udi_devices", ["device_record_key"], unique=False)
        op.create_index("ix_udi_devices_registration_no", "udi_devices", ["registration_no"], unique=False)


def downgrade() -> None:
    raise NotImplementedError("mdwatch does not downgrade below its initial schema")
