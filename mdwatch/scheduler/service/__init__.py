"""Scheduled jobs: APScheduler 3.x with its job store in mdwatch's own database.

Scrapyd's split:

* **enqueue** — :class:`ScheduleBook` (:mod:`.book`) adds, lists, pauses, resumes and removes
  schedules. A schedule is an APScheduler job (table ``apscheduler_jobs``, :mod:`.jobstore`) whose
  function is :func:`run_job`, referenced by name, and whose arguments are an ``mdwatch`` command
  line (``["sweep", "demo"]``); its trigger comes from :mod:`.cron`.
* **poll** — :func:`serve` (``mdwatch scheduler run``, :mod:`.service`) runs a
  ``BackgroundScheduler`` over that store (coalesce, ``max_instances=1``, a misfire grace time)
  and wakes it every few seconds so that schedules added or changed by other processes are seen.
* **launch** — :class:`JobRunner` (:mod:`.runner`) runs each due job as
  ``python -m mdwatch.scheduler.cli ARGS`` in its own process (own session, output to a log file)
  and waits for it; the long-lived scheduler holds no crawl state.

Never two runs of one schedule at once, across scheduler restarts and concurrent schedulers: a
``schedule_locks`` row per name is inserted atomically before launching (:mod:`.locks`). The child
is started behind a gate (it waits for ``go`` on stdin, then ``exec``\\ s the CLI, keeping its pid);
the lock is handed to the child's pid before the gate opens, so a scheduler killed at any point
leaves either a locked running child or a child that exits without running. A lock whose pid is no
longer alive on this host (or was reused by a newer process, :mod:`.processes`) is stale and broken
by the next scheduler, which then records the orphaned run as ended.

``run_job`` must stay importable from this package: stored jobs name it as ``JOB_FUNC``.
"""

from __future__ import annotations

from mdwatch.scheduler.service.book import JOB_FUNC, ScheduleBook, ScheduleInfo, add_schedule
from mdwatch.scheduler.service.cron import _dow_to_apscheduler as _dow_to_apscheduler  # for tests
from mdwatch.scheduler.service.cron import make_trigger, parse_cron
from mdwatch.scheduler.service.errors import ScheduleError
from mdwatch.scheduler.service.jobstore import DEFAULT_MISFIRE_GRACE, JOBS_TABLE, open_engine
from mdwatch.scheduler.service.locks import (
    LockHolder,
    acquire_lock,
    break_stale_locks,
    current_locks,
    hand_lock,
    release_lock,
)
from mdwatch.scheduler.service.processes import pid_alive, process_started_at, this_host
from mdwatch.scheduler.service.runner import GATE_EXIT, Echo, JobRunner
from mdwatch.scheduler.service.service import ServeOptions, run_job, serve
from mdwatch.scheduler.service.timezones import DEFAULT_TZ, ENV_TZ, resolve_tz
from mdwatch.scheduler.service.timezones import _fmt_time as _fmt_time  # for schedule_cli

__all__ = [
    "DEFAULT_MISFIRE_GRACE",
    "DEFAULT_TZ",
    "ENV_TZ",
    "GATE_EXIT",
    "JOBS_TABLE",
    "JOB_FUNC",
    "Echo",
    "JobRunner",
    "LockHolder",
    "ScheduleBook",
    "ScheduleError",
    "ScheduleInfo",
    "ServeOptions",
    "acquire_lock",
    "add_schedule",
    "break_stale_locks",
    "current_locks",
    "hand_lock",
    "make_trigger",
    "open_engine",
    "parse_cron",
    "pid_alive",
    "process_started_at",
    "release_lock",
    "resolve_tz",
    "run_job",
    "serve",
    "this_host",
]
