"""``mdwatch sweep`` against the demo platform on 127.0.0.1: a whole sweep, a page budget, robots.txt,
and resume after kill -9 and after Ctrl-C (the findings equal an uninterrupted sweep's, none twice).

Each sweep runs as its own ``mdwatch`` process (a sweep is one process with one Twisted reactor).
The browser is off here (its tests are the browser's own); SQLite in ``tmp_path``.
"""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import closing
from pathlib import Path

import pytest
from localsite import html, serve_routes

from mdwatch.demo.server import DemoServer, serve
from mdwatch.storage.store import Store
from mdwatch.storage.sweeps import get_sweep, sweep_findings

SWEEP_TIMEOUT = 240


@pytest.fixture(scope="module")
def demo() -> Iterator[DemoServer]:
    with serve() as server:
        yield server


def _cmd(db: Path, *args: str) -> list[str]:
    return [sys.executable, "-m", "mdwatch.scheduler.cli", "sweep", *args, "--db", f"sqlite:///{db}", "--no-browser",
            "--ocr-engine", "none"]


def _sweep(db: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(_cmd(db, *args), capture_output=True, text=True, timeout=SWEEP_TIMEOUT)


def _findings(db: Path, run_id: int = 1) -> list[tuple[str, str]]:
    with Store.open(f"sqlite:///{db}") as store:
        return sweep_findings(store, run_id)


def _status(db: Path, run_id: int = 1) -> str:
    with Store.open(f"sqlite:///{db}") as store:
        run = get_sweep(store, run_id)
        assert run is not None
        return run.status


def _stored(db: Path) -> int:
    try:
        # closed at once: a connection left open in this process keeps the WAL index of a file the
        # sweep deletes when it ends, and the next connection here would read it (malformed image)
        with closing(sqlite3.connect(db, timeout=5)) as conn:
            return int(conn.execute("SELECT count(*) FROM sweep_pages").fetchone()[0])
    except sqlite3.Error:
        return 0


@pytest.fixture(scope="module")
def full(demo: DemoServer, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[tuple[str, str]]]:
    """One uninterrupted sweep of the demo platform."""
    db = tmp_path_factory.mktemp("full") / "full.db"
    proc = _sweep(db, "demo", "--base-url", demo.base_url)
    assert proc.returncode == 0, proc.stderr + proc.stdout
    assert "巡查已完成" in proc.stdout and "各规则汇总（涉及页面数）" in proc.stdout
    return db, _findings(db)


def test_full_sweep(full: tuple[Path, list[tuple[str, str]]], demo: DemoServer) -> None:
    db, findings = full
    assert _status(db) == "done"
    with sqlite3.connect(db) as conn:
        kinds = dict(conn.execute("SELECT role, count(*) FROM sweep_pages GROUP BY role").fetchall())
        urls = [u for (u,) in conn.execute("SELECT url FROM pages WHERE run_id = 1")]
    assert len(urls) == len(set(urls))
    assert kinds["platform"] == 7 and kinds["shop"] >= 22 and kinds["product"] >= 115
    # qualification pages are judged with their shop, never stored as pages of their own
    assert not any(u.endswith("/qualification.html") for u in urls)
    rules = {rule for _, rule in findings}
    assert {"SHOP_LICENSE_EXPIRED", "CLAIM_GUARANTEE", "PRODUCT_REGNO_MISSING", "PLATFORM_FILING_MISSING"} <= rules
    # a product is linked to the shop it was found on
    with sqlite3.connect(db) as conn:
        linked = conn.execute("SELECT count(*) FROM listings WHERE shop_id IS NOT NULL").fetchone()[0]
    assert linked >= 100


def test_full_sweep_evidence_written_by_the_workers(full: tuple[Path, list[tuple[str, str]]]) -> None:
    """With a pool of analysis workers and no screenshots, each worker writes the pages it stores to a
    WARC part of its own, closed and registered (with its SHA-256) when the pool shuts down."""
    from warcio.archiveiterator import ArchiveIterator

    from mdwatch.storage.evidence import _hash_file

    db, _ = full
    with sqlite3.connect(db) as conn:
        parts = conn.execute("SELECT path, sha256 FROM evidence_files WHERE run_id = 1 AND kind = 'warc'").fetchall()
        stored = {u for (u,) in conn.execute(
            "SELECT c.final_url FROM sweep_pages s JOIN pages p ON p.id = s.page_id JOIN captures c ON c.id = p.capture_id "
            "WHERE s.run_id = 1")}
    assert parts
    recorded: set[str] = set()
    for path, sha in parts:
        assert _hash_file(Path(path)) == sha
        with open(path, "rb") as fh:
            recorded |= {r.rec_headers.get_header("WARC-Target-URI") for r in ArchiveIterator(fh) if r.rec_type == "response"}
    assert stored and stored <= recorded


def test_budget(demo: DemoServer, tmp_path: Path) -> None:
    db = tmp_path / "budget.db"
    proc = _sweep(db, "demo", "--base-url", demo.base_url, "--budget", "12", "--workers", "0")
    assert proc.returncode == 0, proc.stderr
    assert _stored(db) == 12 and _status(db) == "done"


def _interrupt(db: Path, demo: DemoServer, sig: int, at: int) -> subprocess.Popen[str]:
    proc = subprocess.Popen(_cmd(db, "demo", "--base-url", demo.base_url, "--concurrency", "2"),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + SWEEP_TIMEOUT
    while _stored(db) < at:
        assert proc.poll() is None, "the sweep ended before it could be interrupted"
        assert time.monotonic() < deadline
        time.sleep(0.05)
    os.kill(proc.pid, sig)
    proc.communicate(timeout=SWEEP_TIMEOUT)
    return proc


def test_resume_after_kill_9(full: tuple[Path, list[tuple[str, str]]], demo: DemoServer, tmp_path: Path) -> None:
    _, expected = full
    db = tmp_path / "killed.db"
    _interrupt(db, demo, signal.SIGKILL, at=len({u for u, _ in expected}) // 2 + 20)
    assert _status(db) == "running"  # kill -9: nobody could mark it
    half = _stored(db)
    assert 0 < half < 160
    proc = _sweep(db, "demo", "--resume", "1")
    assert proc.returncode == 0, proc.stderr + proc.stdout
    assert "续扫" in proc.stdout
    assert _status(db) == "done"
    got = _findings(db)
    assert Counter(got) == Counter(expected)  # equal, nothing lost, nothing twice
    with sqlite3.connect(db) as conn:
        urls = [u for (u,) in conn.execute("SELECT url FROM pages WHERE run_id = 1")]
    assert len(urls) == len(set(urls))


def test_resume_after_ctrl_c(full: tuple[Path, list[tuple[str, str]]], demo: DemoServer, tmp_path: Path) -> None:
    _, expected = full
    db = tmp_path / "ctrlc.db"
    proc = _interrupt(db, demo, signal.SIGINT, at=30)
    assert proc.returncode == 130
    assert _status(db) == "interrupted"
    resumed = _sweep(db, "demo", "--resume", "1")
    assert resumed.returncode == 0, resumed.stderr
    assert Counter(_findings(db)) == Counter(expected)
    again = _sweep(db, "demo", "--resume", "1")
    assert again.returncode == 2 and "已完成" in again.stderr


def _analysis_workers(pid: int) -> list[int]:
    """The sweep's analysis worker processes (spawned children running multiprocessing's spawn_main)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
        except (OSError, IndexError, ValueError):
            continue
        if ppid == pid and "spawn_main" in cmdline and "resource_tracker" not in cmdline:
            found.append(int(entry.name))
    return found


def test_a_killed_analysis_worker_stops_the_sweep_with_one_line(full: tuple[Path, list[tuple[str, str]]],
                                                                  demo: DemoServer, tmp_path: Path) -> None:
    """A worker killed (the OOM killer, an operator): the sweep stops at once with one line saying
    so, as an interrupted sweep, and a resume completes it with every finding, none twice."""
    _, expected = full
    db = tmp_path / "lost.db"
    proc = subprocess.Popen(_cmd(db, "demo", "--base-url", demo.base_url, "--concurrency", "2", "--workers", "1"),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + SWEEP_TIMEOUT
    while _stored(db) < 20:
        assert proc.poll() is None, "the sweep ended before its worker could be killed"
        assert time.monotonic() < deadline
        time.sleep(0.05)
    workers = _analysis_workers(proc.pid)
    assert len(workers) == 1
    os.kill(workers[0], signal.SIGKILL)
    out, err = proc.communicate(timeout=SWEEP_TIMEOUT)
    assert proc.returncode == 130, err
    assert _status(db) == "interrupted"
    assert out.count("分析进程意外退出") == 1 and "--resume 1" in out, out
    assert "Traceback" not in err, err[-2000:]
    resumed = _sweep(db, "demo", "--resume", "1")
    assert resumed.returncode == 0, resumed.stderr
    assert Counter(_findings(db)) == Counter(expected)


def test_robots_txt_obeyed_and_switchable(tmp_path: Path) -> None:
    page = "<html><head><meta charset='utf-8'><title>{t}</title></head><body><p>{t}</p>{links}</body></html>"
    routes = {
        "/robots.txt": html("User-agent: *\nDisallow: /private/\n"),
        "/": html(page.format(t="首页", links="<a href='/a.html'>A</a> <a href='/private/b.html'>B</a>")),
        "/a.html": html(page.format(t="A", links="")),
        "/private/b.html": html(page.format(t="B", links="")),
    }
    with serve_routes(routes) as base:
        obeyed = _sweep(tmp_path / "obey.db", "generic", "--base-url", base, "--workers", "0")
        ignored = _sweep(tmp_path / "ignore.db", "generic", "--base-url", base, "--workers", "0", "--no-robots")
    assert obeyed.returncode == 0 and ignored.returncode == 0, obeyed.stderr + ignored.stderr
    with sqlite3.connect(tmp_path / "obey.db") as conn:
        obeyed_urls = {u for (u,) in conn.execute("SELECT url FROM sweep_pages")}
    with sqlite3.connect(tmp_path / "ignore.db") as conn:
        ignored_urls = {u for (u,) in conn.execute("SELECT url FROM sweep_pages")}
    assert obeyed_urls == {base + "/", base + "/a.html"}
    assert ignored_urls == obeyed_urls | {base + "/private/b.html"}


def test_unknown_resume_id(tmp_path: Path) -> None:
    proc = _sweep(tmp_path / "x.db", "demo", "--resume", "42")
    assert proc.returncode == 2 and "没有编号为 42" in proc.stderr


def test_tracking_parameters_and_fragments_make_no_second_listing(tmp_path: Path) -> None:
    page = "<html><head><meta charset='utf-8'><title>{t}</title></head><body><p>{t}</p>{links}</body></html>"
    links = ("<a href='/a.html?spm=a1z10.1-c.w4002&utm_source=share'>A</a> <a href='/a.html#detail'>A</a> "
             "<a href='/a.html'>A</a> <a href='/b.html?x=1&id=2&scm=1007.1'>B</a> <a href='/b.html?id=2&x=1'>B</a>")
    routes = {
        "/": html(page.format(t="首页", links=links)),
        "/a.html": html(page.format(t="A", links="")),
        "/b.html": html(page.format(t="B", links="")),
    }
    with serve_routes(routes) as base:
        proc = _sweep(tmp_path / "canon.db", "generic", "--base-url", base, "--workers", "0", "--budget", "3")
    assert proc.returncode == 0, proc.stderr
    with sqlite3.connect(tmp_path / "canon.db") as conn:
        urls = sorted(u for (u,) in conn.execute("SELECT url FROM sweep_pages"))
    # one listing each, and a budget of 3 stores all three pages (links to the same page are not counted)
    assert urls == sorted([base + "/", base + "/a.html", base + "/b.html?id=2&x=1"])


def test_canonical_url() -> None:
    from mdwatch.crawler.urlcanon import canonical_url

    assert canonical_url("HTTP://Shop.Example/item.htm?id=9&spm=a.b&UTM_Medium=x#sku") == "http://shop.example/item.htm?id=9"
    assert canonical_url("https://x.test/p?page=2&sort=price") == canonical_url("https://x.test/p?sort=price&page=2")
    assert canonical_url("https://x.test/p?sku=1") != canonical_url("https://x.test/p?sku=2")  # what a page shows stays
    assert canonical_url("https://x.test/p?ref=x", extra_params=["ref"]) == "https://x.test/p"
