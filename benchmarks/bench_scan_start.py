"""Cold start of ``mdwatch scan``: one static demo product page, ``--ocr-engine none --no-store``,
wall time from process start to exit, beside ``python -c pass`` measured the same way in the same
run, and beside the same scan with the claim model's loading switched off. Target ≤ 1.2 s.

Each run is a fresh process (``subprocess.run`` of the installed ``mdwatch`` script; the demo
server runs in this process, on loopback). The first run of each is discarded (it fills the
operating system's file cache and the user's claim-automaton cache); the median of the rest is
printed with the machine's load. Run: ``make bench`` or ``python benchmarks/bench_scan_start.py [--runs N]``.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

TARGET_S = 1.2


def _wall(cmd: list[str], env: dict[str, str]) -> float:
    t0 = time.perf_counter()
    subprocess.run(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False)
    return time.perf_counter() - t0


def main() -> int:
    parser = argparse.ArgumentParser(description="Cold start of mdwatch scan beside python -c pass.")
    parser.add_argument("--runs", type=int, default=7)
    args = parser.parse_args()
    from mdwatch.demo.server import page_paths, serve

    mdwatch = str(Path(sys.executable).with_name("mdwatch"))
    page = page_paths("product")[0]
    with tempfile.TemporaryDirectory(prefix="mdwatch-scanstart-") as tmp, serve() as server:
        env = {**os.environ, "XDG_DATA_HOME": str(Path(tmp) / "data"), "XDG_CACHE_HOME": str(Path(tmp) / "cache")}
        scan = [mdwatch, "scan", server.url(page), "--ocr-engine", "none", "--no-store"]
        bare = [sys.executable, "-c", "pass"]
        # the same scan with the claim model's loading switched off (the classifier's cost at start-up,
        # measured side by side: both through the same ``-c`` launcher)
        launch = "import sys; from mdwatch.scheduler.cli import main; sys.exit(main())"
        no_model = ("import mdwatch.models.claim_classifier as c, mdwatch.models.light_scorer as l; "
                    "c.load_claim_model = l.load_light_claim_model = lambda: None; " + launch)
        args_scan = scan[1:]
        with_model_cmd = [sys.executable, "-c", launch, *args_scan]
        no_model_cmd = [sys.executable, "-c", no_model, *args_scan]
        times: dict[str, list[float]] = {"scan": [], "pass": [], "with": [], "without": []}
        for n in range(args.runs + 1):
            for name, cmd in (("scan", scan), ("pass", bare), ("with", with_model_cmd), ("without", no_model_cmd)):
                wall = _wall(cmd, env)
                if n:  # the first of each warms the caches
                    times[name].append(wall)
    s, p = statistics.median(times["scan"]), statistics.median(times["pass"])
    verdict = "OK" if s <= TARGET_S else "ABOVE TARGET"
    print(f"mdwatch scan {page} --ocr-engine none --no-store: median {s:.2f} s wall over {args.runs} runs "
          f"(min {min(times['scan']):.2f}, max {max(times['scan']):.2f}; target ≤ {TARGET_S} s) {verdict}; "
          f"python -c pass {p:.3f} s; load average {os.getloadavg()[0]:.1f} ({os.cpu_count()} cores)")
    w, wo = statistics.median(times["with"]), statistics.median(times["without"])
    print(f"the same scan with the claim model {w:.2f} s, without it {wo:.2f} s (medians, alternated runs): "
          f"the model adds {w - wo:+.2f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
