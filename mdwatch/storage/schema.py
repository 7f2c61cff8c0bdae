"""ORM tables. Every datetime column is UTC and comes back time-zone aware on every backend."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    DateTime,
    Dialect,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    TypeDecorator,
)
from sqlalchemy.dialects.postgresql import BYTEA, JSONB
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

# BIGINT on PostgreSQL, INTEGER (rowid alias, autoincrement) on SQLite.
IdType = BigInteger().with_variant(Integer(), "sqlite")
JsonType = JSON().with_variant(JSONB(), "postgresql")
BlobType = LargeBinary().with_variant(BYTEA(), "postgresql")


class UTCDateTime(TypeDecorator[datetime]):
    """``TIMESTAMP WITH TIME ZONE``; refuses naive datetimes, stores UTC, returns aware UTC.

    SQLite has no time zone type: values are stored as naive UTC text and tagged UTC on the way out.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None or value.utcoffset() is None:
            raise ValueError(f"naive datetime refused by storage: {value!r}")
        value = value.astimezone(UTC)
        if dialect.name == "sqlite":
            return value.replace(tzinfo=None)
        return value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


class Base(DeclarativeBase):
    """Declarative base of mdwatch's tables."""


class Capture(Base):
    """Immutable evidence. Never updated; one row per distinct SHA-256."""

    __tablename__ = "captures"

    id: Mapped[int] = mapped_column(IdType, primary_key=True, autoincrement=True)
    sha256: Mapped[str] = mapped_column(String(64), unique=True)
    url: Mapped[str] = mapped_column(Text)
    final_url: Mapped[str] = mapped_column(Text)
    status: Mapped[int] = mapped_column(Integer)
    headers: Mapped[dict[str, Any]] = mapped_column(JsonType)
    body: Mapped[bytes] = mapped_column(BlobType)
    encoding: Mapped[str | None] = mapped_column(String(64))
    method: Mapped[str] = mapped_column(String(32))
    fetched_at: Mapped[datetime] = mapped_column(UTCDateTime())


class Run(Base):
    __tablename__ = "runs"

    id: Mapped[int] = mapped_column(IdType, primary_key=True, autoincrement=True)
    kind: Mapped[str] = mapped_column(String(32), index=True)
    target: Mapped[str] = mapped_column(Text)
    started_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    status: Mapped[str] = mapped_column(String(16))
    stats: Mapped[dict[str, Any]] = mapped_column(JsonType)


class Shop(Base):
    __tablename__ = "shops"

    id: Mapped[int] = mapped_column(IdType, primary_key=True, autoincrement=True)
    url: Mapped[str] = mapped_column(Text, unique=True)
    name: Mapped[str | None] = mapped_column(Text)
    first_seen: Mapped[datetime] = mapped_column(UTCDateTime())
    last_seen: Mapped[datetime] = mapped_column(UTCDateTime())


class Listing(Base):
    """A product listing. Never deleted: ``gone_at`` marks one no longer online."""

    __tablename__ = "listings"

    id: Mapped[int] = mapped_column(IdType, primary_key=True, autoincrement=True)
    url: Mapped[str] = mapped_column(Text, unique=True)
    shop_id: Mapped[int | None] = mapped_column(IdType, ForeignKey("shops.id"), index=True)
    title: Mapped[str | None] = mapped_column(Text)
    first_seen: Mapped[datetime] = mapped_column(UTCDateTime())
    last_seen: Mapped[datetime] = mapped_column(UTCDateTime())
    gone_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class PageRow(Base):
    __tablename__ = "pages"

    id: Mapped[int] = mapped_column(IdType, primary_key=True, autoincrement=True)
    run_id: Mapped[int] = mapped_column(IdType, ForeignKey("runs.id"), index=True)
    capture_id: Mapped[int] = mapped_column(IdType, ForeignKey("captures.id"), index=True)
    url: Mapped[str] = mapped_column(Text)
    kind: Mapped[str] = mapped_column(String(32))
    title: Mapped[str | None] = mapped_column(Text)
    extracted: Mapped[dict[str, Any]] = mapped_column(JsonType)
    shop_id: Mapped[int | None] = mapped_column(IdType, ForeignKey("shops.id"), index=True)
    listing_id: Mapped[int | None] = mapped_column(IdType, ForeignKey("listings.id"), index=True)


class PageCapture(Base):
    """Further evidence of a page (images, screenshots): page ↔ capture."""

    __tablename__ = "page_captures"

    page_id: Mapped[int] = mapped_column(IdType, ForeignKey("pages.id"), primary_key=True)
    capture_id: Mapped[int] = mapped_column(IdType, ForeignKey("captures.id"), primary_key=True)


class FindingRow(Base):
    __tablename__ = "findings"
    __table_args__ = (Index("ix_findings_run_rule_severity", "run_id", "rule", "severity"),)

    id: Mapped[int] = mapped_column(IdType, primary_key=True, autoincrement=True)
    run_id: Mapped[int] = mapped_column(IdType, ForeignKey("runs.id"), index=True)
    page_id: Mapped[int] = mapped_column(IdType, ForeignKey("pages.id"), index=True)
    rule: Mapped[str] = mapped_column(String(64), index=True)
    severity: Mapped[str] = mapped_column(String(16), index=True)
    article: Mapped[str] = mapped_column(Text)
    message: Mapped[str] = mapped_column(Text)
    evidence: Mapped[list[dict[str, Any]]] = mapped_column(JsonType)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())


TABLES = ("captures", "runs", "shops", "listings", "pages", "page_captures", "findings")
