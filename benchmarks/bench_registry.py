"""Registration database benchmark: import a synthetic UDID release, then time look-ups.

    python benchmarks/bench_registry.py [--records 1000000] [--lookups 20000]

Generates ``bench-data/UDID_FULL_RELEASE_SYNTHETIC_<N>.zip`` if missing (see gen_udid.py), imports
it into a fresh SQLite file in a child process (so ``ru_maxrss`` is the import's own peak RSS), then
measures single look-ups per second without the cache and with it, half existing and half missing
numbers, and ``lookup_many`` in page-sized batches. Targets: 1,000,000 records in < 10 min, peak RSS
< 1 GB, >= 10,000 look-ups/s.
"""

from __future__ import annotations

import argparse
import json
import random
import resource
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))


def child_import(db: str, path: str) -> None:
    from mdwatch.storage.registry_import import import_path

    report = import_path("sqlite:///" + db, path)
    rss_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux
    print(
        json.dumps(
            {
                "seconds": report.seconds,
                "records_read": report.records_read,
                "inserted": report.inserted,
                "updated": report.updated,
                "skipped": report.skipped,
                "skip_reasons": report.skip_reasons,
                "peak_rss_mb": rss_kb / 1024,
                "summary": report.summary_zh(),
            },
            ensure_ascii=False,
        )
    )


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--records", type=int, default=1_000_000)
    ap.add_argument("--shard-size", type=int, default=10_000)
    ap.add_argument("--lookups", type=int, default=20_000)
    ap.add_argument("--child-import", nargs=2, metavar=("DB", "PATH"), help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.child_import:
        child_import(*args.child_import)
        return 0

    import gen_udid

    data = ROOT / "bench-data" / f"UDID_FULL_RELEASE_SYNTHETIC_{args.records}.zip"
    if not data.exists():
        print(f"generating {data} …", file=sys.stderr)
        t = time.perf_counter()
        gen_udid.generate(data, args.records, args.shard_size)
        print(f"generated in {time.perf_counter() - t:.0f} s", file=sys.stderr)
    print(f"release: {data} ({data.stat().st_size / 1e6:.1f} MB)")

    db = ROOT / "bench-data" / f"bench-registry-{args.records}.sqlite3"
    for suffix in ("", "-journal", "-wal", "-shm"):
        Path(str(db) + suffix).unlink(missing_ok=True)
    t = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, __file__, "--child-import", str(db), str(data)],
        capture_output=True,
        text=True,
        check=False,
    )
    wall = time.perf_counter() - t
    if proc.returncode != 0:
        print(proc.stderr, file=sys.stderr)
        return 1
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    print(
        f"import: {result['records_read']} records read in {result['seconds']:.1f} s "
        f"({result['records_read'] / result['seconds']:.0f} records/s; child wall {wall:.1f} s), "
        f"peak RSS {result['peak_rss_mb']:.0f} MB, db {db.stat().st_size / 1e6:.0f} MB"
    )
    print("  " + result["summary"])

    from sqlalchemy import create_engine, text

    from mdwatch.storage.registry_store import RegistryStore

    url = "sqlite:///" + str(db)
    engine = create_engine(url)
    with engine.connect() as conn:
        existing = [r[0] for r in conn.execute(text("SELECT DISTINCT registration_no FROM udi_devices"))]
    engine.dispose()
    rng = random.Random(7)
    half = args.lookups // 2
    present = rng.choices(existing, k=half)
    existing_set = set(existing)
    missing: list[str] = []
    while len(missing) < half:
        n = f"国械注准{rng.randint(2014, 2025)}3{rng.randint(1, 22):02d}{rng.randint(0, 9999):04d}"
        if n not in existing_set:
            missing.append(n)
    queries = present + missing
    rng.shuffle(queries)

    with RegistryStore.open(url, cache_size=0) as store:
        store.lookup(queries[0])  # open the connection
        t = time.perf_counter()
        found = sum(store.lookup(q) is not None for q in queries)
        dt = time.perf_counter() - t
        print(f"lookup, no cache: {len(queries) / dt:,.0f} /s ({found} of {len(queries)} found)")
        t = time.perf_counter()
        only_present = sum(store.lookup(q) is not None for q in present)
        dt = time.perf_counter() - t
        print(f"lookup, no cache, existing numbers only: {len(present) / dt:,.0f} /s ({only_present} found)")
        t = time.perf_counter()
        batches = [queries[i : i + 20] for i in range(0, len(queries), 20)]
        n_many = sum(len(store.lookup_many(b)) for b in batches)
        dt = time.perf_counter() - t
        print(f"lookup_many (20 per call): {len(queries) / dt:,.0f} numbers/s ({n_many} found)")
        t = time.perf_counter()
        stats = store.stats()
        print(f"stats in {time.perf_counter() - t:.2f} s: {stats.description_zh()} by_class={stats.by_class}")

    with RegistryStore.open(url) as store:
        pool = rng.sample(queries, min(5000, len(queries)))
        workload = rng.choices(pool, k=len(queries) * 5)
        t = time.perf_counter()
        for q in workload:
            store.lookup(q)
        dt = time.perf_counter() - t
        print(
            f"lookup, LRU cache (pool of {len(pool)} numbers, {len(workload)} calls): {len(workload) / dt:,.0f} /s"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
