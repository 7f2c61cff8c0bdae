"""Tables of the scheduler: ``schedule_runs`` (one row per launched job) and ``schedule_locks``.

The job definitions themselves live in APScheduler's own table (``apscheduler_jobs``, same
database). ``schedule_locks`` holds at most one row per schedule name: the row is inserted (a
primary-key insert, atomic on SQLite and PostgreSQL) before a job's process is let go, carries the
pid of that process and is deleted when it ends; a row whose process is no longer alive on its host
is stale and may be broken. ``schedule_runs`` records each launch: start, end, exit status, pid,
host and log file; ``status`` is ``running``, ``finished`` or ``orphaned`` (its scheduler died and
the end was noticed only later, ``finished_at`` then being an upper bound).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Engine, Integer, String, Text
from sqlalchemy.exc import IntegrityError, ProgrammingError
from sqlalchemy.orm import Mapped, mapped_column

from .schema import Base, IdType, UTCDateTime

__all__ = ["RUN_STATUSES", "ScheduleLock", "ScheduleRun", "create_schedule_tables"]

RUN_STATUSES = ("running", "finished", "orphaned")


class ScheduleRun(Base):
    """One launch of a scheduled job."""

    __tablename__ = "schedule_runs"

    id: Mapped[int] = mapped_column(IdType, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(191), index=True)
    started_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    exit_code: Mapped[int | None] = mapped_column(Integer)
    pid: Mapped[int] = mapped_column(Integer)
    host: Mapped[str] = mapped_column(String(255))
    status: Mapped[str] = mapped_column(String(16))
    command: Mapped[str] = mapped_column(Text)
    log_path: Mapped[str | None] = mapped_column(Text)


class ScheduleLock(Base):
    """The lock of a schedule while one of its runs is alive (at most one row per name)."""

    __tablename__ = "schedule_locks"

    name: Mapped[str] = mapped_column(String(191), primary_key=True)
    pid: Mapped[int] = mapped_column(Integer)
    host: Mapped[str] = mapped_column(String(255))
    started_at: Mapped[datetime] = mapped_column(UTCDateTime())


def create_schedule_tables(engine: Engine) -> None:
    """Create ``schedule_runs`` and ``schedule_locks`` if absent."""
    tables = [ScheduleRun.__table__, ScheduleLock.__table__]
    try:
        Base.metadata.create_all(engine, tables=tables)  # type: ignore[arg-type]
    except (IntegrityError, ProgrammingError):  # another process created them at the same moment
        Base.metadata.create_all(engine, tables=tables)  # type: ignore[arg-type]
