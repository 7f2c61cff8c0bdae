"""Scheduled jobs: APScheduler 3.x with its job store in mdwatch's own database.

Scrapyd's split, in one module:

* **enqueue** — :class:`ScheduleBook` adds, lists, pauses, resumes and removes schedules. A
  schedule is an APScheduler job (table ``apscheduler_jobs``) whose function is :func:`run_job`,
  referenced by name, and whose arguments are an ``mdwatch`` command line (``["sweep", "demo"]``).
* **poll** — :func:`serve` (``mdwatch scheduler run``) runs a ``BackgroundScheduler`` over that
  store (coalesce, ``max_instances=1``, a misfire grace time) and wakes it every few seconds so
  that schedules added or changed by other processes are seen.
* **launch** — :class:`JobRunner` runs each due job as ``python -m mdwatch.scheduler.cli ARGS`` in
  its own process (own session, output to a log file) and waits for it; the long-lived scheduler
  holds no crawl state.

Never two runs of one schedule at once, across scheduler restarts and concurrent schedulers: a
``schedule_locks`` row per name is inserted atomically before launching. The child is started
behind a gate (it waits for ``go`` on stdin, then ``exec``\\ s the CLI, keeping its pid); the lock is
handed to the child's pid before the gate opens, so a scheduler killed at any point leaves either
a locked running child or a child that exits without running. A lock whose pid is no longer alive
on this host (or was reused by a newer process) is stale and broken by the next scheduler, which
then records the orphaned run as ended.
"""

from __future__ import annotations

import logging
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, tzinfo
from pathlib import Path
from types import FrameType
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import Engine, delete, insert, select, update
from sqlalchemy.exc import IntegrityError, ProgrammingError

from mdwatch.storage.config import default_data_dir, default_db_url, normalize_db_url
from mdwatch.storage.schedule_tables import ScheduleLock, ScheduleRun, create_schedule_tables

__all__ = [
    "DEFAULT_MISFIRE_GRACE",
    "DEFAULT_TZ",
    "JOB_FUNC",
    "JobRunner",
    "LockHolder",
    "ScheduleBook",
    "ScheduleError",
    "ScheduleInfo",
    "ServeOptions",
    "acquire_lock",
    "add_schedule",
    "break_stale_locks",
    "make_trigger",
    "parse_cron",
    "pid_alive",
    "release_lock",
    "run_job",
    "serve",
]

DEFAULT_TZ = "Asia/Shanghai"
ENV_TZ = "MDWATCH_TZ"
DEFAULT_MISFIRE_GRACE = 3600
JOBS_TABLE = "apscheduler_jobs"
JOB_FUNC = "mdwatch.scheduler.schedules:run_job"
GATE_EXIT = 75
# The child's first process: wait for the go-ahead, then become the CLI (exec keeps the pid).
_GATE = (
    "import os, sys\n"
    "if sys.stdin.readline() != 'go\\n':\n"
    f"    sys.exit({GATE_EXIT})\n"
    "os.execv(sys.executable, [sys.executable, '-m', 'mdwatch.scheduler.cli', *sys.argv[1:]])\n"
)
_WEEKDAYS = ("sun", "mon", "tue", "wed", "thu", "fri", "sat")

Echo = Callable[[str], None]


class ScheduleError(Exception):
    """A schedule operation that cannot be done; the message is a Chinese sentence for the user."""


# ------------------------------------------------------------------------------------ time zone


def resolve_tz(name: str | None = None) -> ZoneInfo:
    """``name``, else ``$MDWATCH_TZ``, else Asia/Shanghai."""
    key = (name or os.environ.get(ENV_TZ, "").strip() or DEFAULT_TZ).strip()
    try:
        return ZoneInfo(key)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ScheduleError(f"未知的时区：{key}") from exc


def _fmt_time(value: datetime | None, tz: tzinfo) -> str:
    if value is None:
        return "—"
    return value.astimezone(tz).strftime("%Y-%m-%d %H:%M:%S")


