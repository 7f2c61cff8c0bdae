"""Worker processes die with their parent (issue 15): ``kill -9`` of a sweep leaves nothing running.

A sweep-like parent runs in its own process with every kind of child a sweep or a scan starts: the
analysis pool (``pipeline/sweep/workers.py``, spawn), the OCR pool (``pipeline/ocr.py``, forkserver),
a crawl process of ``fetch_pages`` (busy on a page that does not answer) and, when Chromium is
installed, a headless browser (busy on such a page too). The parent is killed with SIGKILL; every
process below it must be gone within a few seconds. Only 127.0.0.1 is contacted.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler
from pathlib import Path

import pytest
from localsite import LocalSite

from mdwatch.crawler.browser import CHROMIUM_PATH

GONE_WITHIN_S = 5.0

PARENT = r"""
import os, sys, threading, time
from datetime import UTC, datetime
from mdwatch.crawler.capture import FetchSettings
from mdwatch.crawler.fetch import fetch_pages
from mdwatch.scheduler.pipeline.ocr import OcrStage
from mdwatch.scheduler.pipeline.sweep.processor import ProcessorConfig
from mdwatch.scheduler.pipeline.sweep.workers import start_pool

db_url, base, browser = sys.argv[1], sys.argv[2], sys.argv[3] == "1"
pool = start_pool(ProcessorConfig(db_url, 1, datetime.now(UTC)), 2)
pids = {pool.submit(os.getpid).result(timeout=60) for _ in range(4)}
stage = OcrStage("rapidocr", workers=2, use_db=False)
pids |= {stage._executor().submit(os.getpid).result(timeout=60) for _ in range(4)}
threading.Thread(target=fetch_pages, args=([base + "/hang/fetch"], FetchSettings(timeout_s=120)), daemon=True).start()
if browser:
    from mdwatch.crawler.browser import BrowserOptions, render_html
    threading.Thread(target=render_html, args=(base + "/hang/browser", BrowserOptions(timeout_s=120)),
                     kwargs={"allow_hosts": ["127.0.0.1"]}, daemon=True).start()
print("WORKERS", " ".join(map(str, sorted(pids))), flush=True)
time.sleep(600)
"""


def _children() -> dict[int, list[int]]:
    kids: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            kids.setdefault(ppid, []).append(int(entry.name))
    return kids


def _descendants(pid: int) -> set[int]:
    kids, found, todo = _children(), set(), [pid]
    while todo:
        for child in kids.get(todo.pop(), []):
            if child not in found:
                found.add(child)
                todo.append(child)
    return found


def _running(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state not in ("Z", "X")  # a zombie has ended (whoever adopted it reaps it)


def _cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")[:120]
    except OSError:
        return "?"


@pytest.fixture
def hanging_site() -> Iterator[tuple[LocalSite, threading.Event]]:
    """Pages that answer only once released: the crawl and the browser stay busy on them."""
    release = threading.Event()

    def hang(handler: BaseHTTPRequestHandler) -> None:
        release.wait(60)
        handler.send_response(204)
        handler.send_header("Content-Length", "0")
        handler.end_headers()

    with LocalSite({"/hang/fetch": hang, "/hang/browser": hang}) as site:
        try:
            yield site, release
        finally:
            release.set()


def _wait_for(condition: object, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():  # type: ignore[operator]
        assert time.monotonic() < deadline, what
        time.sleep(0.05)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
def test_workers_die_with_a_killed_sweep(hanging_site: tuple[LocalSite, threading.Event], tmp_path: Path) -> None:
    site, _ = hanging_site
    browser = Path(CHROMIUM_PATH).exists()
    below: set[int] = set()
    parent = subprocess.Popen(
        [sys.executable, "-c", PARENT, f"sqlite:///{tmp_path / 'w.db'}", site.base, "1" if browser else "0"],
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, env=dict(os.environ, XDG_DATA_HOME=str(tmp_path)),
    )
    try:
        assert parent.stdout is not None
        line = parent.stdout.readline()
        assert line.startswith("WORKERS"), line
        workers = {int(p) for p in line.split()[1:]}
        assert len(workers) >= 2  # both pools answered
        hits = ["/hang/fetch", *(["/hang/browser"] if browser else [])]
        _wait_for(lambda: all(h in site.hits for h in hits), 60, f"the crawl / browser never asked for {hits}")
        below = _descendants(parent.pid)
        assert workers <= below
        if browser:
            assert any("chromium" in _cmdline(p) for p in below)
        os.kill(parent.pid, signal.SIGKILL)
        parent.wait(timeout=10)
        deadline = time.monotonic() + GONE_WITHIN_S
        while (alive := {p for p in below if _running(p)}) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not alive, [f"{p}: {_cmdline(p)}" for p in sorted(alive)]
    finally:
        if parent.poll() is None:
            parent.kill()
            parent.wait()
        for pid in below | _descendants(parent.pid):  # a failed test leaves nothing behind either
            if _running(pid):
                os.kill(pid, signal.SIGKILL)


def test_a_child_whose_parent_is_gone_ends_at_once() -> None:
    """die_with_parent with a parent pid that is not (any more) this process's parent: exit at once."""
    code = ("import os, sys; from mdwatch.crawler.lifeline import die_with_parent; "
            "die_with_parent(os.getppid() + 1_000_000); sys.exit(3)")
    done = subprocess.run([sys.executable, "-c", code], timeout=60, check=False)
    assert done.returncode == 0  # ended by die_with_parent, not by the script
