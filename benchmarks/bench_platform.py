"""A nightly sweep of a realistic platform with OCR on (issue 15): does it finish, and where do the cores go.

``benchmarks/realistic.py`` generates a platform (5–20 detail images per listing, mostly photos,
some text, shop-shared and family-shared images, 30–200 KB pages, ~10 % rendered by JavaScript)
into a temporary directory and serves it; one ``run_sweep`` (RapidOCR, the browser for the JS
pages, no screenshots) sweeps it in a child process, whose process tree is watched for memory.
Printed, with the load average beside them (the machine is shared):

- pages/s, images/s (image captures handled), OCR'd images/s;
- the share of images skipped by the triage (and how many of those on the header alone or on a
  reduced decode), skipped as repeats (same content hash seen before in the run), left unread by
  the per-page cap (``MDWATCH_OCR_MAX_IMAGES``);
- CPU seconds per listing by stage (crawl, extract, analysis, OCR, storage: the sweep's own
  accounting, ``cpu_s_this_run``) beside the whole process tree's CPU (``wait4``);
- the peak memory of the sweep's process tree (RSS summed, and PSS: shared pages counted once);
- the post-crawl tail (from the last response to the end of the sweep) as a share of wall time;
  the target is at most 25 %;
- OCR CPU seconds per listing with and without the shortcuts: measured in the sweep (all of them),
  and estimated for the platform's distinct images with each path (with the shortcuts; as before
  issue 15: full decode, triage, full-size read; no triage at all) from a sample per category;
- an extrapolation to ``--extrapolate`` listings (default 3,000): the default run sweeps fewer
  (``--listings``, ``BENCH_PLATFORM_LISTINGS``, default 150) because OCR at ~2 s per image on
  2 cores would take about an hour at full scale.

Run: ``make bench`` or ``python benchmarks/bench_platform.py [--listings N]``.
"""

from __future__ import annotations

import argparse
import collections
import json
import os
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

TAIL_TARGET = 0.25
STAGES = ("crawl", "extract", "analysis", "ocr", "storage")


def _load() -> str:
    one, five, fifteen = os.getloadavg()
    return f"load average {one:.2f} {five:.2f} {fifteen:.2f} on {os.cpu_count()} CPUs"


# ----------------------------------------------------------------------------- the sweep (child)


def _sweep(base: str, profile: str, db: str, browser: bool, cap: int | None) -> dict[str, Any]:
    from mdwatch.scheduler.jobs.sweep import SweepOptions, run_sweep
    from mdwatch.scheduler.pipeline.sweep.cputime import LAST_RESPONSE

    runtimes: list[Any] = []
    extra: list[tuple[str, Any]] = [("MDWATCH_SCREENSHOTS", False)]
    if cap is not None:
        extra.append(("MDWATCH_OCR_MAX_IMAGES", cap))
    options = SweepOptions(db_url=db, base_url=base, browser=browser, ocr_engine="rapidocr",
                           extra_settings=tuple(extra))
    t0 = time.monotonic()
    result = run_sweep(profile, options, on_update=lambda rt: runtimes.append(rt) if not runtimes else None)
    end = time.monotonic()
    last = float(runtimes[0].extra.get(LAST_RESPONSE, end)) if runtimes else end
    path = db.removeprefix("sqlite:///")
    with sqlite3.connect(path) as conn:
        limited = conn.execute("SELECT count(*) FROM pages WHERE extracted LIKE '%\"ocr_limit\"%'").fetchone()[0]
        sample = conn.execute("SELECT json_extract(extracted, '$.ocr_limit') FROM pages "
                              "WHERE extracted LIKE '%\"ocr_limit\"%' LIMIT 1").fetchone()
    return {"stats": result.stats, "seconds": result.seconds, "wall": end - t0, "tail": end - last,
            "pages": result.pages_this_run, "via_browser": result.via_browser, "status": result.status,
            "errors": result.errors, "error_messages": list(result.error_messages[:5]), "limited_pages": limited,
            "limit_line": sample[0] if sample else None}


def _tree(root: int) -> list[int]:
    """``root`` and its descendants, from /proc."""
    children: dict[int, list[int]] = collections.defaultdict(list)
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", encoding="ascii", errors="replace") as fh:
                stat = fh.read()
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        children[ppid].append(int(entry))
    out, todo = [], [root]
    while todo:
        pid = todo.pop()
        out.append(pid)
        todo.extend(children.get(pid, ()))
    return out


