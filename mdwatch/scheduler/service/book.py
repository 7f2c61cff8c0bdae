"""Schedules as stored: add, list, pause, resume and remove them without running any.

A schedule is an APScheduler job (table ``apscheduler_jobs``) whose function is ``run_job``,
referenced by name, and whose arguments are an ``mdwatch`` command line (``["sweep", "demo"]``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select

from mdwatch.scheduler.service.cron import make_trigger
from mdwatch.scheduler.service.errors import ScheduleError
from mdwatch.scheduler.service.jobstore import DEFAULT_MISFIRE_GRACE, _job_defaults, _job_store, open_engine
from mdwatch.scheduler.service.locks import LockHolder, current_locks
from mdwatch.scheduler.service.timezones import resolve_tz
from mdwatch.storage.schedule_tables import ScheduleRun

# Stored in every job row: it must stay importable under this name for the schedules already saved.
JOB_FUNC = "mdwatch.scheduler.service:run_job"


@dataclass(frozen=True, slots=True)
class ScheduleInfo:
    name: str
    plan: str
    next_run_time: datetime | None
    paused: bool
    running: LockHolder | None
    args: list[str]

    @property
    def state(self) -> str:
        if self.running is not None:
            return "运行中"
        return "已暂停" if self.paused else "等待中"

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name, "plan": self.plan, "args": self.args, "paused": self.paused,
            "next_run_time": self.next_run_time.isoformat() if self.next_run_time else None,
            "running": None if self.running is None else
            {"pid": self.running.pid, "host": self.running.host,
             "started_at": self.running.started_at.isoformat()},
            "state": self.state,
        }


def _info(job: Any, locks: dict[str, LockHolder]) -> ScheduleInfo:
    kwargs = dict(job.kwargs)
    return ScheduleInfo(name=job.id, plan=str(kwargs.get("plan") or job.trigger),
                        next_run_time=job.next_run_time, paused=job.next_run_time is None,
                        running=locks.get(job.id), args=list(kwargs.get("args") or []))



class ScheduleBook:
    """Schedules in the database, edited through APScheduler's job store without running them."""

    def __init__(self, db_url: str | None = None, tz: str | None = None) -> None:
        from apscheduler.schedulers.background import BackgroundScheduler

        self.tz = resolve_tz(tz)
        self.engine, self.db_url = open_engine(db_url)
        # Never started: it only gives jobs their scheduler reference and time zone.
        self._scheduler = BackgroundScheduler(timezone=self.tz)
        self._store = _job_store(self.engine)
        self._store.start(self._scheduler, "default")

    def close(self) -> None:
        self.engine.dispose()

    def __enter__(self) -> ScheduleBook:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def add(self, name: str, args: Sequence[str], *, cron: str | None = None, every: int | None = None,
            tz: str | None = None, misfire_grace: int | None = DEFAULT_MISFIRE_GRACE,
            replace: bool = False) -> ScheduleInfo:
        from apscheduler.job import Job
        from apscheduler.jobstores.base import ConflictingIdError

        name = name.strip()
        if not name or len(name) > 191:
            raise ScheduleError("计划名称不能为空，且不超过 191 个字符。")
        if not args:
            raise ScheduleError("请在 -- 之后给出要运行的 mdwatch 命令，如：-- sweep demo")
        if list(args[:2]) == ["scheduler", "run"]:
            raise ScheduleError("不能把 scheduler run 作为计划任务。")
        trigger, plan = make_trigger(cron, every, resolve_tz(tz) if tz else self.tz)
        job = Job(self._scheduler, id=name, func=JOB_FUNC, trigger=trigger, executor="default", args=(),
                  kwargs={"name": name, "args": list(args), "plan": plan}, name=name,
                  next_run_time=trigger.get_next_fire_time(None, datetime.now(self.tz)),
                  **_job_defaults(misfire_grace))
        try:
            self._store.add_job(job)
        except ConflictingIdError as exc:
            if not replace:
                raise ScheduleError(f"计划 {name} 已存在（用 --replace 替换）。") from exc
            self._store.update_job(job)
        return _info(job, current_locks(self.engine, live_only=True))

    def _job(self, name: str) -> Any:
        job = self._store.lookup_job(name)
        if job is None:
            raise ScheduleError(f"没有名为 {name} 的计划。")
        return job

    def get(self, name: str) -> ScheduleInfo:
        return _info(self._job(name), current_locks(self.engine, live_only=True))

    def schedules(self) -> list[ScheduleInfo]:
        locks = current_locks(self.engine, live_only=True)
        return sorted((_info(job, locks) for job in self._store.get_all_jobs()), key=lambda i: i.name)

    def pause(self, name: str) -> ScheduleInfo:
        job = self._job(name)
        job._modify(next_run_time=None)
        self._store.update_job(job)
        return self.get(name)

    def resume(self, name: str) -> ScheduleInfo:
        job = self._job(name)
        next_run = job.trigger.get_next_fire_time(None, datetime.now(self.tz))
        if next_run is None:  # a trigger with no further run: nothing to resume
            raise ScheduleError(f"计划 {name} 已没有后续运行时间。")
        job._modify(next_run_time=next_run)
        self._store.update_job(job)
        return self.get(name)

    def remove(self, name: str) -> None:
        from apscheduler.jobstores.base import JobLookupError

        try:
            self._store.remove_job(name)
        except JobLookupError as exc:
            raise ScheduleError(f"没有名为 {name} 的计划。") from exc

    def runs(self, name: str | None = None, limit: int = 20) -> list[ScheduleRun]:
        query = select(ScheduleRun).order_by(ScheduleRun.started_at.desc(), ScheduleRun.id.desc()).limit(limit)
        if name is not None:
            query = query.where(ScheduleRun.name == name)
        from sqlalchemy.orm import Session

        with Session(self.engine, expire_on_commit=False) as session:
            return list(session.scalars(query))


def add_schedule(db_url: str | None, name: str, args: Sequence[str], *, cron: str | None = None,
                 every: int | None = None, tz: str | None = None, replace: bool = False) -> ScheduleInfo:
    """Add (or with ``replace``, replace) a schedule: the API for other commands (``campaign create --cron``)."""
    with ScheduleBook(db_url, tz) as book:
        return book.add(name, args, cron=cron, every=every, replace=replace)
