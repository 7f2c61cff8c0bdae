"""Memory of a long sweep: peak RSS of a 100,000-listing sweep (static pages, OCR off). Target < 500 MB.

``bigsite.generate`` writes the platform (100,000 product pages built from the demo's, 400
shops with paginated listings); ``mdwatch sweep`` crawls it in its own process (analysis workers,
WARC evidence on; OCR and screenshots off: this is about what a sweep holds, not what Chromium
does). The sweep's whole process tree is sampled from /proc once a second: printed are the peak
of the tree (crawl process + analysis workers), the peak of the crawl process alone, and the
crawl process's RSS at each quarter of the sweep, which shows whether memory stays flat.

    python benchmarks/bench_memory.py [--listings 100000]
"""

from __future__ import annotations

import argparse
import json
import os
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

TARGET_MB = 500
_PAGE_KB = os.sysconf("SC_PAGE_SIZE") / 1024


def _rss_kb(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/statm", encoding="ascii") as fh:
            return int(int(fh.read().split()[1]) * _PAGE_KB)
    except (OSError, ValueError, IndexError):
        return 0


def _children(pid: int) -> list[int]:
    out: list[int] = []
    try:
        tasks = os.listdir(f"/proc/{pid}/task")
    except OSError:
        return out
    for task in tasks:
        try:
            with open(f"/proc/{pid}/task/{task}/children", encoding="ascii") as fh:
                out.extend(int(p) for p in fh.read().split())
        except OSError:
            continue
    return out


def _tree(pid: int) -> list[int]:
    seen, todo = [], [pid]
    while todo:
        p = todo.pop()
        seen.append(p)
        todo.extend(_children(p))
    return seen


def main() -> int:
    import bigsite

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--listings", type=int, default=100_000)
    args = parser.parse_args()
    shops = max(args.listings // 250, 4)
    with tempfile.TemporaryDirectory(prefix="mdwatch-memory-") as tmp:
        root = Path(tmp) / "site"
        t = time.perf_counter()
        pages = bigsite.generate(root, args.listings, shops)
        print(f"memory benchmark: {pages} pages ({args.listings} listings, {shops} shops) generated in "
              f"{time.perf_counter() - t:.0f} s")
        base, server = bigsite.serve(root)
        env = {**os.environ, "XDG_DATA_HOME": str(Path(tmp) / "data")}
        cmd = [sys.executable, "-m", "mdwatch.scheduler.cli", "sweep", str(root / "bigsite.yaml"), "--base-url", base,
               "--db", f"sqlite:///{tmp}/memory.db", "--ocr-engine", "none", "--no-screenshots", "--no-browser"]
        samples: list[tuple[float, int, int]] = []  # (seconds, crawl process kB, tree kB)
        t0 = time.monotonic()
        try:
            proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
            while proc.poll() is None:
                tree = _tree(proc.pid)
                samples.append((time.monotonic() - t0, _rss_kb(proc.pid), sum(_rss_kb(p) for p in tree)))
                time.sleep(1.0)
            stderr = proc.stderr.read() if proc.stderr is not None else ""
        finally:
            server.terminate()
            server.wait()
        if proc.returncode not in (0, 1):
            print(stderr[-2000:], file=sys.stderr)
            return 1
        with sqlite3.connect(Path(tmp) / "memory.db") as conn:  # what the sweep stored (a trap cap would show)
            stored = int(conn.execute("SELECT count(*) FROM sweep_pages").fetchone()[0])
            stats = json.loads(conn.execute("SELECT stats FROM runs ORDER BY id DESC LIMIT 1").fetchone()[0])
    seconds = time.monotonic() - t0
    peak_tree = max(s[2] for s in samples) / 1024
    peak_main = max(s[1] for s in samples) / 1024
    quarters = [samples[min(len(samples) - 1, int(len(samples) * q))][1] / 1024 for q in (0.25, 0.5, 0.75, 0.99)]
    verdict = "OK" if peak_tree < TARGET_MB else "ABOVE TARGET"
    stopped = sum(int(t.get("stopped", 0)) for t in stats.get("traps_this_run") or [])
    print(f"sweep of {pages} pages ({stored} stored: {args.listings} listings, {shops} shops and the home page; "
          f"{stopped} stopped as traps) in {seconds:.0f} s: peak RSS {peak_tree:.0f} MB for the sweep's process tree "
          f"(target < {TARGET_MB} MB) {verdict}; crawl process peak {peak_main:.0f} MB, at 25/50/75/100 % of the "
          f"sweep {' / '.join(f'{q:.0f}' for q in quarters)} MB; load average {os.getloadavg()[0]:.1f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
