"""Starting the command line imports no heavy stack: a one-page scan answers in about a second."""

from __future__ import annotations

import subprocess
import sys

HEAVY = ("sqlalchemy", "scrapy", "twisted", "numpy", "sklearn", "pypinyin", "jieba", "fastapi", "apprise", "rq",
         "playwright")


def test_starting_the_cli_imports_no_heavy_stack() -> None:
    code = ("import contextlib, sys, mdwatch.scheduler.cli as cli\n"
            "with contextlib.suppress(SystemExit):\n"
            "    cli.main(['--version'])\n"
            f"print('HEAVY:', *(m for m in {HEAVY!r} if m in sys.modules))")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True)
    assert proc.stdout.strip().splitlines()[-1] == "HEAVY:"


def test_the_scan_uses_the_crawl_it_started_first(tmp_path: object) -> None:
    import os

    from mdwatch.demo.server import serve

    with serve() as demo:
        path = "/products/p001.html"
        before = demo.hits(path)
        proc = subprocess.run([sys.executable, "-m", "mdwatch.scheduler.cli", "scan", demo.url(path), "--no-store",
                               "--ocr-engine", "none", "--no-browser"], capture_output=True, text=True, timeout=120,
                              env={**os.environ})
        assert proc.returncode == 0, proc.stderr
        assert demo.hits(path) - before == 1  # fetched once: by the crawl started before the app loaded
