"""Listing history: one snapshot per listing and distinct content, gone marking.

A snapshot is what the history rules need of one capture of one listing (price, original price,
rules fired, warnings shown, claim terms). A re-sweep that finds the same content (same capture
SHA-256 as the last snapshot) stores nothing new: :meth:`HistoryStore.seen_again` only moves the
snapshot's ``seen_until`` and the listing's ``last_seen`` forward. Listings are never deleted:
:meth:`HistoryStore.mark_gone` sets ``gone_at`` on those a completed sweep did not see, and the
listing upsert in ``store.py`` clears it when the listing is seen again later.

Imports nothing else of ours beyond this package.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy import (
    Engine,
    Float,
    ForeignKey,
    Index,
    String,
    Table,
    Text,
    UniqueConstraint,
    select,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Mapped, Session, mapped_column, sessionmaker

from .schema import Base, IdType, JsonType, Listing, Run, UTCDateTime
from .store import Store

__all__ = ["HistoryStore", "ListingSnapshotRow", "SnapshotRow"]


class ListingSnapshotRow(Base):
    """One distinct content of one listing URL, as first captured in run ``run_id``."""

    __tablename__ = "listing_snapshots"
    __table_args__ = (
        UniqueConstraint("run_id", "listing_url", name="uq_listing_snapshots_run_url"),
        Index("ix_listing_snapshots_url_fetched", "listing_url", "fetched_at"),
    )

    id: Mapped[int] = mapped_column(IdType, primary_key=True, autoincrement=True)
    listing_url: Mapped[str] = mapped_column(Text)
    run_id: Mapped[int] = mapped_column(IdType, ForeignKey("runs.id"), index=True)
    fetched_at: Mapped[datetime] = mapped_column(UTCDateTime())
    seen_until: Mapped[datetime | None] = mapped_column(UTCDateTime())
    sha256: Mapped[str] = mapped_column(String(64))
    price: Mapped[float | None] = mapped_column(Float)
    original_price: Mapped[float | None] = mapped_column(Float)
    rules: Mapped[list[str]] = mapped_column(JsonType)
    warnings: Mapped[list[str]] = mapped_column(JsonType)
    claims: Mapped[list[str]] = mapped_column(JsonType)


@dataclass(frozen=True, slots=True)
class SnapshotRow:
    """A stored snapshot. Field names match ``analyzers.history.ListingSnapshot`` (plus ids)."""

    id: int
    run_id: int
    url: str
    fetched_at: datetime
    seen_until: datetime | None
    sha256: str
    price: float | None
    original_price: float | None
    rules: frozenset[str]
    warnings: frozenset[str]
    claims: frozenset[str]


def _row(r: ListingSnapshotRow) -> SnapshotRow:
    return SnapshotRow(
        id=r.id,
        run_id=r.run_id,
        url=r.listing_url,
        fetched_at=r.fetched_at,
        seen_until=r.seen_until,
        sha256=r.sha256,
        price=r.price,
        original_price=r.original_price,
        rules=frozenset(r.rules or ()),
        warnings=frozenset(r.warnings or ()),
        claims=frozenset(r.claims or ()),
    )


def _aware(at: datetime) -> datetime:
    if at.tzinfo is None or at.utcoffset() is None:
        raise ValueError(f"naive datetime refused by storage: {at!r}")
    return at


def _on_platform(url: str, domain: str) -> bool:
    """True when ``url`` is on ``domain`` (host, host:port, or a subdomain of it)."""
    parts = urlsplit(url)
    domain = domain.strip().lower().rstrip(".")
    if "://" in domain:
        domain = urlsplit(domain).netloc
    netloc = parts.netloc.lower()
    host = (parts.hostname or "").rstrip(".")
    if ":" in domain and not domain.startswith("["):  # host:port given: exact match only
        return netloc == domain
    return host == domain or host.endswith("." + domain)


class HistoryStore:
    """Snapshots and gone marking on the same database as a :class:`Store` (or an engine)."""

    def __init__(self, store_or_engine: Store | Engine) -> None:
        self.engine = store_or_engine.engine if isinstance(store_or_engine, Store) else store_or_engine
        self._sessions = sessionmaker(self.engine, expire_on_commit=False)
        self.create_tables()

    def create_tables(self) -> None:
        table = ListingSnapshotRow.__table__
        assert isinstance(table, Table)
        table.create(self.engine, checkfirst=True)

    def _insert(self, table: Table) -> sqlite.Insert | postgresql.Insert:
        name = self.engine.dialect.name
        if name == "postgresql":
            return postgresql.insert(table)
        if name == "sqlite":
            return sqlite.insert(table)
        raise NotImplementedError(f"unsupported database backend: {name}")

    # ---------------------------------------------------------------- writing

    def save_snapshot(
        self,
        run_id: int,
        url: str,
        fetched_at: datetime,
        sha256: str,
        *,
        price: float | None,
        original_price: float | None,
        rules: Iterable[str],
        warnings: Iterable[str],
        claims: Iterable[str],
        session: Session | None = None,
    ) -> int:
        """Store the snapshot of ``url`` captured in run ``run_id``; returns its id.

        Idempotent per (run, URL): saving again (a resumed sweep re-fetching a page) replaces
        that run's snapshot. Pass ``session`` to write inside the caller's page transaction.
        """
        sha = sha256.lower()
        if len(sha) != 64:
            raise ValueError(f"capture sha256 must be 64 hex digits: {sha256!r}")
        values: dict[str, Any] = {
            "listing_url": url,
            "run_id": run_id,
            "fetched_at": _aware(fetched_at),
            "seen_until": None,
            "sha256": sha,
            "price": price,
            "original_price": original_price,
            "rules": sorted(set(rules)),
            "warnings": sorted(set(warnings)),
            "claims": sorted(set(claims)),
        }
        table = ListingSnapshotRow.__table__
        assert isinstance(table, Table)
        stmt = self._insert(table).values(**values)
        update_cols = {k: stmt.excluded[k] for k in values if k not in ("listing_url", "run_id")}
        stmt = stmt.on_conflict_do_update(index_elements=["run_id", "listing_url"], set_=update_cols)
        c = table.c
        query = select(c.id).where(c.run_id == run_id, c.listing_url == url)
        if session is not None:
            session.execute(stmt)
            return int(session.execute(query).scalar_one())
        with self._sessions.begin() as own:
            own.execute(stmt)
            return int(own.execute(query).scalar_one())

    def seen_again(self, url: str, at: datetime, *, session: Session | None = None) -> bool:
        """An unchanged capture of ``url`` at ``at``: move the last snapshot's ``seen_until`` and
        the listing's ``last_seen`` forward (clearing ``gone_at``). False if no snapshot exists."""
        _aware(at)

        def run(s: Session) -> bool:
            last = s.scalar(
                select(ListingSnapshotRow)
                .where(ListingSnapshotRow.listing_url == url)
                .order_by(ListingSnapshotRow.fetched_at.desc(), ListingSnapshotRow.id.desc())
                .limit(1)
            )
            if last is None:
                return False
            if at > (last.seen_until or last.fetched_at):
                s.execute(
                    update(ListingSnapshotRow).where(ListingSnapshotRow.id == last.id).values(seen_until=at)
                )
            s.execute(
                update(Listing)
                .where(Listing.url == url, Listing.last_seen < at)
                .values(last_seen=at, gone_at=None)
            )
            return True

        if session is not None:
            return run(session)
        with self._sessions.begin() as own:
            return run(own)

    def mark_gone(
        self,
        run_id: int,
        seen_urls: Iterable[str],
        domain: str,
        *,
        now: datetime | None = None,
    ) -> int:
        """Mark the listings on ``domain`` that sweep ``run_id`` did not see as gone (``gone_at``).

        Call it only after a sweep that covered the whole platform (finished, not interrupted,
        page budget not exhausted). A listing counts as seen when its URL is in ``seen_urls`` or
        its ``last_seen`` is not earlier than the run's start (another worker saw it). Listings
        already gone keep their first ``gone_at``. Nothing is deleted. Returns how many were marked.
        """
        at = _aware(now) if now is not None else datetime.now(UTC)
        seen = set(seen_urls)
        with self._sessions.begin() as session:
            started = session.scalar(select(Run.started_at).where(Run.id == run_id))
            if started is None:
                raise ValueError(f"unknown run: {run_id}")
            candidates = session.execute(
                select(Listing.id, Listing.url).where(Listing.gone_at.is_(None), Listing.last_seen < started)
            ).all()
            ids = [lid for lid, url in candidates if url not in seen and _on_platform(url, domain)]
            for i in range(0, len(ids), 500):
                session.execute(update(Listing).where(Listing.id.in_(ids[i : i + 500])).values(gone_at=at))
            return len(ids)

    # ---------------------------------------------------------------- reading

    def previous_snapshots(
        self,
        url: str,
        before: datetime,
        limit: int = 20,
        *,
        exclude_run_id: int | None = None,
    ) -> list[SnapshotRow]:
        """Snapshots of ``url`` captured before ``before``, newest first.

        ``exclude_run_id``: leave out the current run's own snapshot (a resumed sweep may have
        stored it before being interrupted).
        """
        stmt = (
            select(ListingSnapshotRow)
            .where(ListingSnapshotRow.listing_url == url, ListingSnapshotRow.fetched_at < _aware(before))
            .order_by(ListingSnapshotRow.fetched_at.desc(), ListingSnapshotRow.id.desc())
            .limit(limit)
        )
        if exclude_run_id is not None:
            stmt = stmt.where(ListingSnapshotRow.run_id != exclude_run_id)
        with self._sessions() as session:
            return [_row(r) for r in session.scalars(stmt)]

    def last_snapshot(self, url: str, *, exclude_run_id: int | None = None) -> SnapshotRow | None:
        stmt = (
            select(ListingSnapshotRow)
            .where(ListingSnapshotRow.listing_url == url)
            .order_by(ListingSnapshotRow.fetched_at.desc(), ListingSnapshotRow.id.desc())
            .limit(1)
        )
        if exclude_run_id is not None:
            stmt = stmt.where(ListingSnapshotRow.run_id != exclude_run_id)
        with self._sessions() as session:
            row = session.scalar(stmt)
            return None if row is None else _row(row)

    def unchanged(self, url: str, sha256: str, *, exclude_run_id: int | None = None) -> bool:
        """True when the last snapshot of ``url`` has this capture hash (store nothing new).

        ``exclude_run_id``: the current run, so that a resumed sweep does not take the snapshot
        it stored before the interruption for an earlier capture.
        """
        last = self.last_snapshot(url, exclude_run_id=exclude_run_id)
        return last is not None and last.sha256 == sha256.lower()
