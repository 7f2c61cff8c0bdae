"""Evidence files (固证) of runs and pages: table ``evidence_files`` and ``EvidenceStore``.

A row is one file of evidence: a page's screenshot (``screenshot``), an HTML snapshot other than
the stored capture body (``html``, e.g. a browser-rendered DOM), or a WARC file of a run
(``warc``). Small blobs live in the database (``body``); WARC files and large blobs live on disk
under ``<user data dir>/evidence/<run_id>/`` (``path``). Every row names the SHA-256 of its
bytes, so a file on disk can be checked against the database. Rows are only ever added.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import BigInteger, Engine, ForeignKey, Index, String, Table, Text, select
from sqlalchemy.orm import Mapped, mapped_column, sessionmaker

from .config import default_data_dir
from .images import _sha
from .records import CaptureRecord, StoredFinding, StoredRun
from .schema import Base, BlobType, Capture, FindingRow, IdType, PageRow, Run, UTCDateTime
from .store import EngineStore

__all__ = [
    "EVIDENCE_KINDS",
    "MAX_DB_BLOB",
    "EvidenceFile",
    "EvidenceFileRow",
    "EvidenceStore",
    "PageRef",
    "evidence_dir",
]

EVIDENCE_KINDS = ("html", "screenshot", "warc")
MAX_DB_BLOB = 4 * 1024 * 1024  # larger blobs are written to disk


def evidence_dir(run_id: int, data_dir: Path | str | None = None) -> Path:
    """``<data dir>/evidence/<run_id>/`` (created if absent)."""
    base = Path(data_dir) if data_dir is not None else default_data_dir()
    path = base / "evidence" / str(int(run_id))
    path.mkdir(parents=True, exist_ok=True)
    return path


class EvidenceFileRow(Base):
    __tablename__ = "evidence_files"
    __table_args__ = (Index("ix_evidence_files_run_kind", "run_id", "kind"),)

    id: Mapped[int] = mapped_column(IdType, primary_key=True, autoincrement=True)
    run_id: Mapped[int] = mapped_column(IdType, ForeignKey("runs.id"))
    page_id: Mapped[int | None] = mapped_column(IdType, ForeignKey("pages.id"), index=True)
    capture_sha256: Mapped[str | None] = mapped_column(String(64))
    kind: Mapped[str] = mapped_column(String(16))
    sha256: Mapped[str] = mapped_column(String(64), index=True)
    size: Mapped[int] = mapped_column(BigInteger)
    content_type: Mapped[str] = mapped_column(String(255))
    path: Mapped[str | None] = mapped_column(Text)
    body: Mapped[bytes | None] = mapped_column("bytes", BlobType, nullable=True)
    note: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())


@dataclass(frozen=True, slots=True)
class EvidenceFile:
    """One stored evidence file (without its bytes: see :meth:`EvidenceStore.read`)."""

    id: int
    run_id: int
    page_id: int | None
    capture_sha256: str | None
    kind: str
    sha256: str
    size: int
    content_type: str
    path: str | None  # on disk, or None when the bytes are in the database
    note: str | None
    created_at: datetime


@dataclass(frozen=True, slots=True)
class PageRef:
    """A stored page and the SHA-256 of its capture."""

    id: int
    run_id: int
    url: str
    kind: str
    capture_sha256: str
    fetched_at: datetime




def _file(row: EvidenceFileRow) -> EvidenceFile:
    return EvidenceFile(row.id, row.run_id, row.page_id, row.capture_sha256, row.kind, row.sha256,
                        int(row.size), row.content_type, row.path, row.note, row.created_at)


def _finding(f: FindingRow, page_url: str, sha: str) -> StoredFinding:
    return StoredFinding(id=f.id, run_id=f.run_id, page_id=f.page_id, page_url=page_url, capture_sha256=sha,
                         rule=f.rule, severity=f.severity, article=f.article, message=f.message,
                         evidence=list(f.evidence), created_at=f.created_at)


class EvidenceStore(EngineStore):
    """Repository of evidence files on SQLite or PostgreSQL (thread-safe)."""

    def __init__(self, engine_or_url: Engine | str | None = None, *, data_dir: Path | str | None = None) -> None:
        self._open_engine(engine_or_url)
        self.data_dir = Path(data_dir) if data_dir is not None else None
        self._sessions = sessionmaker(self.engine, expire_on_commit=False)
        tables = [Base.metadata.tables[name] for name in ("captures", "runs", "shops", "listings", "pages",
                                                           "page_captures", "findings")]
        table = EvidenceFileRow.__table__
        assert isinstance(table, Table)
        Base.metadata.create_all(self.engine, tables=[*tables, table])


    def run_dir(self, run_id: int) -> Path:
        return evidence_dir(run_id, self.data_dir)

    # ---------------------------------------------------------------- writing

    def _add(self, *, run_id: int, page_id: int | None, capture_sha256: str | None, kind: str, data: bytes | None,
             sha256: str, size: int, content_type: str, path: str | None, note: str | None) -> EvidenceFile:
        if kind not in EVIDENCE_KINDS:
            raise ValueError(f"unknown evidence kind: {kind!r}")
        with self._sessions.begin() as session:
            stmt = select(EvidenceFileRow).where(
                EvidenceFileRow.run_id == run_id, EvidenceFileRow.kind == kind, EvidenceFileRow.sha256 == sha256,
                EvidenceFileRow.page_id.is_(None) if page_id is None else EvidenceFileRow.page_id == page_id,
            )
            existing = session.scalars(stmt.limit(1)).first()
            if existing is not None:
                return _file(existing)
            row = EvidenceFileRow(run_id=run_id, page_id=page_id, capture_sha256=capture_sha256, kind=kind,
                                  sha256=sha256, size=size, content_type=content_type[:255], path=path,
                                  body=data, note=note, created_at=datetime.now(UTC))
            session.add(row)
            session.flush()
            return _file(row)

    def save_page_blob(self, page_id: int, kind: str, data: bytes, content_type: str,
                       note: str | None = None) -> EvidenceFile:
        """Store a blob of a page (screenshot, rendered HTML) once; small ones in the database."""
        page = self.page(page_id)
        if page is None:
            raise KeyError(f"no page {page_id}")
        sha = hashlib.sha256(data).hexdigest()
        path: str | None = None
        body: bytes | None = bytes(data)
        if len(data) > MAX_DB_BLOB:
            suffix = ".png" if kind == "screenshot" else ".html"
            target = self.run_dir(page.run_id) / f"{kind}-{page_id}-{sha[:16]}{suffix}"
            if not target.exists():
                tmp = target.with_name(target.name + ".part")
                tmp.write_bytes(data)
                tmp.replace(target)
            path, body = str(target), None
        return self._add(run_id=page.run_id, page_id=page_id, capture_sha256=page.capture_sha256, kind=kind,
                         data=body, sha256=sha, size=len(data), content_type=content_type, path=path, note=note)

    def save_screenshot(self, page_id: int, png: bytes, note: str | None = None) -> str:
        """Store a page's PNG screenshot (once per page and content); its SHA-256."""
        return self.save_page_blob(page_id, "screenshot", png, "image/png", note).sha256

    def add_warc(self, run_id: int, path: Path | str, sha: str | None = None, note: str | None = None) -> EvidenceFile:
        """Register a closed WARC file of a run (hashed here when ``sha`` is not given)."""
        file = Path(path).absolute()
        digest = _sha(sha) if sha else _hash_file(file)
        return self._add(run_id=run_id, page_id=None, capture_sha256=None, kind="warc", data=None, sha256=digest,
                         size=file.stat().st_size, content_type="application/warc", path=str(file), note=note)

    # ---------------------------------------------------------------- reading

    def read(self, file: EvidenceFile) -> bytes:
        """The bytes of an evidence file (from the database or from disk)."""
        if file.path is not None:
            return Path(file.path).read_bytes()
        with self._sessions() as session:
            body = session.scalar(select(EvidenceFileRow.body).where(EvidenceFileRow.id == file.id))
        if body is None:
            raise FileNotFoundError(f"evidence file {file.id} has no bytes")
        return bytes(body)

    def files_for_run(self, run_id: int) -> list[EvidenceFile]:
        stmt = select(EvidenceFileRow).where(EvidenceFileRow.run_id == run_id).order_by(EvidenceFileRow.id)
        with self._sessions() as session:
            return [_file(r) for r in session.scalars(stmt)]

    def files_for_page(self, page_id: int) -> list[EvidenceFile]:
        stmt = select(EvidenceFileRow).where(EvidenceFileRow.page_id == page_id).order_by(EvidenceFileRow.id)
        with self._sessions() as session:
            return [_file(r) for r in session.scalars(stmt)]

    def files_for_finding(self, finding_id: int) -> list[EvidenceFile]:
        """The files of the finding's page and the WARC files of its run."""
        finding = self.finding(finding_id)
        if finding is None:
            return []
        warcs = [f for f in self.files_for_run(finding.run_id) if f.kind == "warc"]
        return self.files_for_page(finding.page_id) + warcs

    def finding(self, finding_id: int) -> StoredFinding | None:
        stmt = (
            select(FindingRow, PageRow.url, Capture.sha256)
            .join(PageRow, FindingRow.page_id == PageRow.id)
            .join(Capture, PageRow.capture_id == Capture.id)
            .where(FindingRow.id == finding_id)
        )
        with self._sessions() as session:
            row = session.execute(stmt).first()
            return None if row is None else _finding(*row)

    def findings(self, run_id: int) -> list[StoredFinding]:
        stmt = (
            select(FindingRow, PageRow.url, Capture.sha256)
            .join(PageRow, FindingRow.page_id == PageRow.id)
            .join(Capture, PageRow.capture_id == Capture.id)
            .where(FindingRow.run_id == run_id)
            .order_by(FindingRow.id)
        )
        with self._sessions() as session:
            return [_finding(*row) for row in session.execute(stmt)]

    def run(self, run_id: int) -> StoredRun | None:
        with self._sessions() as session:
            r = session.get(Run, run_id)
            if r is None:
                return None
            return StoredRun(id=r.id, kind=r.kind, target=r.target, started_at=r.started_at,
                             finished_at=r.finished_at, status=r.status, stats=dict(r.stats))

    def page(self, page_id: int) -> PageRef | None:
        stmt = (
            select(PageRow.id, PageRow.run_id, PageRow.url, PageRow.kind, Capture.sha256, Capture.fetched_at)
            .join(Capture, PageRow.capture_id == Capture.id)
            .where(PageRow.id == page_id)
        )
        with self._sessions() as session:
            row = session.execute(stmt).first()
            return None if row is None else PageRef(*row)

    def pages_with_findings(self, run_id: int) -> list[PageRef]:
        """The run's pages that have at least one finding, by id."""
        with_findings = select(FindingRow.page_id).where(FindingRow.run_id == run_id).distinct()
        stmt = (
            select(PageRow.id, PageRow.run_id, PageRow.url, PageRow.kind, Capture.sha256, Capture.fetched_at)
            .join(Capture, PageRow.capture_id == Capture.id)
            .where(PageRow.run_id == run_id, PageRow.id.in_(with_findings))
            .order_by(PageRow.id)
        )
        with self._sessions() as session:
            return [PageRef(*row) for row in session.execute(stmt)]

    def capture(self, sha256: str) -> CaptureRecord | None:
        with self._sessions() as session:
            row = session.scalar(select(Capture).where(Capture.sha256 == _sha(sha256)))
            if row is None:
                return None
            return CaptureRecord(url=row.url, final_url=row.final_url, status=row.status, headers=dict(row.headers),
                                 body=bytes(row.body), sha256=row.sha256, fetched_at=row.fetched_at,
                                 method=row.method, encoding=row.encoding)


def _hash_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()
