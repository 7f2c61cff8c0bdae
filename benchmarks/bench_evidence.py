"""The evidence tail of a sweep: how much of a demo-platform sweep's wall time comes after its last
page was processed (screenshots still rendering, the WARC closing). Target: ≤ 25 %.

Runs ``mdwatch sweep demo`` (browser and screenshots on, OCR off) in its own process against the
bundled demo platform on 127.0.0.1, then reads the run's stats (``evidence_tail_s``,
``seconds_this_run``). Prints the machine's load average beside the figure.
"""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from mdwatch.demo.server import serve


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp, serve() as demo:
        db = Path(tmp) / "bench.db"
        env = {**os.environ, "XDG_DATA_HOME": str(Path(tmp) / "data")}
        start = time.perf_counter()
        proc = subprocess.run([sys.executable, "-m", "mdwatch.scheduler.cli", "sweep", "demo", "--base-url",
                               demo.base_url, "--ocr-engine", "none", "--db", f"sqlite:///{db}"],
                              capture_output=True, text=True, env=env, timeout=900)
        wall = time.perf_counter() - start
        if proc.returncode != 0:
            print(proc.stderr[-2000:], file=sys.stderr)
            raise SystemExit(1)
        with sqlite3.connect(db) as conn:
            stats = json.loads(conn.execute("SELECT stats FROM runs ORDER BY id DESC LIMIT 1").fetchone()[0])
    tail, seconds = float(stats.get("evidence_tail_s", 0.0)), float(stats["seconds_this_run"])
    shots = int(stats.get("screenshots_during_crawl_this_run", 0)) + int(stats.get("screenshots_this_run", 0))
    load = os.getloadavg()[0]
    print(f"sweep with evidence (demo, {stats['pages']} pages, {shots} screenshots): {seconds:.1f} s "
          f"({wall:.1f} s with process start); evidence tail {tail:.1f} s = {tail / seconds:.0%} of the wall time "
          f"(target ≤ 25 %; before screenshots ran with the crawl ≈ 80 %, with Playwright's full-page screenshots ≈ 60 %); load average {load:.1f}")


if __name__ == "__main__":
    main()
