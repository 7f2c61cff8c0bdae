"""Tables of the registration database (NMPA registrations, UDID devices, import log).

These tables have their own ``DeclarativeBase``/``MetaData`` so they can be created in the same
database as the main store's tables without either side knowing the other. Also home of the
registration-number normalisation shared by the importer and the look-up side.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from datetime import UTC, date, datetime
from typing import Any, cast

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Date,
    DateTime,
    Dialect,
    Index,
    Integer,
    MetaData,
    SmallInteger,
    String,
    Table,
    Text,
    TypeDecorator,
    UniqueConstraint,
    delete,
    inspect,
)
from sqlalchemy import text as sql_text
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

IdType = BigInteger().with_variant(Integer(), "sqlite")
JsonType = JSON().with_variant(JSONB(), "postgresql")

STATUSES: tuple[str, ...] = ("valid", "cancelled", "revoked", "expired")


class _UTCDateTime(TypeDecorator[datetime]):
    """Timestamp with time zone; stores UTC, returns aware UTC on every backend (SQLite: naive UTC text)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime refused; use an aware (UTC) datetime")
        value = value.astimezone(UTC)
        if dialect.name == "sqlite":
            return value.replace(tzinfo=None)
        return value

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if isinstance(value, str):
            value = datetime.fromisoformat(value)
        assert isinstance(value, datetime)
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


class RegistryBase(DeclarativeBase):
    metadata = MetaData()


class RegistrationRow(RegistryBase):
    """One registration certificate or class I filing (from the CSV import)."""

    __tablename__ = "registrations"

    id: Mapped[int] = mapped_column(IdType, primary_key=True, autoincrement=True)
    registration_no: Mapped[str] = mapped_column(String(96), nullable=False)
    product_name: Mapped[str] = mapped_column(Text, nullable=False, default="")
    registrant: Mapped[str] = mapped_column(Text, nullable=False, default="")
    manufacturer: Mapped[str] = mapped_column(Text, nullable=False, default="")
    model_spec: Mapped[str] = mapped_column(Text, nullable=False, default="")
    structure: Mapped[str] = mapped_column(Text, nullable=False, default="")
    scope: Mapped[str] = mapped_column(Text, nullable=False, default="")
    device_class: Mapped[int | None] = mapped_column(SmallInteger, nullable=True)
    category_code: Mapped[str] = mapped_column(String(64), nullable=False, default="")
    approved_on: Mapped[date | None] = mapped_column(Date, nullable=True)
    valid_until: Mapped[date | None] = mapped_column(Date, nullable=True)  # None: no expiry
    status: Mapped[str] = mapped_column(String(16), nullable=False, default="valid")
    source: Mapped[str] = mapped_column(String(16), nullable=False, default="csv")
    updated_at: Mapped[datetime] = mapped_column(_UTCDateTime, nullable=False)
    import_id: Mapped[int | None] = mapped_column(IdType, nullable=True)  # last import that wrote it

    __table_args__ = (Index("ix_registrations_registration_no", "registration_no", unique=True),)


