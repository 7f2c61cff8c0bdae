"""Sweep pages reach the database a batch at a time: the batch an analysis worker was handed is
stored in one transaction, a page stored already is skipped, and a page that cannot be stored
costs only itself. Real SQLite and PostgreSQL (the ``db_url`` fixture)."""

from __future__ import annotations

import dataclasses
import sqlite3
from datetime import UTC, datetime
from pathlib import Path

from mdwatch.crawler.capture import Capture
from mdwatch.crawler.sweep_items import SweepItem
from mdwatch.scheduler.pipeline.sweep.processor import PageProcessor, ProcessorConfig
from mdwatch.storage.sweeps import open_sweep_store, start_sweep


def _item(n: int) -> SweepItem:
    url = f"http://shop.test/products/p{n}.html"
    body = (f"<html><head><title>电子血压计 {n}</title></head><body><h1>电子血压计 {n}</h1>"
            f"<p>注册证编号：苏械注准2017207{n:04d}</p><p>三天见效，无效退款。</p></body></html>").encode()
    capture = Capture.build(url=url, final_url=url, status=200, headers={"content-type": "text/html; charset=utf-8"},
                            body=body, fetched_at=datetime(2026, 12, 1, 8, 0, tzinfo=UTC))
    return SweepItem(capture, "product", "product")


def _processor(db_url: str) -> PageProcessor:
    with open_sweep_store(db_url) as store:
        run_id = start_sweep(store, "batch", {})
    return PageProcessor(ProcessorConfig(db_url, run_id, datetime.now(UTC)))


def _stored(db_url: str) -> set[str]:
    from sqlalchemy import text

    with open_sweep_store(db_url) as store, store.engine.connect() as conn:
        return {u for (u,) in conn.execute(text("SELECT url FROM sweep_pages WHERE page_id IS NOT NULL"))}


def test_a_batch_is_stored_and_a_page_stored_already_is_skipped(db_url: str) -> None:
    processor = _processor(db_url)
    try:
        first = processor.process_batch([(_item(1), None), (_item(2), None)])
        again = processor.process_batch([(_item(3), None), (_item(2), None), (_item(4), None)])
    finally:
        processor.close()
    assert [d.stored for d in first] == [True, True] and [d.stored for d in again] == [True, False, True]
    assert all(d.error is None and d.page_id is not None for d in (*first, again[0], again[2]))
    assert again[1].page_id is None and again[1].error is None
    assert _stored(db_url) == {_item(n).capture.url for n in (1, 2, 3, 4)}
    # each page's CPU is reported, its storage share included
    assert all(d.cpu[0] > 0 and d.cpu[2] > 0 for d in first)


def test_a_page_that_cannot_be_stored_costs_only_itself(db_url: str) -> None:
    broken = _item(6)
    broken = dataclasses.replace(broken, capture=dataclasses.replace(broken.capture, sha256="not a digest"))
    processor = _processor(db_url)
    try:
        done = processor.process_batch([(_item(5), None), (broken, None), (_item(7), None)])
    finally:
        processor.close()
    assert [d.stored for d in done] == [True, False, True]
    assert done[1].error is not None and "p6.html" in done[1].error
    assert _stored(db_url) == {_item(5).capture.url, _item(7).capture.url}


def test_a_sweep_hands_its_pages_over_in_batches(tmp_path: Path) -> None:
    """A whole sweep through the worker pool: fewer hand-overs than pages, every page stored once."""
    import subprocess
    import sys

    from mdwatch.demo.server import serve

    db = tmp_path / "batches.db"
    with serve() as server:
        proc = subprocess.run([sys.executable, "-m", "mdwatch.scheduler.cli", "sweep", "demo", "--base-url",
                               server.base_url, "--db", f"sqlite:///{db}", "--no-browser", "--ocr-engine", "none",
                               "--workers", "1"],
                              capture_output=True, text=True, timeout=300, check=False)
    assert proc.returncode == 0, proc.stderr
    with sqlite3.connect(db) as conn:
        stats = conn.execute("SELECT stats FROM runs WHERE id = 1").fetchone()[0]
        urls = [u for (u,) in conn.execute("SELECT url FROM sweep_pages WHERE run_id = 1")]
    import json

    batches = json.loads(stats)["analysis_batches_this_run"]
    assert len(urls) == len(set(urls)) >= 150
    assert 1 <= batches < len(urls)



def test_recent_snapshots_of_a_batch_in_one_query_equal_one_query_each(db_url: str) -> None:
    from datetime import timedelta

    from mdwatch.storage.sweeps import SweepHistory

    urls = [f"http://shop.test/products/p{n}.html" for n in range(3)]
    with open_sweep_store(db_url) as store:
        history = SweepHistory(store)
        runs = [start_sweep(store, "history", {}) for _ in range(24)]
        base = datetime(2026, 11, 1, 8, 0, tzinfo=UTC)
        with store.transaction() as session:
            for i, run in enumerate(runs):
                for n, url in enumerate(urls[:2]):  # the third listing has no history
                    history.save(session, run, url, base + timedelta(days=i, minutes=n), f"{i:064x}",
                                 price=10.0 + i, original_price=None, rules=["PRODUCT_REGNO_MISSING"][: i % 2],
                                 warnings=[], claims=[])
        current = runs[-1]
        many = history.recent_many([*urls, urls[0]], current)
        assert many == {u: history.recent(u, current) for u in urls}
        assert [len(many[u]) for u in urls] == [20, 20, 0]
        assert many[urls[0]][0].fetched_at == base + timedelta(days=22)  # newest first, the current run left out


def test_pages_waiting_for_a_broken_pool_fail_instead_of_hanging() -> None:
    """Every page of a batch the pool cannot take gets the pool's error (none waits for ever), both
    when a full batch is handed over at once and when the timer hands over a partial one."""
    import asyncio
    from concurrent.futures import ProcessPoolExecutor

    from mdwatch.scheduler.pipeline.sweep.batches import PageBatcher

    pool = ProcessPoolExecutor(max_workers=1)
    pool.shutdown()

    async def run(size: int, pages: int) -> list[BaseException | object]:
        batcher = PageBatcher(pool, size=size, wait_s=0.01)
        jobs = [batcher.analyze(_item(n), None) for n in range(pages)]
        return await asyncio.wait_for(asyncio.gather(*jobs, return_exceptions=True), timeout=10)

    for size, pages in ((3, 3), (16, 2)):
        outcomes = asyncio.run(run(size, pages))
        assert len(outcomes) == pages and all(isinstance(o, RuntimeError) for o in outcomes)
