"""Per-page processing and database writes of a sweep, on SQLite and on PostgreSQL.

What one analysis worker does for each page (``PageProcessor.process_batch``: extraction, every
analyzer, the registry snapshot; then one transaction for the batch: each page, its findings and
its listing history), with one page a transaction and with a sweep's batches, timed on the demo platform's pages, cycled under fresh URLs so every page is a new
row. Prints pages/s per worker process and the share spent in the database write, for the
sizing in docs/scale.md. PostgreSQL: ``MDWATCH_BENCH_PG`` (default the local test server,
``postgresql+psycopg://postgres@127.0.0.1:5432/test``); skipped with a line when unreachable.

    python benchmarks/bench_store.py [--pages 2000]
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from dataclasses import replace
from datetime import UTC, datetime
from importlib import resources
from pathlib import Path

from mdwatch.crawler.capture import Capture
from mdwatch.crawler.sweep_items import SweepItem
from mdwatch.scheduler.pipeline.sweep.batches import BATCH_PAGES


def _items(n: int) -> list[SweepItem]:
    root = resources.files("mdwatch.demo").joinpath("site")
    pages: list[tuple[str, bytes]] = []
    with resources.as_file(root) as path:
        for file in sorted(Path(path).rglob("*.html")):
            pages.append((file.relative_to(path).as_posix(), file.read_bytes()))
    items = []
    for i in range(n):
        rel, body = pages[i % len(pages)]
        url = f"http://bench.test/{i}/{rel}"
        capture = Capture.build(url=url, final_url=url, status=200,
                                headers={"content-type": "text/html; charset=utf-8"}, body=body)
        items.append(SweepItem(capture, "page", None))
    return items


def _run(db_url: str, items: list[SweepItem], batch: int) -> tuple[float, float, int]:
    from mdwatch.scheduler.pipeline.sweep import processor as proc_module
    from mdwatch.scheduler.pipeline.sweep.processor import PageProcessor, ProcessorConfig
    from mdwatch.storage.sweeps import open_sweep_store, start_sweep

    with open_sweep_store(db_url) as store:
        run_id = start_sweep(store, "bench", {})
    processor = PageProcessor(ProcessorConfig(db_url, run_id, datetime.now(UTC)))
    real_save = proc_module.save_sweep_pages
    in_db = 0.0

    def timed_save(*args: object, **kwargs: object) -> list[int | None]:
        nonlocal in_db
        t = time.perf_counter()
        try:
            return real_save(*args, **kwargs)  # type: ignore[arg-type]
        finally:
            in_db += time.perf_counter() - t

    proc_module.save_sweep_pages = timed_save
    try:
        processor.process(replace(items[0], capture=replace(items[0].capture, url="http://bench.test/warm")))
        stored = 0
        t0 = time.perf_counter()
        for start in range(0, len(items), batch):
            stored += sum(d.stored for d in processor.process_batch([(i, None) for i in items[start:start + batch]]))
        seconds = time.perf_counter() - t0
    finally:
        proc_module.save_sweep_pages = real_save
        processor.close()
    return seconds, in_db, stored


def _fresh(items: list[SweepItem], tag: int) -> list[SweepItem]:
    """The same pages under URLs and with bytes of their own: every capture a new row, as on a real platform."""
    fresh = []
    for n, item in enumerate(items):
        cap = item.capture
        url = cap.url.replace("bench.test/", f"bench.test/b{tag}/")
        body = cap.body + f"<!-- {tag}-{n} -->".encode()
        fresh.append(replace(item, capture=Capture.build(url=url, final_url=url, status=cap.status,
                                                         headers=dict(cap.headers), body=body)))
    return fresh


def _pg_url() -> str | None:
    url = os.environ.get("MDWATCH_BENCH_PG", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
    try:
        from sqlalchemy import create_engine, text

        engine = create_engine(url, connect_args={"connect_timeout": 3})
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
        engine.dispose()
    except Exception as exc:
        print(f"PostgreSQL: skipped ({type(exc).__name__})")
        return None
    return url


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pages", type=int, default=2000)
    args = parser.parse_args()
    items = _items(args.pages)
    load = os.getloadavg()[0]
    with tempfile.TemporaryDirectory() as tmp:
        targets = [("SQLite", f"sqlite:///{tmp}/bench.db")]
        pg = _pg_url()
        if pg is not None:
            targets.append(("PostgreSQL", pg))
        for name, url in targets:
            for batch in (1, BATCH_PAGES):
                seconds, in_db, stored = _run(url, _fresh(items, batch), batch)
                print(f"{name:<10} one worker, {batch:2d} page(s) a transaction: {stored} pages in {seconds:.1f} s = "
                      f"{stored / seconds:6.1f} pages/s (analysis + storage); database writes "
                      f"{stored / in_db:7.1f} pages/s alone, {in_db / seconds:.0%} of the time; load average {load:.1f}")


if __name__ == "__main__":
    main()