class UdiDeviceRow(RegistryBase):
    """One UDID device record (one DI) for one registration number.

    A record listing several registration numbers yields one row per number, so the unique key
    is (device_record_key, registration_no); ``device_record_key`` alone is indexed.
    """

    __tablename__ = "udi_devices"

    id: Mapped[int] = mapped_column(IdType, primary_key=True, autoincrement=True)
    device_record_key: Mapped[str] = mapped_column(String(128), nullable=False)
    di: Mapped[str] = mapped_column(String(128), nullable=False, default="")
    registration_no: Mapped[str] = mapped_column(String(96), nullable=False)
    product_name: Mapped[str] = mapped_column(Text, nullable=False, default="")  # cpmctymc
    brand: Mapped[str] = mapped_column(Text, nullable=False, default="")  # spmc
    model_spec: Mapped[str] = mapped_column(Text, nullable=False, default="")  # ggxh
    registrant: Mapped[str] = mapped_column(Text, nullable=False, default="")  # ylqxzcrbarmc
    registrant_en: Mapped[str] = mapped_column(Text, nullable=False, default="")  # ylqxzcrbarywmc
    uscc: Mapped[str] = mapped_column(String(64), nullable=False, default="")  # tyshxydm
    category_code: Mapped[str] = mapped_column(String(64), nullable=False, default="")  # flbm
    old_category_code: Mapped[str] = mapped_column(String(64), nullable=False, default="")  # yflbm
    ivd: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)  # qxlb == 体外诊断试剂
    description: Mapped[str] = mapped_column(Text, nullable=False, default="")  # cpms
    withdrawn_on: Mapped[date | None] = mapped_column(Date, nullable=True)  # tsrq
    version_number: Mapped[int | None] = mapped_column(Integer, nullable=True)
    version_time: Mapped[date | None] = mapped_column(Date, nullable=True)
    version_status: Mapped[str] = mapped_column(String(32), nullable=False, default="")  # versionStauts
    import_id: Mapped[int | None] = mapped_column(IdType, nullable=True)  # last import that wrote it

    __table_args__ = (
        UniqueConstraint("device_record_key", "registration_no", name="uq_udi_devices_key_no"),
        Index("ix_udi_devices_device_record_key", "device_record_key"),
        Index("ix_udi_devices_registration_no", "registration_no"),
    )


class RegistryImportRow(RegistryBase):
    """One run of ``import_path``."""

    __tablename__ = "registry_imports"

    id: Mapped[int] = mapped_column(IdType, primary_key=True, autoincrement=True)
    path: Mapped[str] = mapped_column(Text, nullable=False)
    sha256: Mapped[str] = mapped_column(String(64), nullable=False, default="")
    kind: Mapped[str] = mapped_column(String(8), nullable=False)  # csv | udid
    started_at: Mapped[datetime] = mapped_column(_UTCDateTime, nullable=False)
    finished_at: Mapped[datetime | None] = mapped_column(_UTCDateTime, nullable=True)
    records_read: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    inserted: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    updated: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    skipped: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    skip_reasons: Mapped[dict[str, int]] = mapped_column(JsonType, nullable=False, default=dict)
    # running | done | failed; ``error`` is the Chinese reason of a failed import (issue 10, item 5)
    status: Mapped[str] = mapped_column(String(8), nullable=False, default="running", server_default="done")
    error: Mapped[str | None] = mapped_column(Text, nullable=True)


class RegistryNumberRow(RegistryBase):
    """Look-up table: one row per registration number, merged from both sources.

    Derived data, refreshed by the importer for every number an import touched (and rebuildable
    with ``RegistryStore.rebuild_summaries``), so a look-up is one single-row index probe even for
    a number with thousands of DIs. ``model_specs`` and ``brand_names`` are JSON arrays (text).
    """

    __tablename__ = "registry_numbers"

    id: Mapped[int] = mapped_column(IdType, primary_key=True, autoincrement=True)
    registration_no: Mapped[str] = mapped_column(String(96), nullable=False)
    product_name: Mapped[str] = mapped_column(Text, nullable=False, default="")
    registrant: Mapped[str] = mapped_column(Text, nullable=False, default="")
    manufacturer: Mapped[str] = mapped_column(Text, nullable=False, default="")
    model_specs: Mapped[str] = mapped_column(Text, nullable=False, default="[]")
    structure: Mapped[str] = mapped_column(Text, nullable=False, default="")
    scope: Mapped[str] = mapped_column(Text, nullable=False, default="")
    device_class: Mapped[int | None] = mapped_column(SmallInteger, nullable=True)
    category_code: Mapped[str] = mapped_column(String(64), nullable=False, default="")
    approved_on: Mapped[date | None] = mapped_column(Date, nullable=True)
    valid_until: Mapped[date | None] = mapped_column(Date, nullable=True)
    status: Mapped[str] = mapped_column(String(16), nullable=False, default="valid")
    brand_names: Mapped[str] = mapped_column(Text, nullable=False, default="[]")
    source: Mapped[str] = mapped_column(String(16), nullable=False, default="")
    udi_count: Mapped[int] = mapped_column(Integer, nullable=False, default=0)

    __table_args__ = (Index("ix_registry_numbers_registration_no", "registration_no", unique=True),)


