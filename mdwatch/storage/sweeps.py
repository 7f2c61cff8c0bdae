"""Sweeps in storage: the ``sweep_pages`` table and the queries of a resumable sweep.

A sweep is a ``runs`` row (kind ``sweep``, status ``running`` → ``done`` | ``interrupted``) whose
pages are committed a few at a time (the batch an analysis worker was handed), each page together
with its ``sweep_pages(run_id, url)`` row. That row is unique, so a page is never stored twice for one
sweep (and its findings, keyed by run, URL and rule, never duplicated), and the set of
``sweep_pages`` URLs is exactly what a resumed sweep need not store again.
"""

from __future__ import annotations

import time
import weakref
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import ForeignKey, String, Table, Text, UniqueConstraint, bindparam, func, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Mapped, Session, mapped_column

from .history import HistoryStore, ListingSnapshotRow, SnapshotRow
from .records import PageRecord
from .schema import Base, FindingRow, IdType, PageRow, Run, UTCDateTime
from .store import Store, create_store_engine

__all__ = [
    "SWEEP_KIND",
    "HistoryRows",
    "PendingPage",
    "SweepHistory",
    "SweepPage",
    "SweepRun",
    "done_urls",
    "finish_sweep",
    "get_sweep",
    "note_budget_exhausted",
    "rule_pages",
    "save_sweep_pages",
    "start_sweep",
    "sweep_counts",
    "sweep_findings",
    "tune_sqlite",
]

SWEEP_KIND = "sweep"
STATUSES = ("running", "interrupted", "done")


class SweepPage(Base):
    """One page stored by one sweep (the resume ledger)."""

    __tablename__ = "sweep_pages"
    __table_args__ = (UniqueConstraint("run_id", "url", name="uq_sweep_pages_run_url"),)

    id: Mapped[int] = mapped_column(IdType, primary_key=True, autoincrement=True)
    run_id: Mapped[int] = mapped_column(IdType, ForeignKey("runs.id"), index=True)
    url: Mapped[str] = mapped_column(Text)
    role: Mapped[str] = mapped_column(String(16))
    page_id: Mapped[int | None] = mapped_column(IdType, ForeignKey("pages.id"))
    stored_at: Mapped[datetime] = mapped_column(UTCDateTime())


@dataclass(frozen=True, slots=True)
class SweepRun:
    id: int
    status: str
    target: str
    started_at: datetime
    finished_at: datetime | None
    stats: dict[str, Any]


def tune_sqlite(store: Store) -> None:
    """On SQLite: write-ahead log, so a commit per page is cheap and readers never block the sweep.

    WAL with ``synchronous=NORMAL`` survives a killed process (only a power cut may lose the last
    commits); it is a property of the database file and harmless for every other user of it.
    """
    if store.dialect != "sqlite":
        return
    from sqlalchemy.exc import OperationalError

    with store.engine.connect() as conn:
        database = conn.engine.url.database
        if not database or database == ":memory:":
            return
        if str(conn.exec_driver_sql("PRAGMA journal_mode").scalar()).lower() == "wal":
            return  # the mode is the file's: set once, by whoever opened it first
        # switching needs the file to itself: processes opening a new database together (a sweep's
        # workers) wait for one another here rather than fail
        for attempt in range(100):
            try:
                conn.exec_driver_sql("PRAGMA journal_mode=WAL")
                return
            except OperationalError as exc:
                if "locked" not in str(exc) or attempt == 99:
                    raise
                time.sleep(0.05)


