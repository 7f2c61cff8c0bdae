"""Four crawl processes over one Redis frontier and one PostgreSQL: every listing fetched once.

A generated platform of a few hundred listings (``benchmarks/bigsite.py``: shops with paginated
listing pages and a qualification page each, product pages from the demo's) is served on
127.0.0.1 behind a gate that holds every page until all four processes have joined the sweep
(otherwise the seeder could crawl it all before the others' interpreters are up). Needs Redis and
PostgreSQL: skipped when unreachable, failed under MDWATCH_REQUIRE_SERVICES=1.
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from collections import Counter
from http.server import BaseHTTPRequestHandler
from pathlib import Path

from conftest import REDIS_URL, postgres_schema_url
from localsite import LocalSite, Reply

from benchmarks.bigsite import generate
from mdwatch.crawler.distributed import SweepKeys
from mdwatch.storage.store import Store
from mdwatch.storage.sweeps import get_sweep

TIMEOUT = 300
PROCESSES = 4


class _Gated:
    """A reply that waits until the gate opens (robots.txt is answered at once)."""

    def __init__(self, reply: Reply, gate: threading.Event) -> None:
        self.reply, self.gate = reply, gate

    def __call__(self, handler: BaseHTTPRequestHandler) -> None:
        self.gate.wait(timeout=TIMEOUT)
        self.reply(handler)



def _routes(root: Path, gate: threading.Event) -> dict[str, object]:
    routes: dict[str, object] = {}
    for file in root.rglob("*"):
        if not file.is_file() or file.suffix not in (".html", ".txt"):
            continue
        path = "/" + file.relative_to(root).as_posix()
        ctype = "text/plain; charset=utf-8" if file.suffix == ".txt" else "text/html; charset=utf-8"
        reply = Reply(body=file.read_bytes(), headers={"Content-Type": ctype})
        routes[path] = reply if path == "/robots.txt" else _Gated(reply, gate)
    return routes


def test_four_processes_fetch_every_listing_once(redis_prefix: str, tmp_path: Path) -> None:
    from redis import Redis

    root = tmp_path / "site"
    pages = generate(root, products=240, shops=8)
    gate = threading.Event()
    env = {k: v for k, v in os.environ.items() if k not in ("MDWATCH_REDIS_URL", "MDWATCH_REDIS_PREFIX")}
    env.update(MDWATCH_REDIS_URL=REDIS_URL, MDWATCH_REDIS_PREFIX=redis_prefix)
    profile = str(root / "bigsite.yaml")
    with LocalSite(_routes(root, gate)) as site, postgres_schema_url() as db:  # type: ignore[arg-type]
        base = ["--db", db, "--no-browser", "--workers", "0", "--ocr-engine", "none", "--concurrency", "2"]
        cli = [sys.executable, "-m", "mdwatch.scheduler.cli", "sweep", profile]
        procs = [subprocess.Popen([*cli, "--base-url", site.base, *base], env=env, stdout=subprocess.PIPE,
                                  stderr=subprocess.PIPE, text=True)]
        keys = SweepKeys(1, redis_prefix)
        client = Redis.from_url(REDIS_URL)
        try:
            deadline = time.monotonic() + TIMEOUT
            while not client.exists(keys.crawling) and time.monotonic() < deadline:  # run 1 exists, seeded
                assert procs[0].poll() is None, procs[0].communicate()
                time.sleep(0.05)
            procs += [subprocess.Popen([*cli, "--worker", "--resume", "1", *base], env=env, stdout=subprocess.PIPE,
                                       stderr=subprocess.PIPE, text=True) for _ in range(PROCESSES - 1)]
            while client.scard(keys.crawling) < PROCESSES and time.monotonic() < deadline:
                assert all(p.poll() is None for p in procs), "a process left before all joined"
                time.sleep(0.05)
            assert client.scard(keys.crawling) == PROCESSES, "not every worker joined"
            gate.set()
            outputs = [p.communicate(timeout=TIMEOUT) for p in procs]
        finally:
            gate.set()
            client.close()
            for p in procs:
                if p.poll() is None:
                    p.kill()
                    p.communicate()
        for p, (out, err) in zip(procs, outputs, strict=True):
            assert p.returncode == 0, err + out

        with Store.open(db) as store:
            run = get_sweep(store, 1)
            assert run is not None and run.status == "done"
            with store.engine.connect() as conn:
                stored = [url for (url,) in conn.exec_driver_sql("SELECT url FROM sweep_pages WHERE run_id = 1")]
        info = run.stats["distributed"]
        taking_part = [p for p in info["processes"] if p["pages_this_run"] > 0]
        assert len(info["processes"]) == PROCESSES and len(taking_part) == PROCESSES, info["processes"]
        assert len(stored) == len(set(stored)) == run.stats["pages"]
        products = {u.removeprefix(site.base) for u in stored if "/products/" in u}
        assert len(products) == 240  # every listing stored, once
        assert info["fetched_more_than_once_count"] == 0, info["fetched_more_than_once"]
        # the server's count: no page answered twice (robots.txt aside: each process reads it once)
        hits = Counter(path.split("?", 1)[0] for path in site.hits if not path.startswith("/robots.txt"))
        assert hits and max(hits.values()) == 1, [p for p, n in hits.items() if n > 1]
        assert pages >= len(hits)
