"""The audit log (操作审计) of the console and the account commands: table ``audit_log``.

One row per change: when (UTC), who (the account name, its role and organisation), from which
address (the client's IP address, or ``本机命令行`` for the command line), what (``action``, e.g.
``review.dismiss``, ``lead.assign``), on what (``target_kind`` and ``target``) and the details
(JSON). Logins, successful or not, are recorded too. The log is append-only: the store has no way
to change or remove a row, and migration v0005 adds triggers refusing UPDATE and DELETE.

Imports nothing else of ours beyond this package. All datetimes are time-zone aware (UTC).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Engine, Index, String, Table, Text, select
from sqlalchemy.orm import Mapped, mapped_column, sessionmaker

from .schema import Base, IdType, JsonType, UTCDateTime
from .store import EngineStore

__all__ = ["Actor", "AuditEntry", "AuditRow", "AuditStore"]

CLI_ADDRESS = "本机命令行"


class AuditRow(Base):
    __tablename__ = "audit_log"
    __table_args__ = (Index("ix_audit_log_target", "target_kind", "target"),)

    id: Mapped[int] = mapped_column(IdType, primary_key=True, autoincrement=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
    actor: Mapped[str] = mapped_column(String(200))
    role: Mapped[str | None] = mapped_column(String(16))
    org: Mapped[str | None] = mapped_column(String(200))
    address: Mapped[str] = mapped_column(String(100))
    action: Mapped[str] = mapped_column(String(64), index=True)
    target_kind: Mapped[str] = mapped_column(String(32))
    target: Mapped[str] = mapped_column(Text)
    detail: Mapped[dict[str, Any]] = mapped_column(JsonType)


@dataclass(frozen=True, slots=True)
class Actor:
    """Who made a change and from where."""

    name: str
    role: str | None = None
    org: str | None = None
    address: str = CLI_ADDRESS


@dataclass(frozen=True, slots=True)
class AuditEntry:
    id: int
    at: datetime
    actor: str
    role: str | None
    org: str | None
    address: str
    action: str
    target_kind: str
    target: str
    detail: dict[str, Any] = field(default_factory=dict)


def _entry(row: AuditRow) -> AuditEntry:
    return AuditEntry(row.id, row.at, row.actor, row.role, row.org, row.address, row.action, row.target_kind,
                      row.target, dict(row.detail or {}))


class AuditStore(EngineStore):
    """The append-only audit log on SQLite or PostgreSQL: :meth:`record` and readers, nothing else."""

    def __init__(self, engine_or_url: Engine | str | None = None) -> None:
        self._open_engine(engine_or_url)
        self._sessions = sessionmaker(self.engine, expire_on_commit=False)
        table = AuditRow.__table__
        assert isinstance(table, Table)
        Base.metadata.create_all(self.engine, tables=[table])  # normally there already (migration v0005)

    def record(self, actor: Actor, action: str, target_kind: str, target: str | int,
               detail: Mapping[str, Any] | None = None, at: datetime | None = None) -> AuditEntry:
        when = datetime.now(UTC) if at is None else at
        if when.tzinfo is None or when.utcoffset() is None:
            raise ValueError(f"naive datetime refused: {when!r}")
        row = AuditRow(at=when.astimezone(UTC), actor=actor.name[:200], role=actor.role, org=actor.org,
                       address=(actor.address or "")[:100], action=action[:64], target_kind=target_kind[:32],
                       target=str(target), detail=dict(detail or {}))
        with self._sessions.begin() as session:
            session.add(row)
            session.flush()
            return _entry(row)

    def entries(self, *, limit: int = 100, action: str | None = None, target_kind: str | None = None,
                target: str | None = None, actor: str | None = None) -> list[AuditEntry]:
        """The latest entries, newest first, optionally of one action, target or actor."""
        stmt = select(AuditRow).order_by(AuditRow.id.desc()).limit(max(1, min(limit, 1000)))
        if action is not None:
            stmt = stmt.where(AuditRow.action == action)
        if target_kind is not None:
            stmt = stmt.where(AuditRow.target_kind == target_kind)
        if target is not None:
            stmt = stmt.where(AuditRow.target == target)
        if actor is not None:
            stmt = stmt.where(AuditRow.actor == actor)
        with self._sessions() as session:
            return [_entry(r) for r in session.scalars(stmt)]
