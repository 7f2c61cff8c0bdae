"""Distributed sweeps: two ``mdwatch sweep`` processes share one frontier in Redis and one PostgreSQL.

The seeding process (``mdwatch sweep demo`` with ``MDWATCH_REDIS_URL``) and a worker
(``--worker --resume 1``: it waits for the run) crawl the demo platform together; the demo server
holds every page request until both have joined, so both take part whatever their start-up times.
A worker that arrives after the end is told the sweep is over and exits 0.
Every URL is fetched exactly once across both (the demo server's own hit counts, and the sweep's
per-URL fetch counts in Redis as recorded in the run's stats); the findings equal a single-process
sweep's. The browser is off (``--no-browser``): a browser re-request of a page whose static HTML
lacks the content would be a second, separately counted fetch (``refetched``) by design.

Needs Redis (127.0.0.1:6379) and PostgreSQL (127.0.0.1:5432): skipped when unreachable, failed
under ``MDWATCH_REQUIRE_SERVICES=1``. Each test uses its own Redis key prefix and deletes its keys.
"""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
import time
from collections import Counter
from importlib import resources
from pathlib import Path
from urllib.parse import urlsplit

from conftest import REDIS_URL, postgres_schema_url

from mdwatch.crawler.distributed import FINISHED_TTL_S, SweepKeys, redis_settings
from mdwatch.demo.server import DemoServer, serve
from mdwatch.storage.store import Store
from mdwatch.storage.sweeps import get_sweep, sweep_findings

TIMEOUT = 240



def _cmd(db_url: str, *args: str) -> list[str]:
    return [sys.executable, "-m", "mdwatch.scheduler.cli", "sweep", "demo", "--db", db_url, "--no-browser",
            "--workers", "0", "--ocr-engine", "none", *args]


def _env(prefix: str | None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("MDWATCH_REDIS_URL", "MDWATCH_REDIS_PREFIX")}
    if prefix is not None:
        env.update(MDWATCH_REDIS_URL=REDIS_URL, MDWATCH_REDIS_PREFIX=prefix)
    return env


def _relative(findings: list[tuple[str, str]], base: str) -> Counter[tuple[str, str]]:
    return Counter((url.removeprefix(base), rule) for url, rule in findings)


def _site_pages() -> list[str]:
    root = resources.files("mdwatch.demo").joinpath("site")
    with resources.as_file(root) as path:
        return sorted("/" + p.relative_to(path).as_posix() for p in Path(path).rglob("*.html"))


def test_redis_settings_are_namespaced_by_run() -> None:
    keys = SweepKeys(7, "mdw_x")
    settings = redis_settings("redis://127.0.0.1:6379/0", keys)
    assert settings["SCHEDULER_QUEUE_KEY"] == "mdw_x:sweep:7:requests"
    assert settings["SCHEDULER_DUPEFILTER_KEY"] == "mdw_x:sweep:7:dupefilter"
    assert settings["DUPEFILTER_CLASS"] == "scrapy_redis.dupefilter.RFPDupeFilter"
    assert settings["SCHEDULER_PERSIST"] is True
    assert all(k.startswith("mdw_x:sweep:7:") for k in keys.all())


def test_worker_needs_redis_and_run_id(tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 'x.db'}"
    no_redis = subprocess.run(_cmd(db, "--worker", "--resume", "1"), capture_output=True, text=True,
                              timeout=60, env=_env(None))
    assert no_redis.returncode == 2 and "MDWATCH_REDIS_URL" in no_redis.stderr
    no_id = subprocess.run(_cmd(db, "--worker"), capture_output=True, text=True, timeout=60,
                           env=_env("mdw_test_" + secrets.token_hex(6)))
    assert no_id.returncode == 2 and "--resume" in no_id.stderr