# -------------------------------------------------------------------------------------- triggers


def _dow_to_apscheduler(field_: str) -> str:
    """A crontab day-of-week field (0/7 = Sunday) as APScheduler 3.x names (its 0 is Monday)."""
    if field_ == "*":
        return "*"
    names = {name: i for i, name in enumerate(_WEEKDAYS)}
    days: set[int] = set()

    def day(token: str) -> int:
        token = token.lower()
        if token in names:
            return names[token]
        if token.isdigit() and 0 <= int(token) <= 7:
            return int(token) % 7
        raise ScheduleError(f"无效的星期字段：{field_}")

    for part in field_.split(","):
        base, _, step_s = part.partition("/")
        step = int(step_s) if step_s.isdigit() and int(step_s) > 0 else None
        if step_s and step is None:
            raise ScheduleError(f"无效的星期字段：{field_}")
        if base == "*":
            first, last = 0, 6
        elif "-" in base:
            a, b = base.split("-", 1)
            first, last = day(a), int(b) if b == "7" else day(b)
        else:
            first = last = day(base)
            if step:
                last = 6
        if last < first:
            raise ScheduleError(f"无效的星期字段：{field_}")
        days.update(d % 7 for d in range(first, last + 1, step or 1))
    return ",".join(_WEEKDAYS[d] for d in sorted(days))


def parse_cron(expr: str, tz: tzinfo) -> Any:
    """A ``CronTrigger`` from a crontab expression.

    Five fields (minute hour day month day-of-week) as in crontab, or six with seconds first
    (second minute hour day month day-of-week). Day of week follows crontab (0 or 7 = Sunday).
    """
    from apscheduler.triggers.cron import CronTrigger

    fields = expr.split()
    if len(fields) == 5:
        fields = ["0", *fields]
    if len(fields) != 6:
        raise ScheduleError(f"cron 表达式应有 5 个字段（分 时 日 月 周）或 6 个字段（秒 分 时 日 月 周）：{expr}")
    second, minute, hour, day, month, dow = fields
    try:
        return CronTrigger(second=second, minute=minute, hour=hour, day=day, month=month,
                           day_of_week=_dow_to_apscheduler(dow), timezone=tz)
    except ValueError as exc:
        raise ScheduleError(f"无效的 cron 表达式：{expr}（{exc}）") from exc


def make_trigger(cron: str | None, every: int | None, tz: tzinfo) -> tuple[Any, str]:
    """The trigger and its plan as shown to users (``cron：0 2 * * *（Asia/Shanghai）``)."""
    if (cron is None) == (every is None):
        raise ScheduleError("请给出 --cron 或 --every 之一。")
    if cron is not None:
        return parse_cron(cron, tz), f"cron：{' '.join(cron.split())}（{tz}）"
    from apscheduler.triggers.interval import IntervalTrigger

    assert every is not None
    if every < 1:
        raise ScheduleError("--every 至少为 1 秒。")
    return IntervalTrigger(seconds=every, timezone=tz), f"每 {every} 秒"


# ------------------------------------------------------------------------------------ processes


def _boot_time() -> float | None:
    try:
        for line in Path("/proc/stat").read_text().splitlines():
            if line.startswith("btime "):
                return float(line.split()[1])
    except OSError:
        return None
    return None


