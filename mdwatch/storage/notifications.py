"""Notification log (通知记录): table ``notification_log`` and ``NotificationStore``.

One row per notification attempt on one channel: when (UTC), the channel kind (``wecom``,
``dingtalk``, ``feishu``, ``email``, ``webhook``), the target as shown to people (tokens, keys and
passwords already masked by the caller), the title, whether it was delivered, the detail or the
reason it failed, and the run it reports on, if any. The console reads it through
:meth:`NotificationStore.recent`.

Imports nothing else of ours beyond this package. All datetimes are time-zone aware (UTC).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import Boolean, Engine, String, Table, Text, select
from sqlalchemy.orm import Mapped, mapped_column, sessionmaker

from .schema import Base, IdType, UTCDateTime
from .store import EngineStore

__all__ = ["NotificationRecord", "NotificationRow", "NotificationStore"]

_CHANNEL_MAX = 32
_TITLE_MAX = 500


class NotificationRow(Base):
    __tablename__ = "notification_log"

    id: Mapped[int] = mapped_column(IdType, primary_key=True, autoincrement=True)
    sent_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
    channel: Mapped[str] = mapped_column(String(_CHANNEL_MAX))
    target: Mapped[str] = mapped_column(Text)  # masked: never a token, key or password
    title: Mapped[str] = mapped_column(String(_TITLE_MAX))
    ok: Mapped[bool] = mapped_column(Boolean)
    detail: Mapped[str | None] = mapped_column(Text)
    # No foreign key: a notification may outlive (or precede the storing of) the run it reports.
    run_id: Mapped[int | None] = mapped_column(IdType, index=True)


@dataclass(frozen=True, slots=True)
class NotificationRecord:
    id: int
    sent_at: datetime
    channel: str
    target: str
    title: str
    ok: bool
    detail: str | None
    run_id: int | None


def _record(row: NotificationRow) -> NotificationRecord:
    return NotificationRecord(row.id, row.sent_at, row.channel, row.target, row.title, row.ok,
                              row.detail, row.run_id)


class NotificationStore(EngineStore):
    """The notification log on SQLite or PostgreSQL: :meth:`record` and :meth:`recent`."""

    def __init__(self, engine_or_url: Engine | str | None = None) -> None:
        self._open_engine(engine_or_url)
        self._sessions = sessionmaker(self.engine, expire_on_commit=False)
        table = NotificationRow.__table__
        assert isinstance(table, Table)
        Base.metadata.create_all(self.engine, tables=[table])  # normally there already (migration v0004)

    def record(self, *, channel: str, target: str, title: str, ok: bool, detail: str | None = None,
               run_id: int | None = None, sent_at: datetime | None = None) -> NotificationRecord:
        """Add one entry (``sent_at`` defaults to now, UTC); returns it as stored."""
        when = datetime.now(UTC) if sent_at is None else sent_at
        if when.tzinfo is None or when.utcoffset() is None:
            raise ValueError(f"naive datetime refused: {when!r}")
        row = NotificationRow(sent_at=when.astimezone(UTC), channel=channel[:_CHANNEL_MAX], target=target,
                              title=title[:_TITLE_MAX], ok=bool(ok), detail=detail, run_id=run_id)
        with self._sessions.begin() as session:
            session.add(row)
            session.flush()
            return _record(row)

    def recent(self, limit: int = 50) -> list[NotificationRecord]:
        """The latest ``limit`` entries, newest first."""
        if limit <= 0:
            return []
        stmt = select(NotificationRow).order_by(NotificationRow.id.desc()).limit(limit)
        with self._sessions() as session:
            return [_record(r) for r in session.scalars(stmt)]
