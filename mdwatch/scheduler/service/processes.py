"""Processes on this host: is a pid alive, and is it still the process that took a lock."""

from __future__ import annotations

import os
import socket
from datetime import UTC, datetime, timedelta
from pathlib import Path


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