def _proc(pid: int) -> tuple[str, float, int, int] | None:
    """(name, CPU seconds, RSS kB, PSS kB) of ``pid``, from /proc; None when it is gone."""
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii", errors="replace") as fh:
            stat = fh.read()
        rss = pss = 0
        with open(f"/proc/{pid}/smaps_rollup", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("Rss:"):
                    rss = int(line.split()[1])
                elif line.startswith("Pss:"):
                    pss = int(line.split()[1])
    except OSError:
        return None
    name = stat[stat.index("(") + 1:stat.rindex(")")]
    if name.startswith("python"):  # which of the sweep's Python processes
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as fh:
                cmdline = fh.read().decode(errors="replace")
        except OSError:
            cmdline = ""
        name = ("ocr-pool/forkserver" if "forkserver" in cmdline else "analysis worker" if "spawn_main" in cmdline
                else "resource tracker" if "resource_tracker" in cmdline else "crawl process")
    fields = stat.rsplit(")", 1)[1].split()
    cpu = (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime + stime
    return name, cpu, rss, pss


def _run_watched(args: list[str]) -> tuple[dict[str, Any], dict[str, Any]]:
    """Run this script as a child with ``args``; its JSON, and its process tree's peak memory and CPU.

    The tree is polled every 0.5 s: CPU is each process's last reading, summed (a process that
    lives less than a poll is missed; ``wait4`` would miss the OCR workers, whose parent, the
    forkserver, is never waited for); memory is the peak of the sum over the tree.
    """
    proc = subprocess.Popen([sys.executable, __file__, *args], stdout=subprocess.PIPE, text=True)
    peak: dict[str, Any] = {"rss_kb": 0, "pss_kb": 0, "processes": 0, "top": []}
    cpu: dict[int, float] = {}
    done = threading.Event()

    def watch() -> None:
        while not done.wait(0.5):
            seen = [(pid, info) for pid in _tree(proc.pid) if (info := _proc(pid)) is not None]
            for pid, (_, seconds, _, _) in seen:
                cpu[pid] = max(cpu.get(pid, 0.0), seconds)
            rss, pss = sum(i[2] for _, i in seen), sum(i[3] for _, i in seen)
            if pss > peak["pss_kb"]:
                by_name: collections.Counter[str] = collections.Counter()
                for _, (name, _, _, p) in seen:
                    by_name[name] += p
                peak["top"] = by_name.most_common(5)
            peak["rss_kb"], peak["pss_kb"] = max(peak["rss_kb"], rss), max(peak["pss_kb"], pss)
            peak["processes"] = max(peak["processes"], len(seen))

    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    assert proc.stdout is not None
    out = proc.stdout.read()
    _, status, usage = os.wait4(proc.pid, 0)
    done.set()
    watcher.join()
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"sweep child failed ({os.waitstatus_to_exitcode(status)})")
    cpu[proc.pid] = max(cpu.get(proc.pid, 0.0), usage.ru_utime + usage.ru_stime)
    peak["cpu_s"] = sum(cpu.values())
    return dict(json.loads(out.strip().splitlines()[-1])), peak


# ----------------------------------------------------------------------------- shortcuts (child)


def _shortcut_costs(root: str, sample: int) -> dict[str, Any]:
    """OCR CPU per listing of the platform's distinct images for three paths, from the image pool.

    Every distinct image of the platform is a pool image with other bytes (``realistic.variant``):
    the triage (cheap) is run on every pool image in each path; the engine (seconds) on ``sample``
    images of each category, and its mean stands for the category's images the path reads.
    """
    from mdwatch.analyzers.ocr.engine import get_engine
    from mdwatch.analyzers.ocr.scaling import BEFORE, NONE, Shortcuts, cpu_seconds, examine

    paths = {"shortcuts": Shortcuts(), "before": BEFORE, "no_triage": NONE}
    base = Path(root) / "img" / "base"
    manifest = json.loads((Path(root) / "manifest.json").read_text(encoding="utf-8"))
    distinct: dict[str, tuple[str, str]] = {}  # content key → (category, pool name)
    for listing in manifest["listings"]:
        for _url, category, key in listing["images"]:
            distinct.setdefault(key, (category, key.rsplit("/", 1)[-1]))
    uses = collections.Counter(distinct.values())
    engine = get_engine("rapidocr")
    engine.read(_first_image(base))  # the models load outside the timing
    triage: dict[tuple[str, str], dict[str, tuple[bool, float]]] = {}
    for category, name in uses:
        data = (base / name).read_bytes()
        triage[(category, name)] = {}
        for label, shortcuts in paths.items():
            started = cpu_seconds()
            verdict = examine(data, None, shortcuts)
            triage[(category, name)][label] = (verdict.wanted, cpu_seconds() - started)
    reads: dict[str, dict[str, list[float]]] = collections.defaultdict(lambda: collections.defaultdict(list))
    by_category: dict[str, list[str]] = collections.defaultdict(list)
    for category, name in sorted(uses):
        by_category[category].append(name)
    for category, names in by_category.items():
        if category == "icon":
            continue
        kept = [n for n in names if triage[(category, n)]["shortcuts"][0]] or names
        for name in kept[:sample]:
            data = (base / name).read_bytes()
            for label, shortcuts in (("shortcuts", Shortcuts()), ("full", NONE)):
                started = cpu_seconds()
                examine(data, engine, shortcuts, triaged=True)
                reads[category][label].append(cpu_seconds() - started)
    per_path: dict[str, float] = {}
    for label in paths:
        total = 0.0
        for (category, name), count in uses.items():
            wanted, triage_s = triage[(category, name)][label]
            total += count * triage_s
            if wanted and category != "icon":
                samples = reads[category]["shortcuts" if label == "shortcuts" else "full"]
                total += count * statistics.mean(samples)
        per_path[label] = total / len(manifest["listings"])
    means = {c: {k: round(statistics.mean(v), 3) for k, v in r.items()} for c, r in reads.items()}
    return {"per_listing": per_path, "read_means": means,
            "distinct": dict(collections.Counter(c for c, _ in distinct.values()))}


def _first_image(base: Path) -> Any:
    from PIL import Image

    name = sorted(p for p in base.iterdir() if p.name.startswith("cert-"))[0]
    with Image.open(name) as im:
        return im.convert("RGB")


def _run_child(args: list[str]) -> dict[str, Any]:
    env = dict(os.environ, OMP_THREAD_LIMIT="1", OMP_NUM_THREADS="1")
    out = subprocess.run([sys.executable, __file__, *args], capture_output=True, text=True, check=True, env=env)
    return dict(json.loads(out.stdout.strip().splitlines()[-1]))


# ----------------------------------------------------------------------------- report


def _share(part: float, whole: float) -> str:
    return f"{100 * part / whole:5.1f} %" if whole else "    -"


def _report(platform: Any, sweep: dict[str, Any], peak: dict[str, Any], costs: dict[str, Any] | None,
            extrapolate: int, load_before: str) -> None:
    listings = len(platform.listings)
    stats = sweep["stats"]
    ocr = stats.get("ocr_this_run", {})
    cpu = stats.get("cpu_s_this_run", {})
    crawl_s, wall = sweep["seconds"], sweep["wall"]
    images, examined = ocr.get("images", 0), ocr.get("examined", 0)
    repeats = images - ocr.get("not_downloaded", 0) - examined
    print()
    print(f"sweep ({load_before} at the start; {_load()} at the end)")
    print(f"  {sweep['pages']} pages stored ({listings} listings, {sweep['via_browser']} rendered in Chromium), "
          f"status {sweep['status']}, {sweep['errors']} errors; crawl {crawl_s:.1f} s, wall {wall:.1f} s")
    for message in sweep["error_messages"]:
        print(f"    error: {message}")
    print(f"  pages/s {sweep['pages'] / crawl_s:7.2f}    images/s {images / crawl_s:7.1f}    "
          f"OCR'd images/s {ocr.get('ocr_runs', 0) / crawl_s:6.2f}")
    print(f"  images handed to OCR {images}: repeats (content hash) {_share(repeats, images)}, "
          f"failed downloads {ocr.get('not_downloaded', 0)}, distinct examined {examined}")
    print(f"  of the distinct images examined: triaged out {_share(ocr.get('triaged_out', 0), examined)} "
          f"({ocr.get('header_skips', 0)} on the header alone, {ocr.get('reduced_triage', 0)} on a reduced decode), "
          f"read {_share(ocr.get('ocr_runs', 0), examined)} ({ocr.get('downscaled', 0)} downscaled)")
    print(f"  per-page cap {ocr.get('max_images_per_page')}: {ocr.get('capped', 0)} image captures left unread "
          f"({_share(ocr.get('capped', 0), images)}) on {sweep['limited_pages']} pages; "
          f"{ocr.get('probed', 0)} probes to rank them")
    if sweep["limit_line"]:
        print(f"    as the page records it: {sweep['limit_line']}")
    accounted = sum(float(cpu.get(s, 0.0)) for s in STAGES)
    line = "  ".join(f"{s} {float(cpu.get(s, 0.0)) / listings:6.3f}" for s in STAGES)
    print(f"  CPU s per listing by stage: {line}  (sum {accounted / listings:.3f})")
    print(f"  CPU s per listing, whole process tree: {peak['cpu_s'] / listings:.3f} "
          f"(the rest: Chromium, process start-up, imports, the browser's driver)")
    print(f"  peak memory of the sweep's process tree: RSS {peak['rss_kb'] / 1024:.0f} MB summed, "
          f"PSS {peak['pss_kb'] / 1024:.0f} MB ({peak['processes']:.0f} processes at most); at the peak: "
          + ", ".join(f"{name} {kb / 1024:.0f} MB" for name, kb in peak["top"]))
    tail = sweep["tail"] / wall if wall else 0.0
    verdict = "OK" if tail <= TAIL_TARGET else "ABOVE TARGET"
    print(f"  post-crawl tail: {sweep['tail']:.1f} s of {wall:.1f} s = {100 * tail:.1f} % "
          f"(target <= {100 * TAIL_TARGET:.0f} %) {verdict}")
    ocr_cpu = float(cpu.get("ocr", 0.0)) / listings
    print()
    print("OCR CPU seconds per listing")
    print(f"  measured in the sweep (every shortcut, cap included): {ocr_cpu:.3f}")
    if costs is not None:
        per = costs["per_listing"]
        print(f"  estimated for this platform's distinct images (sample per category, no cap; {_load()}):")
        print(f"    with the shortcuts (triage on header / reduced decode, read at <= max_side²): {per['shortcuts']:.3f}")
        print(f"    as before issue 15 (full decode, triage, read at full size):               {per['before']:.3f}")
        print(f"    no triage at all (every image read at full size):                          {per['no_triage']:.3f}")
        print("    engine CPU s per read, mean by category (shortcuts / full size): "
              + ", ".join(f"{c} {v.get('shortcuts', 0):.2f}/{v.get('full', 0):.2f}"
                          for c, v in sorted(costs["read_means"].items())))
    per_listing_wall = wall / listings
    print()
    print(f"extrapolation to {extrapolate} listings on this machine (linear in listings: OCR-bound):")
    print(f"  wall {per_listing_wall * extrapolate / 60:.0f} min, sweep CPU {peak['cpu_s'] / listings * extrapolate / 3600:.1f} "
          f"h, OCR CPU {ocr_cpu * extrapolate / 3600:.1f} h (÷ cores for the OCR floor: "
          f"{ocr_cpu * extrapolate / (os.cpu_count() or 1) / 60:.0f} min on {os.cpu_count()} cores)")


def main() -> int:
    parser = argparse.ArgumentParser(description="A nightly sweep of a realistic platform with OCR.")
    parser.add_argument("--listings", type=int, default=int(os.environ.get("BENCH_PLATFORM_LISTINGS", "150")))
    parser.add_argument("--extrapolate", type=int, default=3000, help="listings to extrapolate to")
    parser.add_argument("--no-browser", action="store_true", help="sweep without Chromium (JS pages stay empty)")
    parser.add_argument("--cap", type=int, default=None, help="MDWATCH_OCR_MAX_IMAGES (default: the sweep's)")
    parser.add_argument("--sample", type=int, default=2, help="engine reads per category for the estimate (0: none)")
    parser.add_argument("--keep", type=Path, default=None, help="generate into this directory and keep it")
    parser.add_argument("--child", nargs="+", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        mode, *rest = args.child
        if mode == "sweep":
            base, profile, db, browser, cap = rest
            result = _sweep(base, profile, db, browser == "1", None if cap == "-" else int(cap))
        else:
            result = _shortcut_costs(rest[0], int(rest[1]))
        print(json.dumps(result))
        return 0

    import realistic

    load_before = _load()
    print(f"platform benchmark: {args.listings} listings ({load_before})")
    with tempfile.TemporaryDirectory(prefix="mdwatch-platform-") as tmp:
        root = args.keep or Path(tmp) / "site"
        platform = realistic.generate(root, args.listings)
        sizes = sorted(platform.page_bytes)
        details = [len(li.detail) - 4 for li in platform.listings]  # less the 4 recommendation thumbnails
        kinds = collections.Counter(c for li in platform.listings for _, c, _ in li.images)
        distinct = collections.Counter(c for c, _ in {(c, k) for li in platform.listings for _, c, k in li.images})
        print(f"  generated in {platform.seconds:.1f} s: {platform.pages} pages, {platform.shops} shops, "
              f"{sum(li.js for li in platform.listings)} JS-rendered listings; product pages "
              f"{sizes[0] // 1024}–{sizes[-1] // 1024} KB (median {statistics.median(sizes) / 1024:.0f} KB); "
              f"detail images per listing {min(details)}–{max(details)} (mean {statistics.mean(details):.1f})")
        print("  images on listings by category (distinct): "
              + ", ".join(f"{c} {kinds[c]} ({distinct[c]})" for c in realistic.CATEGORIES))
        base, server = realistic.serve(root)
        try:
            sweep, peak = _run_watched(["--child", "sweep", base, str(root / "realistic.yaml"),
                                        f"sqlite:///{tmp}/sweep.db", "0" if args.no_browser else "1",
                                        "-" if args.cap is None else str(args.cap)])
        finally:
            server.terminate()
            server.wait()
        costs = _run_child(["--child", "costs", str(root), str(args.sample)]) if args.sample > 0 else None
        _report(platform, sweep, peak, costs, args.extrapolate, load_before)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
