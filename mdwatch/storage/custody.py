"""Chain of custody (保管链) of evidence packages: table ``custody_log`` and ``CustodyStore``.

One row per act on an evidence package: who (the operator), what (``export`` | ``verify``),
which target (a finding, lead or run by id, a campaign by name), when (UTC), the SHA-256 of the
package's manifest and the result. The log is append-only: the store offers no way to change or
remove a row, and the migration that creates the table (0003) adds triggers refusing UPDATE and
DELETE on both backends.

Imports nothing else of ours beyond this package. All datetimes are time-zone aware (UTC).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import Engine, Index, String, Table, Text, or_, select
from sqlalchemy.orm import Mapped, mapped_column, sessionmaker

from .schema import Base, IdType, UTCDateTime
from .store import EngineStore

__all__ = [
    "CUSTODY_ACTIONS",
    "CUSTODY_RESULTS",
    "CUSTODY_TARGETS",
    "CustodyEntry",
    "CustodyRow",
    "CustodyStore",
]

CUSTODY_ACTIONS = ("export", "verify")
CUSTODY_TARGETS = ("finding", "lead", "run", "campaign", "unknown")  # unknown: a package naming none
CUSTODY_RESULTS = ("ok", "failed")


class CustodyRow(Base):
    __tablename__ = "custody_log"
    __table_args__ = (Index("ix_custody_log_target", "target_kind", "target"),)

    id: Mapped[int] = mapped_column(IdType, primary_key=True, autoincrement=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime())
    operator: Mapped[str] = mapped_column(String(200))
    action: Mapped[str] = mapped_column(String(16))
    target_kind: Mapped[str] = mapped_column(String(16))
    target: Mapped[str] = mapped_column(Text)
    manifest_sha256: Mapped[str | None] = mapped_column(String(64), index=True)
    result: Mapped[str] = mapped_column(String(16))
    package: Mapped[str | None] = mapped_column(Text)  # the package's file name as given
    detail: Mapped[str | None] = mapped_column(Text)  # what failed, or what was found


@dataclass(frozen=True, slots=True)
class CustodyEntry:
    id: int
    at: datetime
    operator: str
    action: str
    target_kind: str
    target: str
    manifest_sha256: str | None
    result: str
    package: str | None
    detail: str | None


def _entry(row: CustodyRow) -> CustodyEntry:
    return CustodyEntry(row.id, row.at, row.operator, row.action, row.target_kind, row.target,
                        row.manifest_sha256, row.result, row.package, row.detail)


class CustodyStore(EngineStore):
    """The append-only custody log on SQLite or PostgreSQL: :meth:`append` and readers, nothing else."""

    def __init__(self, engine_or_url: Engine | str | None = None) -> None:
        self._open_engine(engine_or_url)
        self._sessions = sessionmaker(self.engine, expire_on_commit=False)
        table = CustodyRow.__table__
        assert isinstance(table, Table)
        Base.metadata.create_all(self.engine, tables=[table])  # normally there already (migration 0003)


    def append(self, *, operator: str, action: str, target_kind: str, target: str, result: str,
               manifest_sha256: str | None = None, package: str | None = None, detail: str | None = None,
               at: datetime | None = None) -> CustodyEntry:
        """Add one entry (``at`` defaults to now, UTC); returns it as stored."""
        if action not in CUSTODY_ACTIONS:
            raise ValueError(f"unknown custody action: {action!r}")
        if target_kind not in CUSTODY_TARGETS:
            raise ValueError(f"unknown custody target: {target_kind!r}")
        if result not in CUSTODY_RESULTS:
            raise ValueError(f"unknown custody result: {result!r}")
        when = datetime.now(UTC) if at is None else at
        if when.tzinfo is None or when.utcoffset() is None:
            raise ValueError(f"naive datetime refused: {when!r}")
        row = CustodyRow(at=when.astimezone(UTC), operator=(operator.strip() or "unknown")[:200], action=action,
                         target_kind=target_kind, target=target, manifest_sha256=manifest_sha256, result=result,
                         package=package, detail=detail)
        with self._sessions.begin() as session:
            session.add(row)
            session.flush()
            return _entry(row)

    def entries(self, targets: Sequence[tuple[str, str]] | None = None) -> list[CustodyEntry]:
        """Entries, oldest first; only those of the given ``(target_kind, target)`` pairs when given."""
        stmt = select(CustodyRow).order_by(CustodyRow.id)
        if targets is not None:
            if not targets:
                return []
            stmt = stmt.where(or_(*((CustodyRow.target_kind == kind) & (CustodyRow.target == target)
                                    for kind, target in targets)))
        with self._sessions() as session:
            return [_entry(r) for r in session.scalars(stmt)]