def process_started_at(pid: int) -> datetime | None:
    """When process ``pid`` started (Linux ``/proc``), or None when unknown."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
        boot = _boot_time()
        if boot is None:
            return None
        ticks = int(stat.rsplit(")", 1)[1].split()[19])
        return datetime.fromtimestamp(boot + ticks / os.sysconf("SC_CLK_TCK"), UTC)
    except (OSError, ValueError, IndexError):
        return None


def pid_alive(pid: int, started_before: datetime | None = None) -> bool:
    """True if process ``pid`` runs on this host (not a zombie).

    With ``started_before``, a process that started later than that (plus two seconds of clock
    granularity) is a reused pid and counts as not alive.
    """
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        if state in ("Z", "X"):
            return False
    except (OSError, IndexError):
        pass
    if started_before is not None:
        started = process_started_at(pid)
        if started is not None and started > started_before + timedelta(seconds=2):
            return False
    return True


def this_host() -> str:
    return socket.gethostname()


# ------------------------------------------------------------------------------------------ locks


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


# ---------------------------------------------------------------------------------- the job store


def _job_store(engine: Engine) -> Any:
    from apscheduler.jobstores.base import JobLookupError
    from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore

    class MdwatchJobStore(SQLAlchemyJobStore):
        """Tolerates a job removed by another process while the scheduler was updating it."""

        def update_job(self, job: Any) -> None:
            try:
                super().update_job(job)
            except JobLookupError:
                logging.getLogger(__name__).info("job %s was removed meanwhile", job.id)

        def start(self, scheduler: Any, alias: str) -> None:
            try:
                super().start(scheduler, alias)
            except (IntegrityError, ProgrammingError):  # created by another process at the same moment
                super().start(scheduler, alias)

        def shutdown(self) -> None:  # the engine belongs to the caller
            pass

    return MdwatchJobStore(engine=engine, tablename=JOBS_TABLE)


def open_engine(db_url: str | None) -> tuple[Engine, str]:
    """An engine on mdwatch's database with the scheduler's tables; and the resolved URL."""
    from mdwatch.storage.store import create_store_engine

    url = normalize_db_url(db_url) if db_url else default_db_url()
    engine = create_store_engine(url)
    create_schedule_tables(engine)
    return engine, url


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


def _job_defaults(misfire_grace: int | None) -> dict[str, Any]:
    return {"coalesce": True, "max_instances": 1, "misfire_grace_time": misfire_grace}


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


# ------------------------------------------------------------------------------------ the launcher


@dataclass
class JobRunner:
    """Launches jobs in their own processes and records them; one per ``scheduler run``."""

    engine: Engine
    db_url: str
    log_dir: Path
    echo: Echo
    tz: tzinfo
    host: str = field(default_factory=this_host)
    leave: threading.Event = field(default_factory=threading.Event)
    active: dict[str, int] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _skip_noted: set[str] = field(default_factory=set)

    def say(self, message: str) -> None:
        self.echo(f"[{_fmt_time(datetime.now(UTC), self.tz)}] {message}")

    def note_skip(self, name: str, detail: str = "") -> None:
        """Say once per blocking run that a due run of ``name`` is skipped (it recurs every tick)."""
        with self._lock:
            if name in self._skip_noted:
                return
            self._skip_noted.add(name)
        self.say(f"跳过 {name}：上一次运行仍在进行{detail}；在它结束前到期的运行均跳过。")

    def _env(self) -> dict[str, str]:
        env = dict(os.environ)
        env["MDWATCH_DB_URL"] = self.db_url
        env.setdefault("PYTHONIOENCODING", "utf-8")
        return env

    def run(self, name: str, args: Sequence[str]) -> int | None:
        """Run one job to its end; its exit status, or None when skipped or left running."""
        me = os.getpid()
        holder = acquire_lock(self.engine, name, me, self.host)
        if holder is not None:
            self.note_skip(name, f"（主机 {holder.host}，进程 {holder.pid}，开始于 {_fmt_time(holder.started_at, self.tz)}）")
            return None
        with self._lock:
            self.active[name] = me
            self._skip_noted.discard(name)
        try:
            return self._launch(name, list(args), me)
        finally:
            with self._lock:
                self.active.pop(name, None)

    def _launch(self, name: str, args: list[str], me: int) -> int | None:
        started = datetime.now(UTC)
        command = "mdwatch " + subprocess.list2cmdline(args)
        log_path = self.log_dir / _safe_filename(name) / f"{started.strftime('%Y%m%dT%H%M%S.%fZ')}.log"
        try:
            log_path.parent.mkdir(parents=True, exist_ok=True)
            with open(log_path, "ab") as log:
                proc = subprocess.Popen([sys.executable, "-c", _GATE, *args], stdin=subprocess.PIPE,
                                        stdout=log, stderr=subprocess.STDOUT, env=self._env(),
                                        start_new_session=True, cwd=os.getcwd())
        except OSError as exc:
            release_lock(self.engine, name, me, self.host)
            self.say(f"无法启动 {name}：{exc}")
            return None
        assert proc.stdin is not None
        try:
            if not hand_lock(self.engine, name, me, proc.pid, self.host):
                raise ScheduleError(f"计划 {name} 的锁已丢失。")
            with self.engine.begin() as conn:
                run_id = conn.execute(insert(ScheduleRun).values(
                    name=name, started_at=started, finished_at=None, exit_code=None, pid=proc.pid,
                    host=self.host, status="running", command=command, log_path=str(log_path),
                ).returning(ScheduleRun.id)).scalar_one()
            proc.stdin.write(b"go\n")
            proc.stdin.close()
        except Exception as exc:
            proc.stdin.close()  # the gate exits without running
            proc.wait()
            release_lock(self.engine, name, proc.pid, self.host)
            release_lock(self.engine, name, me, self.host)
            self.say(f"无法启动 {name}：{exc}")
            return None
        self.say(f"开始运行 {name}（进程 {proc.pid}）：{command}")
        while True:
            try:
                code = proc.wait(timeout=0.3)
                break
            except subprocess.TimeoutExpired:
                if self.leave.is_set():
                    self.say(f"{name} 仍在运行（进程 {proc.pid}），保留其锁，调度器先行退出。")
                    return None
        finished = datetime.now(UTC)
        with self.engine.begin() as conn:
            conn.execute(update(ScheduleRun).where(ScheduleRun.id == run_id)
                         .values(finished_at=finished, exit_code=code, status="finished"))
            conn.execute(delete(ScheduleLock).where(ScheduleLock.name == name, ScheduleLock.pid == proc.pid,
                                                    ScheduleLock.host == self.host))
        seconds = (finished - started).total_seconds()
        self.say(f"{name} 结束：退出码 {code}，用时 {seconds:.1f} 秒。日志：{log_path}")
        return code


def _safe_filename(name: str) -> str:
    return re.sub(r"[^\w.-]+", "_", name).strip("._") or "job"


_RUNNER: JobRunner | None = None


def run_job(name: str, args: list[str], plan: str = "") -> int | None:
    """The function every stored job names (by reference): launch ``mdwatch ARGS`` and wait."""
    if _RUNNER is None:
        raise RuntimeError("run_job runs only inside `mdwatch scheduler run`")
    return _RUNNER.run(name, args)


# -------------------------------------------------------------------------------------- serving


@dataclass(frozen=True, slots=True)
class ServeOptions:
    db_url: str | None = None
    tz: str | None = None
    log_dir: Path | None = None
    max_workers: int = 8
    poll_seconds: float = 5.0
    stop_timeout: float | None = 10.0


class _QuietApscheduler(logging.Filter):
    """APScheduler's own warnings, minus those the scheduler reports itself in Chinese."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not record.name.startswith("apscheduler.executors") and "maximum number of running" not in str(
            record.msg)