registrations = cast(Table, RegistrationRow.__table__)
registry_numbers = cast(Table, RegistryNumberRow.__table__)
udi_devices = cast(Table, UdiDeviceRow.__table__)
registry_imports = cast(Table, RegistryImportRow.__table__)


# columns added to registry_imports after its first release: (name, DDL type and default)
_IMPORT_COLUMNS_ADDED = (("status", "VARCHAR(8) NOT NULL DEFAULT 'done'"), ("error", "TEXT"))


def create_registry_schema(engine: Engine) -> None:
    """Create the registry tables if absent and add the columns that older databases lack."""
    RegistryBase.metadata.create_all(engine)
    present = {c["name"] for c in inspect(engine).get_columns("registry_imports")}
    for name, ddl in _IMPORT_COLUMNS_ADDED:
        if name in present:
            continue
        try:
            with engine.begin() as conn:
                conn.execute(sql_text(f"ALTER TABLE registry_imports ADD COLUMN {name} {ddl}"))
        except DBAPIError:  # added meanwhile by a concurrent first use
            if name not in {c["name"] for c in inspect(engine).get_columns("registry_imports")}:
                raise


def upsert(conn: Connection, table: Table, rows: list[dict[str, Any]], keys: Sequence[str]) -> None:
    """Batch ``INSERT … ON CONFLICT (keys) DO UPDATE`` (SQLite / PostgreSQL), executemany."""
    if not rows:
        return
    if conn.dialect.name == "postgresql":
        pg = postgresql.insert(table)
        pg_set = {c: pg.excluded[c] for c in rows[0] if c not in keys}
        conn.execute(pg.on_conflict_do_update(index_elements=list(keys), set_=pg_set), rows)
    elif conn.dialect.name == "sqlite":
        lite = sqlite.insert(table)
        lite_set = {c: lite.excluded[c] for c in rows[0] if c not in keys}
        conn.execute(lite.on_conflict_do_update(index_elements=list(keys), set_=lite_set), rows)
    else:  # portable fallback: delete then insert
        for row in rows:
            conn.execute(delete(table).where(*[table.c[k] == row[k] for k in keys]))
        conn.execute(table.insert(), rows)


# --- registration numbers ------------------------------------------------------------------------

_BRACKETS = {ord(a): ord(b) for a, b in zip("〔〕【】﹝﹞〈〉<>（）", "[][][][][]()", strict=True)}
_WS = re.compile(r"\s+")
_SPLIT = re.compile(r"[,，;；、]+")
_FILING = re.compile(r"械备\d{8,9}号$")
_NEW_REG = re.compile(r"械注[准进许](\d{4})(\d)(\d{2})(\d{4})")
_LEGACY_REG = re.compile(r"械(?:\([准进许试]\)|[准进许试])字(\d{4})第(\d)\d{5,6}号")
_PLACEHOLDERS = frozenset({"", "无", "暂无", "/", "-", "--", "—", "N/A", "NA", "NULL", "NONE", "0"})


def normalize_registration_no(value: str) -> str:
    """NFKC, whitespace removed, CJK brackets to ASCII; a trailing 号 of a class I filing dropped.

    Returns ``""`` for empty values and placeholders (无, /, -, …).
    """
    text = unicodedata.normalize("NFKC", value).translate(_BRACKETS)
    text = _WS.sub("", text)
    if text.upper() in _PLACEHOLDERS:
        return ""
    if _FILING.search(text):
        text = text[:-1]
    return text


def split_registration_nos(value: str) -> list[str]:
    """Every normalised number in a field that may hold several (separated by , ， ; ； 、)."""
    out: list[str] = []
    for part in _SPLIT.split(unicodedata.normalize("NFKC", value)):
        number = normalize_registration_no(part)
        if number and number not in out:
            out.append(number)
    return out


def class_from_number(number: str) -> int | None:
    """Management class implied by a (normalised) number: 械备 → 1; 械注 / legacy → the class digit."""
    if "械备" in number:
        return 1
    m = _NEW_REG.search(number)
    if m:
        digit = int(m.group(2))
        return digit if digit in (2, 3) else None
    m = _LEGACY_REG.search(number)
    if m:
        digit = int(m.group(2))
        return digit if digit in (1, 2, 3) else None
    return None
