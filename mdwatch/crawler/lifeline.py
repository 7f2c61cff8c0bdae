"""Child processes that end with their parent: ``kill -9`` of a sweep or a scan leaves no worker behind.

:func:`die_with_parent` is the first thing a child process does (the crawl process of
:func:`~mdwatch.crawler.fetch.fetch_pages`, a sweep's analysis workers, the OCR workers):

- on Linux the kernel sends the child SIGKILL when its parent ends (``prctl(PR_SET_PDEATHSIG)``,
  through ctypes). The kernel means the parent *thread* that created the child, which is why
  this is only armed where the child was created by a thread that lives as long as the child
  is wanted (the caller says so);
- everywhere, a daemon thread checks every :data:`POLL_S` that the parent is still the process
  the child was started by, and ends the child when it is not (reparented to init or a subreaper);
- a child whose parent is a helper rather than its owner watches its ``owner`` too: a worker of
  a ``forkserver`` pool is the forkserver's child, and the forkserver only ends once every one of
  its children has (each holds the forkserver's lifeline), so the worker watches the process that
  owns the pool (by pid and start time: a reused pid is not the owner).

A child that ends this way stops where it is (``os._exit``): what it committed stays committed,
nothing else is written. A Chromium started by Playwright needs none of this: its driver ends
with the pipe of the process that started it, and takes the browser with it.
"""

from __future__ import annotations

import ctypes
import os
import signal
import sys
import threading
import time

__all__ = ["POLL_S", "die_with_parent"]

POLL_S = 0.25
_PR_SET_PDEATHSIG = 1


def _arm_pdeathsig() -> bool:
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        return int(libc.prctl(_PR_SET_PDEATHSIG, int(signal.SIGKILL), 0, 0, 0)) == 0
    except (OSError, AttributeError):  # no libc prctl: the watch alone
        return False


def _identity(pid: int) -> str | None:
    """``pid``'s start time (Linux ``/proc``; ``"?"`` elsewhere), or None when it is gone or a zombie."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return None
    except PermissionError:
        pass
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii", errors="replace") as fh:
            fields = fh.read().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return "?"
    return None if fields[0] in ("Z", "X") else fields[19]


def _watch(parent: int, owner: int | None, owner_id: str | None) -> None:
    while True:
        time.sleep(POLL_S)
        if os.getppid() != parent or (owner is not None and _identity(owner) != owner_id):
            os._exit(0)


def die_with_parent(parent: int | None = None, *, kernel: bool = True, owner: int | None = None) -> None:
    """End this process when ``parent`` (default: the current parent) or ``owner`` ends; see the module docstring.

    ``parent`` is the pid the caller knows it was started by (passed from the parent: a child
    whose parent has already gone would otherwise take init for it); ``kernel=False`` skips
    ``PR_SET_PDEATHSIG`` for a child created by a short-lived thread; ``owner`` is the process
    that wants this one, when that is not its parent.
    """
    expected = os.getppid() if parent is None else parent
    if kernel:
        _arm_pdeathsig()
    owner_id = _identity(owner) if owner is not None else None
    if os.getppid() != expected or (owner is not None and owner_id is None):  # gone before the watch began
        os._exit(0)
    threading.Thread(target=_watch, args=(expected, owner, owner_id), name="mdwatch-parent-watch",
                     daemon=True).start()
