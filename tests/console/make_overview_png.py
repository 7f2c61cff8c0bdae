"""Write docs/console-overview.png: the console's overview on the demo platform's data.

    .venv/bin/python -m tests.console.make_overview_png [--ocr-engine rapidocr]

Sweeps the bundled demo platform into a temporary database (as ``mdwatch demo run`` does), starts
the console on it (uvicorn on 127.0.0.1, a random port), logs in as an admin in headless
Chromium and saves a full-page screenshot. Nothing leaves the machine.
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

from mdwatch.crawler.browser import CHROMIUM_ARGS, CHROMIUM_PATH

from .support import PASSWORD, Clock, LiveServer, make_console

OUT = Path(__file__).resolve().parents[2] / "docs" / "console-overview.png"


def main(argv: list[str] | None = None) -> int:
    from playwright.sync_api import sync_playwright

    from mdwatch.scheduler.jobs.demo import run_demo
    from mdwatch.storage.accounts import AccountStore

    parser = argparse.ArgumentParser(prog="python -m tests.console.make_overview_png")
    parser.add_argument("--ocr-engine", default="none", help="rapidocr reads the demo's images too (slower)")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        db_url = "sqlite:///" + (Path(tmp) / "demo.sqlite3").as_posix()
        run_demo(db_url, None if args.ocr_engine == "none" else args.ocr_engine)
        with AccountStore(db_url) as accounts:
            accounts.add_user("admin", "admin", PASSWORD)
        asgi = make_console(db_url, Clock())
        with LiveServer(asgi) as server, sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=CHROMIUM_PATH, args=list(CHROMIUM_ARGS), headless=True)
            page = browser.new_page(viewport={"width": 1440, "height": 900}, locale="zh-CN")
            page.goto(f"{server.url}/login")
            page.fill("input[name=name]", "admin")
            page.fill("input[name=password]", PASSWORD)
            page.click("button[type=submit]")
            page.wait_for_url(f"{server.url}/")
            page.wait_for_selector("#chart-trend canvas")
            page.wait_for_function("() => document.querySelectorAll('.chart canvas').length >= 4")
            page.wait_for_timeout(800)  # ECharts' entry animation, for the picture only
            page.screenshot(path=str(OUT), full_page=True)
            browser.close()
        asgi.state.console.close()
    print(f"wrote {OUT}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
