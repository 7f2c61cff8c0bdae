"""Locks: never two runs of one schedule at once, across scheduler restarts and concurrent schedulers.

A ``schedule_locks`` row per name is inserted atomically before launching. A lock whose pid is no
longer alive on this host (or was reused by a newer process) is stale and broken by the next
scheduler, which then records the orphaned run as ended.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import Engine, delete, insert, select, update
from sqlalchemy.exc import IntegrityError

from mdwatch.scheduler.service.errors import ScheduleError
from mdwatch.scheduler.service.processes import pid_alive, this_host
from mdwatch.storage.schedule_tables import ScheduleLock, ScheduleRun


@dataclass(frozen=True, slots=True)
class LockHolder:
    name: str
    pid: int
    host: str
    started_at: datetime


def _lock_alive(holder: LockHolder, host: str) -> bool:
    """A lock of another host is presumed alive (its pid cannot be checked from here)."""
    return holder.host != host or pid_alive(holder.pid, started_before=holder.started_at)


def _break_lock(engine: Engine, holder: LockHolder, now: datetime) -> bool:
    """Delete exactly this (stale) lock row and end its open runs as orphaned."""
    with engine.begin() as conn:
        gone = conn.execute(
            delete(ScheduleLock).where(ScheduleLock.name == holder.name, ScheduleLock.pid == holder.pid,
                                       ScheduleLock.host == holder.host)
        ).rowcount
        conn.execute(
            update(ScheduleRun)
            .where(ScheduleRun.name == holder.name, ScheduleRun.pid == holder.pid,
                   ScheduleRun.host == holder.host, ScheduleRun.finished_at.is_(None))
            .values(finished_at=now, status="orphaned")
        )
    return bool(gone)


def acquire_lock(engine: Engine, name: str, pid: int, host: str | None = None) -> LockHolder | None:
    """Take the lock of ``name`` for ``pid``: None when taken, else the live holder.

    The insert is atomic (primary key); a stale holder is broken and the insert retried.
    """
    host = host or this_host()
    for _ in range(5):
        now = datetime.now(UTC)
        try:
            with engine.begin() as conn:
                conn.execute(insert(ScheduleLock).values(name=name, pid=pid, host=host, started_at=now))
            return None
        except IntegrityError:
            pass
        with engine.connect() as conn:
            row = conn.execute(select(ScheduleLock).where(ScheduleLock.name == name)).first()
        if row is None:
            continue
        holder = LockHolder(row.name, row.pid, row.host, row.started_at)
        if _lock_alive(holder, host):
            return holder
        _break_lock(engine, holder, now)
    raise ScheduleError(f"无法取得计划 {name} 的锁。")


def hand_lock(engine: Engine, name: str, from_pid: int, to_pid: int, host: str) -> bool:
    """Give a held lock to another process (the launched child)."""
    with engine.begin() as conn:
        return bool(conn.execute(
            update(ScheduleLock)
            .where(ScheduleLock.name == name, ScheduleLock.pid == from_pid, ScheduleLock.host == host)
            .values(pid=to_pid, started_at=datetime.now(UTC))
        ).rowcount)


def release_lock(engine: Engine, name: str, pid: int, host: str | None = None) -> bool:
    """Release the lock of ``name`` if ``pid`` on ``host`` holds it."""
    host = host or this_host()
    with engine.begin() as conn:
        return bool(conn.execute(
            delete(ScheduleLock).where(ScheduleLock.name == name, ScheduleLock.pid == pid,
                                       ScheduleLock.host == host)
        ).rowcount)


def break_stale_locks(engine: Engine, host: str | None = None) -> list[LockHolder]:
    """Break every stale lock of this host and end runs whose process is gone; returns the broken."""
    host = host or this_host()
    now = datetime.now(UTC)
    with engine.connect() as conn:
        locks = [LockHolder(r.name, r.pid, r.host, r.started_at)
                 for r in conn.execute(select(ScheduleLock).where(ScheduleLock.host == host))]
        open_runs = list(conn.execute(
            select(ScheduleRun.id, ScheduleRun.pid, ScheduleRun.started_at)
            .where(ScheduleRun.host == host, ScheduleRun.finished_at.is_(None))))
    broken = [h for h in locks if not _lock_alive(h, host) and _break_lock(engine, h, now)]
    locked_pids = {h.pid for h in locks if h not in broken}
    dead = [r.id for r in open_runs if r.pid not in locked_pids and not pid_alive(r.pid, r.started_at)]
    if dead:
        with engine.begin() as conn:
            conn.execute(update(ScheduleRun).where(ScheduleRun.id.in_(dead), ScheduleRun.finished_at.is_(None))
                         .values(finished_at=now, status="orphaned"))
    return broken


def current_locks(engine: Engine, live_only: bool = False) -> dict[str, LockHolder]:
    """The lock rows by name; with ``live_only``, without the stale ones (not yet broken)."""
    host = this_host()
    with engine.connect() as conn:
        locks = {r.name: LockHolder(r.name, r.pid, r.host, r.started_at) for r in conn.execute(select(ScheduleLock))}
    return {k: h for k, h in locks.items() if _lock_alive(h, host)} if live_only else locks

