"""The repository: saves whole runs atomically and answers the reports' queries."""

from __future__ import annotations

from collections.abc import Mapping
from contextlib import AbstractContextManager
from datetime import UTC, datetime
from typing import Any, Self

from sqlalchemy import (
    Engine,
    Table,
    and_,
    bindparam,
    case,
    func,
    insert,
    select,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session, sessionmaker

from .config import default_db_url, normalize_db_url
from .database import open_engine
from .records import (
    CaptureRecord,
    FindingRecord,
    PageRecord,
    RunRecord,
    StoredFinding,
    StoredRun,
)
from .schema import (
    Base,
    Capture,
    FindingRow,
    Listing,
    PageCapture,
    PageRow,
    Run,
    Shop,
)

SHOP_KIND = "shop"
LISTING_KIND = "product"


class EngineStore:
    """A repository's engine: one given (its owner closes it) or one opened from a URL (None: the
    default database), closed with the repository. Subclasses call :meth:`_open_engine` first."""

    engine: Engine
    _owns_engine: bool

    def _open_engine(self, engine_or_url: Engine | str | None) -> None:
        if isinstance(engine_or_url, Engine):
            self.engine, self._owns_engine = engine_or_url, False
        else:
            url = normalize_db_url(engine_or_url) if engine_or_url else default_db_url()
            self.engine, self._owns_engine = create_store_engine(url), True

    def close(self) -> None:
        if self._owns_engine:
            self.engine.dispose()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def create_store_engine(url: str, *, schema: bool = True) -> Engine:
    """An engine for ``url``, checked and probed (``database.open_engine``), its schema at head
    unless ``schema=False``. Raises ``DatabaseError`` (one Chinese sentence) if it cannot be used."""
    return open_engine(url, schema=schema)


class Store:
    """Storage on SQLite or PostgreSQL, chosen by URL."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._sessions = sessionmaker(engine, expire_on_commit=False)
        self._stmts: dict[str, Any] | None = None

    @classmethod
    def open(cls, url: str | None = None) -> Store:
        """Open (and create the tables of, if absent) the database at ``url`` or the default."""
        store = cls(open_engine(url))
        store.create_tables()
        return store

    def create_tables(self) -> None:
        """Tables of loaded models the migrations do not know yet (none, normally: ``open``
        has upgraded the schema; for a bare engine, all of them)."""
        Base.metadata.create_all(self.engine)

    def close(self) -> None:
        self.engine.dispose()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    # ---------------------------------------------------------------- writing

    def save_run(self, run: RunRecord) -> int:
        """Write a run with all its pages, captures, shops, listings and findings; all or nothing."""
        now = datetime.now(UTC)
        with self._sessions.begin() as session:
            row = Run(
                kind=run.kind,
                target=run.target,
                started_at=run.started_at,
                finished_at=run.finished_at,
                status=run.status,
                stats=dict(run.stats),
            )
            session.add(row)
            session.flush()
            for page in run.pages:
                self._save_page(session, row.id, page, now)
            return row.id

    def transaction(self) -> AbstractContextManager[Session]:
        """A session in its own transaction (committed on exit, rolled back on error)."""
        return self._sessions.begin()

    def save_page(self, session: Session, run_id: int, page: PageRecord,
                  findings_out: list[dict[str, Any]] | None = None) -> int:
        """Write one page of an existing run inside ``session``'s transaction; returns its id.

        With ``findings_out``, the page's finding rows are appended there instead of written: the
        caller writes the rows of several pages in one statement (:meth:`insert_findings`).
        """
        return self._save_page(session, run_id, page, datetime.now(UTC), findings_out)

    def insert_findings(self, session: Session, rows: list[dict[str, Any]]) -> None:
        """Write finding rows collected by :meth:`save_page` (one statement for all of them)."""
        if rows:
            session.connection().execute(self._statements()["finding"], rows)

    def _save_page(self, session: Session, run_id: int, page: PageRecord, now: datetime,
                   findings_out: list[dict[str, Any]] | None = None) -> int:
        # Core statements built once per Store (see _statements), executed on the session's
        # connection: no ORM unit of work, no statement construction or compilation per page.
        conn = session.connection()
        st = self._statements()
        capture_id = self._capture_id(session, page.capture)
        seen = page.capture.fetched_at
        shop_id: int | None = None
        listing_id: int | None = None
        if page.kind == SHOP_KIND:
            shop_id = self._upsert_shop(session, page.url, page.title, seen)
        elif page.kind == LISTING_KIND:
            shop_url = page.extracted.get("shop_url")
            if isinstance(shop_url, str) and shop_url:
                shop_id = self._upsert_shop(session, shop_url, None, seen)
            listing_id = self._upsert_listing(session, page.url, page.title, shop_id, seen)
        page_id = int(
            conn.execute(
                st["page"],
                {
                    "run_id": run_id,
                    "capture_id": capture_id,
                    "url": page.url,
                    "kind": page.kind,
                    "title": page.title,
                    "extracted": dict(page.extracted),
                    "shop_id": shop_id,
                    "listing_id": listing_id,
                },
            ).scalar_one()
        )
        related: list[int] = []
        for capture in page.related_captures:
            related_id = self._capture_id(session, capture)
            if related_id not in related:
                related.append(related_id)
        if related:
            conn.execute(st["page_capture"], [{"page_id": page_id, "capture_id": r} for r in related])
        if page.findings:
            rows = [self._finding_values(run_id, page_id, f, now) for f in page.findings]
            if findings_out is not None:
                findings_out.extend(rows)
            else:
                conn.execute(st["finding"], rows)
        return page_id

    @staticmethod
    def _finding_values(run_id: int, page_id: int, finding: FindingRecord, now: datetime) -> dict[str, Any]:
        return {
            "run_id": run_id,
            "page_id": page_id,
            "rule": finding.rule,
            "severity": finding.severity,
            "article": finding.article,
            "message": finding.message,
            "evidence": [dict(e) for e in finding.evidence],
            "created_at": now,
        }

    @staticmethod
    def _finding_row(run_id: int, page_id: int, finding: FindingRecord, now: datetime) -> FindingRow:
        return FindingRow(**Store._finding_values(run_id, page_id, finding, now))

    def _insert(self, table: Table) -> sqlite.Insert | postgresql.Insert:
        if self.dialect == "postgresql":
            return postgresql.insert(table)
        if self.dialect == "sqlite":
            return sqlite.insert(table)
        raise NotImplementedError(f"unsupported database backend: {self.dialect}")

    def _statements(self) -> dict[str, Any]:
        """The write path's statements, built once per Store (SQLAlchemy then reuses their
        compiled form: building an upsert per call cost ~16 ms)."""
        if self._stmts is not None:
            return self._stmts
        tables: dict[str, Table] = {}
        for name, model in (("captures", Capture), ("shops", Shop), ("listings", Listing),
                            ("pages", PageRow), ("page_captures", PageCapture), ("findings", FindingRow)):
            table = model.__table__
            assert isinstance(table, Table)
            tables[name] = table
        cap = tables["captures"]
        stmts: dict[str, Any] = {
            "capture_id": select(cap.c.id).where(cap.c.sha256 == bindparam("sha256")),
            "capture_insert": self._insert(cap).on_conflict_do_nothing(index_elements=["sha256"]).returning(cap.c.id),
            "page": insert(tables["pages"]).returning(tables["pages"].c.id),
            "page_capture": insert(tables["page_captures"]),
            "finding": insert(tables["findings"]),
        }
        for name, label in (("shops", "name"), ("listings", "title")):
            table = tables[name]
            stmt = self._insert(table)
            excluded = stmt.excluded
            c = table.c
            set_: dict[str, Any] = {
                "first_seen": case((excluded.first_seen < c.first_seen, excluded.first_seen), else_=c.first_seen),
                "last_seen": case((excluded.last_seen > c.last_seen, excluded.last_seen), else_=c.last_seen),
            }
            # the newest sighting's name/title/shop wins; a value not given (None) changes nothing
            for col in (label, "shop_id") if "shop_id" in c else (label,):
                set_[col] = case(
                    (excluded.last_seen >= c.last_seen, func.coalesce(excluded[col], c[col])), else_=c[col]
                )
            if "gone_at" in c:
                set_["gone_at"] = case(
                    (and_(c.gone_at.is_not(None), excluded.last_seen > c.gone_at), None), else_=c.gone_at
                )
            stmts[name] = stmt.on_conflict_do_update(index_elements=["url"], set_=set_).returning(c.id)
        self._stmts = stmts
        return stmts

    def _capture_id(self, session: Session, capture: CaptureRecord) -> int:
        """Id of the capture with this SHA-256, inserting it if new (never updating it)."""
        sha = capture.sha256.lower()
        if len(sha) != 64:
            raise ValueError(f"capture sha256 must be 64 hex digits: {capture.sha256!r}")
        conn = session.connection()
        st = self._statements()
        existing = conn.execute(st["capture_id"], {"sha256": sha}).scalar()
        if existing is not None:
            return int(existing)
        inserted = conn.execute(
            st["capture_insert"],
            {
                "sha256": sha,
                "url": capture.url,
                "final_url": capture.final_url,
                "status": capture.status,
                "headers": dict(capture.headers),
                "body": bytes(capture.body),
                "encoding": capture.encoding,
                "method": capture.method,
                "fetched_at": capture.fetched_at,
            },
        ).scalar()
        if inserted is not None:
            return int(inserted)
        # another writer stored the same bytes between the two statements
        return int(conn.execute(st["capture_id"], {"sha256": sha}).scalar_one())

    def _upsert_seen(self, session: Session, table: Table, values: Mapping[str, Any]) -> int:
        """Insert by URL or widen first_seen/last_seen of the existing row; returns its id."""
        stmt = self._statements()[table.name]
        return int(session.connection().execute(stmt, dict(values)).scalar_one())

    def _upsert_shop(self, session: Session, url: str, name: str | None, seen: datetime) -> int:
        table = Shop.__table__
        assert isinstance(table, Table)
        return self._upsert_seen(
            session, table, {"url": url, "name": name, "first_seen": seen, "last_seen": seen}
        )

    def _upsert_listing(
        self, session: Session, url: str, title: str | None, shop_id: int | None, seen: datetime
    ) -> int:
        table = Listing.__table__
        assert isinstance(table, Table)
        return self._upsert_seen(
            session,
            table,
            {"url": url, "title": title, "shop_id": shop_id, "first_seen": seen, "last_seen": seen},
        )

    def mark_listing_gone(self, url: str, at: datetime) -> bool:
        """Record that a listing is no longer online (it is never deleted). False if unknown."""
        with self._sessions.begin() as session:
            result = session.execute(
                update(Listing).where(Listing.url == url).values(gone_at=at).returning(Listing.id)
            )
            return result.first() is not None

    # ---------------------------------------------------------------- reading

    def rule_summary(self, run_id: int) -> list[tuple[str, str, int]]:
        """(rule, severity, count) of one run's findings, most frequent first."""
        n = func.count(FindingRow.id).label("n")
        stmt = (
            select(FindingRow.rule, FindingRow.severity, n)
            .where(FindingRow.run_id == run_id)
            .group_by(FindingRow.rule, FindingRow.severity)
            .order_by(n.desc(), FindingRow.rule, FindingRow.severity)
        )
        with self._sessions() as session:
            return [(rule, severity, int(count)) for rule, severity, count in session.execute(stmt)]

    def findings(self, run_id: int | None = None, rule: str | None = None) -> list[StoredFinding]:
        stmt = (
            select(FindingRow, PageRow.url, Capture.sha256)
            .join(PageRow, FindingRow.page_id == PageRow.id)
            .join(Capture, PageRow.capture_id == Capture.id)
            .order_by(FindingRow.id)
        )
        if run_id is not None:
            stmt = stmt.where(FindingRow.run_id == run_id)
        if rule is not None:
            stmt = stmt.where(FindingRow.rule == rule)
        with self._sessions() as session:
            return [
                StoredFinding(
                    id=f.id,
                    run_id=f.run_id,
                    page_id=f.page_id,
                    page_url=page_url,
                    capture_sha256=sha,
                    rule=f.rule,
                    severity=f.severity,
                    article=f.article,
                    message=f.message,
                    evidence=list(f.evidence),
                    created_at=f.created_at,
                )
                for f, page_url, sha in session.execute(stmt)
            ]

    def get_capture(self, sha256: str) -> CaptureRecord | None:
        with self._sessions() as session:
            row = session.scalar(select(Capture).where(Capture.sha256 == sha256.lower()))
            if row is None:
                return None
            return CaptureRecord(
                url=row.url,
                final_url=row.final_url,
                status=row.status,
                headers=dict(row.headers),
                body=bytes(row.body),
                sha256=row.sha256,
                fetched_at=row.fetched_at,
                method=row.method,
                encoding=row.encoding,
            )

    def runs(self, limit: int = 20, kind: str | None = None) -> list[StoredRun]:
        """The latest runs (of ``kind``), newest first."""
        stmt = select(Run).order_by(Run.started_at.desc(), Run.id.desc()).limit(limit)
        if kind is not None:
            stmt = stmt.where(Run.kind == kind)
        with self._sessions() as session:
            return [
                StoredRun(
                    id=r.id,
                    kind=r.kind,
                    target=r.target,
                    started_at=r.started_at,
                    finished_at=r.finished_at,
                    status=r.status,
                    stats=dict(r.stats),
                )
                for r in session.scalars(stmt)
            ]

    def counts(self) -> dict[str, int]:
        """Rows per table."""
        models: dict[str, type[Base]] = {
            "captures": Capture,
            "runs": Run,
            "shops": Shop,
            "listings": Listing,
            "pages": PageRow,
            "page_captures": PageCapture,
            "findings": FindingRow,
        }
        with self._sessions() as session:
            return {
                name: int(session.scalar(select(func.count()).select_from(model)) or 0)
                for name, model in models.items()
            }


__all__ = ["Store", "create_store_engine"]
