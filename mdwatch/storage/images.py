"""Images by SHA-256 and the OCR cache: ``images`` and ``ocr_results``, and ``ImageStore``.

Each distinct image is stored once (the first URL it was seen at is kept); each (image, engine)
pair is OCR'd once: ``ocr_results`` is the cache the OCR stage consults before reading an image.
Both tables live in the main store's database and are created when an ``ImageStore`` opens it.
Every write is idempotent (insert, or nothing if the row exists).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Engine, Float, Integer, String, Table, Text, UniqueConstraint, func, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Mapped, mapped_column, sessionmaker

from .schema import Base, BlobType, IdType, JsonType, UTCDateTime
from .store import EngineStore

__all__ = ["ImageRecord", "ImageRow", "ImageStore", "OcrRecord", "OcrRow"]


class ImageRow(Base):
    """One distinct image (by SHA-256 of its bytes). ``bytes`` is NULL for a skipped image."""

    __tablename__ = "images"

    id: Mapped[int] = mapped_column(IdType, primary_key=True, autoincrement=True)
    sha256: Mapped[str] = mapped_column(String(64), unique=True)
    url: Mapped[str] = mapped_column(Text)  # first URL seen
    content_type: Mapped[str] = mapped_column(String(255))
    body: Mapped[bytes | None] = mapped_column("bytes", BlobType, nullable=True)
    width: Mapped[int | None] = mapped_column(Integer)
    height: Mapped[int | None] = mapped_column(Integer)
    format: Mapped[str | None] = mapped_column(String(32))
    skip_reason: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())


class OcrRow(Base):
    """What one engine read in one image."""

    __tablename__ = "ocr_results"
    __table_args__ = (UniqueConstraint("sha256", "engine", name="uq_ocr_results_sha256_engine"),)

    id: Mapped[int] = mapped_column(IdType, primary_key=True, autoincrement=True)
    sha256: Mapped[str] = mapped_column(String(64), index=True)
    engine: Mapped[str] = mapped_column(String(32))
    text: Mapped[str] = mapped_column(Text)
    lines: Mapped[list[Any]] = mapped_column(JsonType)
    seconds: Mapped[float] = mapped_column(Float)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())


@dataclass(frozen=True, slots=True)
class OcrRecord:
    sha256: str
    engine: str
    text: str
    lines: list[Any]  # JSON: [{"text": ..., "confidence": ..., "box": [[x, y], ...]}, ...]
    seconds: float
    created_at: datetime


@dataclass(frozen=True, slots=True)
class ImageRecord:
    sha256: str
    url: str
    content_type: str
    body: bytes | None
    width: int | None
    height: int | None
    format: str | None
    skip_reason: str | None
    created_at: datetime


def _sha(value: str) -> str:
    """``value`` as 64 lower-case hex digits, or ValueError (shared with ``storage.evidence``)."""
    sha = value.strip().lower()
    if len(sha) != 64 or any(c not in "0123456789abcdef" for c in sha):
        raise ValueError(f"sha256 must be 64 hex digits: {value!r}")
    return sha


def _ocr_record(row: OcrRow) -> OcrRecord:
    return OcrRecord(row.sha256, row.engine, row.text, list(row.lines), float(row.seconds), row.created_at)


class ImageStore(EngineStore):
    """Repository of images and OCR results on SQLite or PostgreSQL (thread-safe)."""

    def __init__(self, engine_or_url: Engine | str | None = None) -> None:
        self._open_engine(engine_or_url)
        self._sessions = sessionmaker(self.engine, expire_on_commit=False)
        Base.metadata.create_all(self.engine, tables=[_table(ImageRow), _table(OcrRow)])


    def _insert(self, table: Table) -> sqlite.Insert | postgresql.Insert:
        name = self.engine.dialect.name
        if name == "postgresql":
            return postgresql.insert(table)
        if name == "sqlite":
            return sqlite.insert(table)
        raise NotImplementedError(f"unsupported database backend: {name}")

    # ---------------------------------------------------------------- OCR cache

    def get_ocr(self, sha256: str, engine: str) -> OcrRecord | None:
        with self._sessions() as session:
            row = session.scalar(select(OcrRow).where(OcrRow.sha256 == _sha(sha256), OcrRow.engine == engine))
            return None if row is None else _ocr_record(row)

    def get_ocr_many(self, shas: Iterable[str], engine: str) -> dict[str, OcrRecord]:
        """The cached results among ``shas`` for ``engine``, by SHA-256 (misses are absent)."""
        wanted = sorted({_sha(s) for s in shas})
        found: dict[str, OcrRecord] = {}
        with self._sessions() as session:
            for start in range(0, len(wanted), 500):
                chunk = wanted[start : start + 500]
                stmt = select(OcrRow).where(OcrRow.engine == engine, OcrRow.sha256.in_(chunk))
                for row in session.scalars(stmt):
                    found[row.sha256] = _ocr_record(row)
        return found

    def save_ocr(
        self,
        sha256: str,
        engine: str,
        text: str,
        lines: Sequence[Mapping[str, Any]] = (),
        seconds: float = 0.0,
    ) -> bool:
        """Cache what ``engine`` read in the image; False if a result was already there (kept)."""
        stmt = (
            self._insert(_table(OcrRow))
            .values(
                sha256=_sha(sha256),
                engine=engine,
                text=text,
                lines=[dict(line) for line in lines],
                seconds=float(seconds),
                created_at=datetime.now(UTC),
            )
            .on_conflict_do_nothing(index_elements=["sha256", "engine"])
            .returning(OcrRow.id)
        )
        with self._sessions.begin() as session:
            return session.execute(stmt).first() is not None

    # ---------------------------------------------------------------- images

    def save_image(
        self,
        sha256: str,
        url: str,
        content_type: str = "",
        body: bytes | None = None,
        *,
        width: int | None = None,
        height: int | None = None,
        format: str | None = None,
        skip_reason: str | None = None,
    ) -> bool:
        """Store an image once by SHA-256 (the first URL wins); False if it was already stored."""
        stmt = (
            self._insert(_table(ImageRow))
            .values(
                sha256=_sha(sha256),
                url=url,
                content_type=content_type[:255],
                width=width,
                height=height,
                format=format,
                skip_reason=skip_reason,
                created_at=datetime.now(UTC),
                **{"bytes": None if body is None else bytes(body)},  # the column, not the builtin
            )
            .on_conflict_do_nothing(index_elements=["sha256"])
            .returning(ImageRow.id)
        )
        with self._sessions.begin() as session:
            return session.execute(stmt).first() is not None

    def get_image(self, sha256: str) -> ImageRecord | None:
        with self._sessions() as session:
            row = session.scalar(select(ImageRow).where(ImageRow.sha256 == _sha(sha256)))
            if row is None:
                return None
            return ImageRecord(
                row.sha256,
                row.url,
                row.content_type,
                None if row.body is None else bytes(row.body),
                row.width,
                row.height,
                row.format,
                row.skip_reason,
                row.created_at,
            )

    def known_images(self, shas: Iterable[str]) -> set[str]:
        """Which of ``shas`` are stored already."""
        wanted = sorted({_sha(s) for s in shas})
        found: set[str] = set()
        with self._sessions() as session:
            for start in range(0, len(wanted), 500):
                chunk = wanted[start : start + 500]
                found.update(session.scalars(select(ImageRow.sha256).where(ImageRow.sha256.in_(chunk))))
        return found

    def counts(self) -> dict[str, int]:
        with self._sessions() as session:
            return {
                "images": int(session.scalar(select(func.count()).select_from(ImageRow)) or 0),
                "ocr_results": int(session.scalar(select(func.count()).select_from(OcrRow)) or 0),
            }


def _table(model: type[Base]) -> Table:
    table = model.__table__
    assert isinstance(table, Table)
    return table
