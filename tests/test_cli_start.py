"""Starting the command line imports no heavy stack: a one-page scan answers in about a second."""

from __future__ import annotations

import subprocess
import sys

HEAVY = ("sqlalchemy", "scrapy", "twisted", "numpy", "sklearn", "pypinyin", "jieba", "fastapi", "apprise", "rq",
         "playwright")


def test_importing_the_cli_imports_no_heavy_stack() -> None:
    code = ("import sys, mdwatch.scheduler.cli\n"
            f"print(' '.join(m for m in {HEAVY!r} if m in sys.modules))")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True)
    assert proc.stdout.strip() == ""
