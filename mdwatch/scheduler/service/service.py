"""``mdwatch scheduler run``: a ``BackgroundScheduler`` over the job store that launches due jobs.

Coalesce, ``max_instances=1`` and a misfire grace time; it is woken every few seconds so that
schedules added or changed by other processes are seen. The first SIGTERM/SIGINT stops launching
and waits for running jobs; a second leaves them running (they keep their locks).
"""

from __future__ import annotations

import logging
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import tzinfo
from pathlib import Path
from types import FrameType
from typing import Any

from sqlalchemy import Engine

from mdwatch.scheduler.service.jobstore import DEFAULT_MISFIRE_GRACE, _job_defaults, _job_store, open_engine
from mdwatch.scheduler.service.locks import break_stale_locks
from mdwatch.scheduler.service.runner import Echo, JobRunner
from mdwatch.scheduler.service.timezones import _fmt_time, resolve_tz
from mdwatch.storage.config import default_data_dir

SignalHandler = Callable[[int, FrameType | None], None]

# The runner of this process's ``serve``: stored jobs name ``run_job`` by reference, so it cannot
# be handed to them as an argument.
_RUNNER: JobRunner | None = None


def run_job(name: str, args: list[str], plan: str = "") -> int | None:
    """The function every stored job names (by reference): launch ``mdwatch ARGS`` and wait."""
    if _RUNNER is None:
        raise RuntimeError("run_job runs only inside `mdwatch scheduler run`")
    return _RUNNER.run(name, args)


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
def _signals(handler: SignalHandler) -> Iterator[None]:
    previous = {sig: signal.signal(sig, handler) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        yield
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)


def _apscheduler_log_to_stderr() -> tuple[logging.Logger, logging.Handler]:
    """Send APScheduler's warnings to stderr (in a Chinese frame); returns its logger and the handler to remove."""
    aps_log = logging.getLogger("apscheduler")
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("调度器（APScheduler）：%(message)s"))
    handler.addFilter(_QuietApscheduler())
    handler.setLevel(logging.WARNING)
    aps_log.addHandler(handler)
    aps_log.propagate = False
    return aps_log, handler


def _make_scheduler(engine: Engine, max_workers: int, tz: tzinfo) -> Any:
    from apscheduler.executors.pool import ThreadPoolExecutor
    from apscheduler.schedulers.background import BackgroundScheduler
    from apscheduler.schedulers.base import STATE_STOPPED

    class Scheduler(BackgroundScheduler):
        def _process_jobs(self) -> float | None:
            if self.state == STATE_STOPPED:  # the loop's last pass after shutdown: launch nothing
                return None
            wait: float | None = super()._process_jobs()
            return wait

    return Scheduler(jobstores={"default": _job_store(engine)},
                     executors={"default": ThreadPoolExecutor(max_workers)},
                     job_defaults=_job_defaults(DEFAULT_MISFIRE_GRACE), timezone=tz)


def _listen(scheduler: Any, runner: JobRunner, tz: tzinfo) -> None:
    """Report missed, skipped and failed runs in Chinese (APScheduler's own warnings are filtered)."""
    from apscheduler.events import EVENT_JOB_ERROR, EVENT_JOB_MAX_INSTANCES, EVENT_JOB_MISSED

    def on_event(event: Any) -> None:
        if event.code == EVENT_JOB_MISSED:
            runner.say(f"错过 {event.job_id} 的运行（计划时间 {_fmt_time(event.scheduled_run_time, tz)}，"
                       "已超过补跑宽限时间）。")
        elif event.code == EVENT_JOB_MAX_INSTANCES:
            runner.note_skip(event.job_id)
        elif event.code == EVENT_JOB_ERROR:
            runner.say(f"计划 {event.job_id} 出错：{event.exception}")

    scheduler.add_listener(on_event, EVENT_JOB_MISSED | EVENT_JOB_MAX_INSTANCES | EVENT_JOB_ERROR)


def _stop_handler(stop: threading.Event, leave: threading.Event) -> SignalHandler:
    """The first signal sets ``stop``; any further one also sets ``leave``."""
    signals_seen = 0

    def on_signal(signum: int, frame: FrameType | None) -> None:
        nonlocal signals_seen
        signals_seen += 1
        stop.set()
        if signals_seen > 1:
            leave.set()

    return on_signal


def _run_until_stopped(scheduler: Any, runner: JobRunner, options: ServeOptions, stop: threading.Event,
                       tz: tzinfo, log_dir: Path) -> None:
    scheduler.start()
    count = len(scheduler.get_jobs())
    runner.say(f"调度器已启动：{count} 个计划，时区 {tz}，日志目录 {log_dir}。按 Ctrl-C 或发送 SIGTERM 停止。")
    while not stop.wait(options.poll_seconds):
        scheduler.wakeup()  # see schedules changed by other processes
    runner.say("正在停止：不再启动新的任务。")
    scheduler.pause()
    scheduler.shutdown(wait=False)
    _wait_for_children(runner, options.stop_timeout)


def serve(options: ServeOptions, echo: Echo) -> int:
    """``mdwatch scheduler run``: run due jobs until SIGTERM/SIGINT; 0 after a clean shutdown."""
    global _RUNNER
    tz = resolve_tz(options.tz)
    engine, url = open_engine(options.db_url)
    log_dir = (options.log_dir or default_data_dir() / "schedule-logs").absolute()
    runner = JobRunner(engine=engine, db_url=url, log_dir=log_dir, echo=echo, tz=tz)
    aps_log, handler = _apscheduler_log_to_stderr()

    for holder in break_stale_locks(engine, runner.host):
        runner.say(f"解除失效的锁：{holder.name}（进程 {holder.pid} 已不在运行）。")
    scheduler = _make_scheduler(engine, options.max_workers, tz)
    _listen(scheduler, runner, tz)
    stop = threading.Event()
    on_signal = _stop_handler(stop, runner.leave)

    _RUNNER = runner
    try:
        with _signals(on_signal):
            _run_until_stopped(scheduler, runner, options, stop, tz, log_dir)
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
