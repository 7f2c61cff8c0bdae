"""Evidence of a sweep (issue 5 item 4): a WARC part per sweep process with every stored page,
screenshots of the pages with findings after the crawl, and ``mdwatch evidence export --sweep ID``
packages that verify offline; flipping one byte of one file makes ``verify`` fail naming it.

A budget-limited sweep of the demo platform with the browser on (screenshots need Chromium), in
its own ``mdwatch`` process; data directory and SQLite in ``tmp_path``.
"""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from warcio.archiveiterator import ArchiveIterator

from mdwatch.crawler.evidence import CHROMIUM_PATH
from mdwatch.demo.server import DemoServer, serve

pytestmark = pytest.mark.skipif(not Path(CHROMIUM_PATH).exists(), reason=f"no Chromium at {CHROMIUM_PATH}")


@pytest.fixture(scope="module")
def demo() -> Iterator[DemoServer]:
    with serve() as server:
        yield server


def _run(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "mdwatch.scheduler.cli", *args], capture_output=True, text=True,
                          timeout=300, env=env, check=False)


def _flip(data: bytes) -> bytes:
    i = len(data) // 2
    return data[:i] + bytes([data[i] ^ 0x01]) + data[i + 1 :]


def test_sweep_evidence_exports_and_verifies(demo: DemoServer, tmp_path: Path) -> None:
    db = tmp_path / "ev.db"
    env = dict(os.environ, XDG_DATA_HOME=str(tmp_path / "data"), MDWATCH_DB_URL=f"sqlite:///{db}")
    proc = _run(env, "sweep", "demo", "--base-url", demo.base_url, "--budget", "14", "--workers", "0", "--ocr-engine", "none")
    assert proc.returncode == 0, proc.stderr + proc.stdout

    with sqlite3.connect(db) as conn:
        stored = conn.execute("SELECT count(*) FROM sweep_pages WHERE run_id = 1").fetchone()[0]
        flagged = conn.execute("SELECT count(DISTINCT page_id) FROM findings WHERE run_id = 1").fetchone()[0]
        files = dict(conn.execute("SELECT kind, count(*) FROM evidence_files WHERE run_id = 1 GROUP BY kind"))
    assert stored == 14 and flagged >= 3
    assert files.get("warc") == 1 and files.get("screenshot") == flagged  # one per page with findings

    # the WARC part holds a response record of every stored page and a screenshot per flagged page
    warcs = list((tmp_path / "data" / "mdwatch" / "evidence" / "1").glob("sweep-1-*.warc.gz"))
    assert len(warcs) == 1
    kinds: dict[str, int] = {}
    with warcs[0].open("rb") as fh:
        for record in ArchiveIterator(fh):
            kinds[record.rec_type] = kinds.get(record.rec_type, 0) + 1
    assert kinds.get("response", 0) >= stored
    assert kinds.get("resource", 0) == flagged

    out = tmp_path / "out.zip"
    proc = _run(env, "evidence", "export", "--sweep", "1", str(out))
    assert proc.returncode == 0, proc.stderr + proc.stdout
    proc = _run(env, "evidence", "verify", str(out))
    assert proc.returncode == 0 and "校验通过" in proc.stdout, proc.stdout + proc.stderr

    with zipfile.ZipFile(out) as zf:
        members = {n: zf.read(n) for n in zf.namelist()}
    names = [n for n in members if n != "manifest.json"]
    assert any(n.endswith(".warc.gz") for n in names) and any(n.endswith(".png") for n in names)
    target = next(n for n in names if n.endswith(".warc.gz"))
    members[target] = _flip(members[target])
    bad = tmp_path / "tampered.zip"
    with zipfile.ZipFile(bad, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    proc = _run(env, "evidence", "verify", str(bad))
    assert proc.returncode == 1
    lines = proc.stdout.strip().splitlines()
    assert len(lines) == 1 and target in lines[0], proc.stdout