def _sqlite_synchronous_normal(dbapi_connection: Any, connection_record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


def _postgres_asynchronous_commit(dbapi_connection: Any, connection_record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("SET SESSION synchronous_commit TO off")
    cursor.close()
    dbapi_connection.commit()  # a SET inside a transaction rolled back would be undone


def open_sweep_store(url: str | None) -> Store:
    """A Store for a sweep: tables (``sweep_pages`` included) created, SQLite in WAL mode.

    A sweep commits once per page. On SQLite ``synchronous=NORMAL``, on PostgreSQL
    ``synchronous_commit=off`` for the sweep's own sessions: a commit returns before its WAL
    record is flushed, so a page costs a write instead of a disk flush (three times the
    pages per second per worker, bench_store.py). Neither can corrupt the database; a crash of
    the database server (not of mdwatch) may lose the last fraction of a second of pages, which
    the sweep's resume fetches again, as it does after any interruption.
    """
    from sqlalchemy import event

    store = Store.open(url)
    if store.dialect == "sqlite":
        event.listen(store.engine, "connect", _sqlite_synchronous_normal)
        store.engine.dispose()  # reconnect with the pragma
        tune_sqlite(store)
    elif store.dialect == "postgresql":
        event.listen(store.engine, "connect", _postgres_asynchronous_commit)
        store.engine.dispose()
    return store


def start_sweep(store: Store, target: str, stats: Mapping[str, Any], started_at: datetime | None = None) -> int:
    """Create the run row of a new sweep (status ``running``); returns its id."""
    with store.transaction() as session:
        row = Run(kind=SWEEP_KIND, target=target, started_at=started_at or datetime.now(UTC),
                  finished_at=None, status="running", stats=dict(stats))
        session.add(row)
        session.flush()
        return row.id


def get_sweep(store: Store, run_id: int) -> SweepRun | None:
    with store.transaction() as session:
        row = session.get(Run, run_id)
        if row is None or row.kind != SWEEP_KIND:
            return None
        return SweepRun(row.id, row.status, row.target, row.started_at, row.finished_at, dict(row.stats))


def peek_sweep_status(url: str, run_id: int) -> str | None:
    """The status of sweep ``run_id`` without creating any table (a worker polling a database its
    seeder may not have set up yet); None when the run or its table does not exist (yet)."""
    from sqlalchemy.exc import SQLAlchemyError

    store = Store(create_store_engine(url, schema=False))
    try:
        return sweep.status if (sweep := get_sweep(store, run_id)) is not None else None
    except SQLAlchemyError:
        return None
    finally:
        store.close()


def resume_sweep(store: Store, run_id: int) -> None:
    """Mark a sweep running again (``--resume``)."""
    with store.transaction() as session:
        session.execute(update(Run).where(Run.id == run_id).values(status="running", finished_at=None))


def finish_sweep(store: Store, run_id: int, status: str, stats: Mapping[str, Any]) -> None:
    """Record how a sweep (or this part of it) ended: ``done`` or ``interrupted``."""
    if status not in STATUSES:
        raise ValueError(f"unknown sweep status: {status!r}")
    with store.transaction() as session:
        row = session.get(Run, run_id)
        if row is None:
            raise KeyError(run_id)
        row.status = status
        row.finished_at = datetime.now(UTC)
        row.stats = {**dict(row.stats), **dict(stats)}


def note_budget_exhausted(store: Store, run_id: int) -> None:
    """Mark in the run's stats that a part of the sweep stopped at its page budget."""
    with store.transaction() as session:
        row = session.get(Run, run_id)
        if row is not None:
            row.stats = {**dict(row.stats), "budget_exhausted": True}


def done_urls(store: Store, run_id: int) -> set[str]:
    """URLs this sweep has stored already."""
    with store.transaction() as session:
        return set(session.scalars(select(SweepPage.url).where(SweepPage.run_id == run_id)))


def _insert(store: Store, table: Table) -> sqlite.Insert | postgresql.Insert:
    return postgresql.insert(table) if store.dialect == "postgresql" else sqlite.insert(table)


@dataclass(frozen=True, slots=True)
class PendingPage:
    """A page of a sweep to store: its URL and role, its record, and what else its transaction writes."""

    url: str
    role: str
    record: PageRecord
    also: Callable[[Session, int], object] | None = None  # also(session, page_id), e.g. its history


def save_sweep_pages(store: Store, run_id: int, pages: Sequence[PendingPage],
                     finish: Callable[[Session], object] | None = None) -> list[int | None]:
    """Store pages of a sweep in one transaction: each page's id, None for a page stored already
    (nothing of it is written). All of them are committed, or none.

    A page's ``also(session, page_id)`` runs in the same transaction once the page is written (e.g.
    the listing's history snapshot), so it is committed exactly when the page is; ``finish(session)``
    runs last in the transaction (e.g. writing what the ``also`` calls noted, in one statement).
    """
    claim, link = _claim_statements(store)
    ids: list[int | None] = []
    links: list[dict[str, int]] = []
    findings: list[dict[str, Any]] = []
    with store.transaction() as session:
        conn = session.connection()
        for page in pages:
            claimed = conn.execute(claim, {"run_id": run_id, "url": page.url, "role": page.role, "page_id": None,
                                           "stored_at": datetime.now(UTC)}).first()
            if claimed is None:
                ids.append(None)
                continue
            page_id = store.save_page(session, run_id, page.record, findings)
            links.append({"claim_id": claimed[0], "page_id": page_id})
            if page.also is not None:
                page.also(session, page_id)
            ids.append(page_id)
        # the rows every page of the batch has: one statement each for all of them (a round trip
        # per page and statement is what a database server costs most)
        if links:
            conn.execute(link, links)
        store.insert_findings(session, findings)
        if finish is not None:
            finish(session)
    return ids


def _snapshot(r: Any) -> SnapshotRow:
    return SnapshotRow(
        id=r.id, run_id=r.run_id, url=r.listing_url, fetched_at=r.fetched_at, seen_until=r.seen_until,
        sha256=r.sha256, price=r.price, original_price=r.original_price,
        rules=frozenset(r.rules or ()), warnings=frozenset(r.warnings or ()), claims=frozenset(r.claims or ()),
    )


def _claim_statements(store: Store) -> tuple[Any, Any]:
    """The claim of a page's ``sweep_pages`` row and the link to its page, built once per Store
    (building them per page, SQLAlchemy's cache-key work alone cost about a third of a millisecond)."""
    cached = _CLAIMS.get(store)
    if cached is None:
        table = SweepPage.__table__
        assert isinstance(table, Table)
        claim = _insert(store, table).on_conflict_do_nothing(index_elements=["run_id", "url"]).returning(table.c.id)
        link = update(table).where(table.c.id == bindparam("claim_id")).values(page_id=bindparam("page_id"))
        cached = _CLAIMS[store] = (claim, link)
    return cached


_CLAIMS: weakref.WeakKeyDictionary[Store, tuple[Any, Any]] = weakref.WeakKeyDictionary()


def sweep_counts(store: Store, run_id: int) -> dict[str, int]:
    """Pages stored, pages with findings and findings of a sweep."""
    with store.transaction() as session:
        pages = session.scalar(select(func.count()).select_from(SweepPage).where(SweepPage.run_id == run_id))
        findings = session.scalar(select(func.count()).select_from(FindingRow).where(FindingRow.run_id == run_id))
        flagged = session.scalar(
            select(func.count(func.distinct(FindingRow.page_id))).where(FindingRow.run_id == run_id)
        )
    return {"pages": int(pages or 0), "flagged": int(flagged or 0), "findings": int(findings or 0)}


def rule_pages(store: Store, run_id: int) -> list[tuple[str, str, int]]:
    """(rule, severity, pages with that rule) of one sweep."""
    n = func.count(func.distinct(FindingRow.page_id)).label("n")
    stmt = (
        select(FindingRow.rule, FindingRow.severity, n)
        .where(FindingRow.run_id == run_id)
        .group_by(FindingRow.rule, FindingRow.severity)
        .order_by(FindingRow.rule)
    )
    with store.transaction() as session:
        return [(rule, severity, int(count)) for rule, severity, count in session.execute(stmt)]


def sweep_findings(store: Store, run_id: int) -> list[tuple[str, str]]:
    """(page URL, rule) of every finding of a sweep, in storage order (duplicates kept)."""
    stmt = (
        select(PageRow.url, FindingRow.rule)
        .join(PageRow, FindingRow.page_id == PageRow.id)
        .where(FindingRow.run_id == run_id)
        .order_by(FindingRow.id)
    )
    with store.transaction() as session:
        return [(url, rule) for url, rule in session.execute(stmt)]


class SweepHistory:
    """The history reads and writes of a sweep's worker, on prebuilt statements (fast path).

    Same table and semantics as :class:`mdwatch.storage.history.HistoryStore` (``last_snapshot`` /
    ``unchanged`` / ``previous_snapshots`` with the current run left out, ``save_snapshot``
    idempotent per run and URL, ``seen_again``), but one query per page for the reads and the
    writes inside the page's own transaction; HistoryStore builds its statements per call, which
    costs several milliseconds a page.
    """

    def __init__(self, store: Store) -> None:
        HistoryStore(store)  # creates the table if absent
        table = ListingSnapshotRow.__table__
        assert isinstance(table, Table)
        self.store = store
        self.table = table
        c = table.c
        # each listing's newest 20 snapshots from other runs, for several listings at once
        ranked = (
            select(c.id, c.run_id, c.listing_url, c.fetched_at, c.seen_until, c.sha256, c.price,
                   c.original_price, c.rules, c.warnings, c.claims,
                   func.row_number().over(partition_by=c.listing_url,
                                          order_by=(c.fetched_at.desc(), c.id.desc())).label("rank"))
            .where(c.listing_url.in_(bindparam("urls", expanding=True)), c.run_id != bindparam("run_id"))
            .subquery()
        )
        r = ranked.c
        self._recent_many = (
            select(r.id, r.run_id, r.listing_url, r.fetched_at, r.seen_until, r.sha256, r.price,
                   r.original_price, r.rules, r.warnings, r.claims)
            .where(r.rank <= 20)
            .order_by(r.listing_url, r.fetched_at.desc(), r.id.desc())
        )
        ins = _insert(store, table)
        keep = ("listing_url", "run_id")
        cols = ("fetched_at", "seen_until", "sha256", "price", "original_price", "rules", "warnings", "claims")
        self._save = ins.on_conflict_do_update(
            index_elements=list(keep), set_={k: ins.excluded[k] for k in cols}
        )
        self._seen = update(table).where(c.id == bindparam("sid")).values(seen_until=bindparam("at"))

    def recent(self, url: str, run_id: int) -> list[SnapshotRow]:
        """The listing's latest snapshots from other runs, newest first (at most 20)."""
        return self.recent_many([url], run_id)[url]

    def recent_many(self, urls: Iterable[str], run_id: int) -> dict[str, list[SnapshotRow]]:
        """:meth:`recent` of several listings in one query (a batch of pages): URL → its snapshots."""
        wanted = sorted(set(urls))
        found: dict[str, list[SnapshotRow]] = {u: [] for u in wanted}
        if not wanted:
            return found
        with self.store.engine.connect() as conn:
            for r in conn.execute(self._recent_many, {"urls": wanted, "run_id": run_id}):
                found[r.listing_url].append(_snapshot(r))
        return found

    def save(self, session: Session, run_id: int, url: str, fetched_at: datetime, sha256: str, *,
             price: float | None, original_price: float | None, rules: Iterable[str], warnings: Iterable[str],
             claims: Iterable[str], rows: HistoryRows | None = None) -> None:
        """This run's snapshot of ``url`` (replaces this run's earlier one: a resumed sweep); with
        ``rows``, noted there for :meth:`write` instead of written now."""
        params = {
            "listing_url": url, "run_id": run_id, "fetched_at": fetched_at, "seen_until": None,
            "sha256": sha256.lower(), "price": price, "original_price": original_price,
            "rules": sorted(set(rules)), "warnings": sorted(set(warnings)), "claims": sorted(set(claims)),
        }
        if rows is not None:
            rows.saves.append(params)
        else:
            session.connection().execute(self._save, params)

    def seen_again(self, session: Session, last: SnapshotRow, at: datetime, rows: HistoryRows | None = None) -> None:
        """Unchanged content seen again at ``at``: move the last snapshot's ``seen_until`` forward
        (the listing's ``last_seen`` moves with the page's own listing upsert); ``rows`` as for :meth:`save`."""
        if at > (last.seen_until or last.fetched_at):
            if rows is not None:
                rows.seen.append({"sid": last.id, "at": at})
            else:
                session.connection().execute(self._seen, {"sid": last.id, "at": at})

    def write(self, session: Session, rows: HistoryRows) -> None:
        """Write the rows noted in ``rows`` (one statement per kind) and empty it."""
        conn = session.connection()
        if rows.saves:
            conn.execute(self._save, rows.saves)
        if rows.seen:
            conn.execute(self._seen, rows.seen)
        rows.clear()


@dataclass(slots=True)
class HistoryRows:
    """Listing snapshots noted for one transaction, written together by :meth:`SweepHistory.write`."""

    saves: list[dict[str, Any]] = field(default_factory=list)
    seen: list[dict[str, Any]] = field(default_factory=list)

    def clear(self) -> None:
        self.saves.clear()
        self.seen.clear()