@contextmanager
def _signals(handler: Callable[[int, FrameType | None], None]) -> Iterator[None]:
    previous = {sig: signal.signal(sig, handler) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        yield
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)


def serve(options: ServeOptions, echo: Echo) -> int:
    """``mdwatch scheduler run``: run due jobs until SIGTERM/SIGINT; 0 after a clean shutdown."""
    global _RUNNER
    from apscheduler.events import EVENT_JOB_ERROR, EVENT_JOB_MAX_INSTANCES, EVENT_JOB_MISSED
    from apscheduler.executors.pool import ThreadPoolExecutor
    from apscheduler.schedulers.background import BackgroundScheduler
    from apscheduler.schedulers.base import STATE_STOPPED

    tz = resolve_tz(options.tz)
    engine, url = open_engine(options.db_url)
    log_dir = (options.log_dir or default_data_dir() / "schedule-logs").absolute()
    runner = JobRunner(engine=engine, db_url=url, log_dir=log_dir, echo=echo, tz=tz)
    aps_log = logging.getLogger("apscheduler")
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("调度器（APScheduler）：%(message)s"))
    handler.addFilter(_QuietApscheduler())
    handler.setLevel(logging.WARNING)
    aps_log.addHandler(handler)
    aps_log.propagate = False

    for holder in break_stale_locks(engine, runner.host):
        runner.say(f"解除失效的锁：{holder.name}（进程 {holder.pid} 已不在运行）。")
    class Scheduler(BackgroundScheduler):
        def _process_jobs(self) -> float | None:
            if self.state == STATE_STOPPED:  # the loop's last pass after shutdown: launch nothing
                return None
            wait: float | None = super()._process_jobs()
            return wait

    scheduler = Scheduler(jobstores={"default": _job_store(engine)},
                                    executors={"default": ThreadPoolExecutor(options.max_workers)},
                                    job_defaults=_job_defaults(DEFAULT_MISFIRE_GRACE), timezone=tz)

    def on_event(event: Any) -> None:
        if event.code == EVENT_JOB_MISSED:
            runner.say(f"错过 {event.job_id} 的运行（计划时间 {_fmt_time(event.scheduled_run_time, tz)}，"
                       "已超过补跑宽限时间）。")
        elif event.code == EVENT_JOB_MAX_INSTANCES:
            runner.note_skip(event.job_id)
        elif event.code == EVENT_JOB_ERROR:
            runner.say(f"计划 {event.job_id} 出错：{event.exception}")

    scheduler.add_listener(on_event, EVENT_JOB_MISSED | EVENT_JOB_MAX_INSTANCES | EVENT_JOB_ERROR)
    stop = threading.Event()
    signals_seen = 0

    def on_signal(signum: int, frame: FrameType | None) -> None:
        nonlocal signals_seen
        signals_seen += 1
        stop.set()
        if signals_seen > 1:
            runner.leave.set()

    _RUNNER = runner
    try:
        with _signals(on_signal):
            scheduler.start()
            count = len(scheduler.get_jobs())
            runner.say(f"调度器已启动：{count} 个计划，时区 {tz}，日志目录 {log_dir}。按 Ctrl-C 或发送 SIGTERM 停止。")
            while not stop.wait(options.poll_seconds):
                scheduler.wakeup()  # see schedules changed by other processes
            runner.say("正在停止：不再启动新的任务。")
            scheduler.pause()
            scheduler.shutdown(wait=False)
            _wait_for_children(runner, options.stop_timeout)
    finally:
        _RUNNER = None
        aps_log.removeHandler(handler)
        engine.dispose()
    runner.say("调度器已停止。")
    return 0


def _wait_for_children(runner: JobRunner, timeout: float | None) -> None:
    with runner._lock:
        running = dict(runner.active)
    if running:
        limit = "" if timeout is None else f"最多 {timeout:g} 秒"
        runner.say(f"等待 {len(running)} 个运行中的任务结束{limit}（再按一次 Ctrl-C 则保留任务、立即退出）：{'、'.join(running)}")
    deadline = None if timeout is None else time.monotonic() + timeout
    while runner.active and not runner.leave.is_set():
        if deadline is not None and time.monotonic() >= deadline:
            break
        time.sleep(0.1)
    if runner.active:
        runner.leave.set()
        end = time.monotonic() + 5
        while runner.active and time.monotonic() < end:
            time.sleep(0.05)