def test_two_workers_fetch_every_url_once(redis_prefix: str, tmp_path: Path) -> None:
    from redis import Redis

    # the reference: one process, no Redis, SQLite, its own demo server
    with serve() as ref_demo:
        ref_db = f"sqlite:///{tmp_path / 'single.db'}"
        single = subprocess.run(_cmd(ref_db, "--base-url", ref_demo.base_url), capture_output=True, text=True,
                                timeout=TIMEOUT, env=_env(None))
        assert single.returncode == 0, single.stderr + single.stdout
        with Store.open(ref_db) as store:
            expected = _relative(sweep_findings(store, 1), ref_demo.base_url)
            single_pages = int(get_sweep(store, 1).stats["pages"])  # type: ignore[union-attr]

    demo: DemoServer
    with serve() as demo, postgres_schema_url() as db:
        env = _env(redis_prefix)
        keys = SweepKeys(1, redis_prefix)
        # the crawl is held (every page request waits) until both processes have joined run 1:
        # otherwise the seeder may fetch the whole demo before the worker's interpreter is up
        demo.hold_pages()
        seeder = subprocess.Popen(_cmd(db, "--base-url", demo.base_url, "--concurrency", "2"), env=env,
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        worker = subprocess.Popen(_cmd(db, "--worker", "--resume", "1", "--concurrency", "2"), env=env,
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        try:
            client = Redis.from_url(REDIS_URL)
            try:
                deadline = time.monotonic() + TIMEOUT
                while client.scard(keys.crawling) < 2 and time.monotonic() < deadline:
                    assert seeder.poll() is None and worker.poll() is None, "a process left before both joined"
                    time.sleep(0.05)
                assert client.scard(keys.crawling) == 2, "the worker never joined"
            finally:
                client.close()
            demo.release_pages()
            s_out, s_err = seeder.communicate(timeout=TIMEOUT)
            w_out, w_err = worker.communicate(timeout=TIMEOUT)
        finally:
            demo.release_pages()
            for proc in (seeder, worker):
                if proc.poll() is None:
                    proc.kill()
                    proc.communicate()
        assert seeder.returncode == 0, s_err + s_out
        assert worker.returncode == 0, w_err + w_out
        assert ("最后退出" in s_out) != ("最后退出" in w_out)  # exactly one process finished the run

        with Store.open(db) as store:
            run = get_sweep(store, 1)
            assert run is not None and run.status == "done"
            got = _relative(sweep_findings(store, 1), demo.base_url)
            with store.engine.connect() as conn:
                stored = [url for (url,) in conn.exec_driver_sql("SELECT url FROM sweep_pages WHERE run_id = 1")]
        info = run.stats["distributed"]
        processes = {p["role"]: p for p in info["processes"]}

        # both processes took part; together they stored every page once
        assert set(processes) == {"seeder", "worker"}
        assert processes["seeder"]["pages_this_run"] > 0 and processes["worker"]["pages_this_run"] > 0, (
            processes, w_out, w_err)
        assert processes["seeder"]["pages_this_run"] + processes["worker"]["pages_this_run"] == len(stored)
        assert len(stored) == len(set(stored)) == single_pages == run.stats["pages"]

        # every URL fetched exactly once across both processes: the sweep's own count …
        assert info["fetched_more_than_once_count"] == 0, info["fetched_more_than_once"]
        assert info["refetches"] == 0 and info["queued_at_end"] == 0
        assert info["fetches"] == info["fetched_urls"] == processes["seeder"]["fetches"] + processes["worker"]["fetches"]
        # … and the server's (robots.txt aside: each process reads it once)
        hit = {path: demo.hits(path) for path in _site_pages()}
        assert all(n <= 1 for n in hit.values()), {p: n for p, n in hit.items() if n > 1}
        assert all(hit[urlsplit(url).path] == 1 for url in stored)
        assert sum(hit.values()) == info["fetched_urls"]

        # the findings equal the single-process sweep's
        assert got == expected

        # the last process removed the sweep's keys but the marker that answers late workers
        client = Redis.from_url(REDIS_URL)
        try:
            assert [k.decode() for k in client.scan_iter(match=redis_prefix + ":*")] == [keys.finished]
            assert client.get(keys.finished) == b"done" and 0 < client.ttl(keys.finished) <= FINISHED_TTL_S
        finally:
            client.close()

        # a worker that arrives after the end is told so and exits 0, from Redis's marker …
        late = subprocess.run(_cmd(db, "--worker", "--resume", "1"), capture_output=True, text=True,
                              timeout=TIMEOUT, env=env)
        assert late.returncode == 0, late.stderr + late.stdout
        assert "已由其他进程完成" in late.stdout and "Traceback" not in late.stderr
        # … and, once the marker has expired, from the database
        client = Redis.from_url(REDIS_URL)
        try:
            client.delete(keys.finished)
        finally:
            client.close()
        later = subprocess.run(_cmd(db, "--worker", "--resume", "1"), capture_output=True, text=True,
                               timeout=TIMEOUT, env=env)
        assert later.returncode == 0 and "已由其他进程完成" in later.stdout, later.stderr + later.stdout
        with Store.open(db) as store:
            assert get_sweep(store, 1).stats == run.stats  # type: ignore[union-attr]  # untouched
