"""The launcher: each due job runs as ``python -m mdwatch.scheduler.cli ARGS`` in its own process.

The child runs in its own session with its output in a log file, and the runner waits for it; the
long-lived scheduler holds no crawl state. The child is started behind a gate (it waits for ``go``
on stdin, then ``exec``\\ s the CLI, keeping its pid); the lock is handed to the child's pid before
the gate opens, so a scheduler killed at any point leaves either a locked running child or a child
that exits without running.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, tzinfo
from pathlib import Path

from sqlalchemy import Engine, delete, insert, update

from mdwatch.scheduler.service.errors import ScheduleError
from mdwatch.scheduler.service.locks import acquire_lock, hand_lock, release_lock
from mdwatch.scheduler.service.processes import this_host
from mdwatch.scheduler.service.timezones import _fmt_time
from mdwatch.storage.schedule_tables import ScheduleLock, ScheduleRun

GATE_EXIT = 75
# The child's first process: wait for the go-ahead, then become the CLI (exec keeps the pid).
_GATE = (
    "import os, sys\n"
    "if sys.stdin.readline() != 'go\\n':\n"
    f"    sys.exit({GATE_EXIT})\n"
    "os.execv(sys.executable, [sys.executable, '-m', 'mdwatch.scheduler.cli', *sys.argv[1:]])\n"
)

Echo = Callable[[str], None]


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
        """Start the gated child, hand it the lock ``me`` holds, let it run and record its end."""
        started = datetime.now(UTC)
        command = "mdwatch " + subprocess.list2cmdline(args)
        log_path = self.log_dir / _safe_filename(name) / f"{started.strftime('%Y%m%dT%H%M%S.%fZ')}.log"
        proc = self._spawn(name, args, me, log_path)
        if proc is None:
            return None
        run_id = self._open_gate(name, proc, me, started, command, log_path)
        if run_id is None:
            return None
        self.say(f"开始运行 {name}（进程 {proc.pid}）：{command}")
        code = self._wait(name, proc)
        if code is None:
            return None
        finished = datetime.now(UTC)
        self._record_end(name, proc.pid, run_id, finished, code)
        seconds = (finished - started).total_seconds()
        self.say(f"{name} 结束：退出码 {code}，用时 {seconds:.1f} 秒。日志：{log_path}")
        return code

    def _spawn(self, name: str, args: list[str], me: int, log_path: Path) -> subprocess.Popen[bytes] | None:
        """The child, waiting at its gate; None (lock released, said why) when it cannot be started."""
        try:
            log_path.parent.mkdir(parents=True, exist_ok=True)
            with open(log_path, "ab") as log:
                return subprocess.Popen([sys.executable, "-c", _GATE, *args], stdin=subprocess.PIPE,
                                        stdout=log, stderr=subprocess.STDOUT, env=self._env(),
                                        start_new_session=True, cwd=os.getcwd())
        except OSError as exc:
            release_lock(self.engine, name, me, self.host)
            self.say(f"无法启动 {name}：{exc}")
            return None

    def _open_gate(self, name: str, proc: subprocess.Popen[bytes], me: int, started: datetime, command: str,
                   log_path: Path) -> int | None:
        """Hand the lock to the child, record its run, then let it go: the run's id.

        None when any step fails: the gate is closed instead (the child exits without running) and
        both locks are released.
        """
        assert proc.stdin is not None
        try:
            if not hand_lock(self.engine, name, me, proc.pid, self.host):
                raise ScheduleError(f"计划 {name} 的锁已丢失。")
            with self.engine.begin() as conn:
                run_id: int = conn.execute(insert(ScheduleRun).values(
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
        return run_id

    def _wait(self, name: str, proc: subprocess.Popen[bytes]) -> int | None:
        """The child's exit status; None when the scheduler leaves first (the child keeps its lock)."""
        while True:
            try:
                return proc.wait(timeout=0.3)
            except subprocess.TimeoutExpired:
                if self.leave.is_set():
                    self.say(f"{name} 仍在运行（进程 {proc.pid}），保留其锁，调度器先行退出。")
                    return None

    def _record_end(self, name: str, pid: int, run_id: int, finished: datetime, code: int) -> None:
        with self.engine.begin() as conn:
            conn.execute(update(ScheduleRun).where(ScheduleRun.id == run_id)
                         .values(finished_at=finished, exit_code=code, status="finished"))
            conn.execute(delete(ScheduleLock).where(ScheduleLock.name == name, ScheduleLock.pid == pid,
                                                    ScheduleLock.host == self.host))


def _safe_filename(name: str) -> str:
    return re.sub(r"[^\w.-]+", "_", name).strip("._") or "job"
