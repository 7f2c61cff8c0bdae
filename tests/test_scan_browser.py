"""``mdwatch scan`` of JavaScript pages (issue 9 item 5): the sweep's detection and browser, same findings.

- a JS-only demo page (a product, a shop) scanned with ``mdwatch scan URL --json --ocr-engine none``
  gives the findings (rule IDs and severities) of the browser sweep of the demo platform for that
  page, and those of its static twin's scan; the capture is stored as rendered by the browser;
- a URL-target campaign (which goes through the scan) judges the rendered page too;
- ``--no-browser`` analyses the shell and says so; a missing Chromium is one Chinese line;
- a static page's scan is one plain-HTTP crawl: no browser, no Playwright driver.
"""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
from collections import Counter
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from mdwatch.crawler import browser_fetch
from mdwatch.crawler.browser import CHROMIUM_PATH, BrowserOptions
from mdwatch.crawler.capture import FetchSettings
from mdwatch.demo.server import DemoServer, manifest, serve

pytestmark = pytest.mark.network

JS_PAGES = ("/js/products/p035.html", "/js/products/p064.html", "/js/shops/huixin/index.html")
TWIN = {e["path"]: e["twin"] for e in manifest() if e.get("js")}
Findings = Counter[tuple[str, str]]


def _need_chromium() -> None:
    if not os.access(CHROMIUM_PATH, os.X_OK):
        if os.environ.get("MDWATCH_REQUIRE_SERVICES", "").strip() == "1":
            pytest.fail(f"{CHROMIUM_PATH} is missing")
        pytest.skip(f"{CHROMIUM_PATH} is missing")


@pytest.fixture(scope="module")
def demo() -> Iterator[DemoServer]:
    with serve() as server:
        yield server


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """No test touches the user's data directory (default database, OCR cache)."""
    return dict(os.environ, XDG_DATA_HOME=str(tmp_path_factory.mktemp("data")))


def _cli(env: dict[str, str], *args: str, timeout: float = 180) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "mdwatch.scheduler.cli", *args],
                          capture_output=True, text=True, timeout=timeout, env=env, check=False)


@pytest.fixture(scope="module")
def swept(demo: DemoServer, env: dict[str, str], tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One browser sweep of the demo platform (no OCR, no screenshots) into a temporary SQLite file."""
    _need_chromium()
    db = tmp_path_factory.mktemp("sweep") / "sweep.db"
    proc = _cli(env, "sweep", "demo", "--base-url", demo.base_url, "--ocr-engine", "none", "--no-screenshots",
                "--db", f"sqlite:///{db}", timeout=400)
    assert proc.returncode == 0, proc.stderr + proc.stdout
    return db


def _swept_findings(db: Path, url: str) -> tuple[Findings, dict[str, Any]]:
    with sqlite3.connect(db) as conn:
        page = conn.execute("SELECT id, extracted FROM pages WHERE run_id = 1 AND url = ?", (url,)).fetchone()
        assert page is not None, f"the sweep did not store {url}"
        rows = conn.execute("SELECT rule, severity FROM findings WHERE page_id = ?", (page[0],)).fetchall()
    return Counter((rule, severity) for rule, severity in rows), json.loads(page[1])


def _scan(env: dict[str, str], url: str, *extra: str) -> tuple[Findings, dict[str, Any], str]:
    proc = _cli(env, "scan", url, "--json", "--ocr-engine", "none", *extra)
    assert proc.returncode == 0, proc.stderr
    doc = json.loads(proc.stdout)
    return Counter((f["rule"], f["severity"]) for f in doc["findings"]), doc, proc.stderr


@pytest.mark.parametrize("path", JS_PAGES)
def test_scan_of_js_page_equals_its_sweep_and_its_static_twin(
        path: str, demo: DemoServer, swept: Path, env: dict[str, str], tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 'scan.db'}"
    scanned, doc, stderr = _scan(env, demo.url(path), "--db", db)
    assert not stderr.strip()
    assert doc["extracted"].get("via_browser") is True and "browser_note" not in doc["extracted"]
    in_sweep, sweep_extracted = _swept_findings(swept, demo.url(path))
    assert sweep_extracted.get("via_browser") is True
    assert scanned == in_sweep, (path, scanned, in_sweep)
    twin, twin_doc, _ = _scan(env, demo.url(TWIN[path]), "--no-store")
    assert "via_browser" not in twin_doc["extracted"]
    assert scanned == twin, (path, scanned, twin)
    assert doc["kind"] == twin_doc["kind"]
    assert ("PRODUCT_REGNO_MISSING", "high") not in scanned
    with sqlite3.connect(tmp_path / "scan.db") as conn:  # the evidence is the rendered page
        methods = {m for (m,) in conn.execute("SELECT method FROM captures WHERE url = ?", (demo.url(path),))}
    assert methods == {"browser"}


def test_no_browser_analyses_the_shell_with_a_note(demo: DemoServer, env: dict[str, str]) -> None:
    scanned, doc, _ = _scan(env, demo.url("/js/products/p035.html"), "--no-store", "--no-browser")
    assert "--no-browser" in doc["extracted"]["browser_note"] and "via_browser" not in doc["extracted"]
    # the empty shell shows nothing of the device the rendered page sells: every device rule of the
    # page is missed (an everyday good has none to answer), which is why the browser matters
    assert not any(rule.startswith("PRODUCT_") for rule, _ in scanned)
    proc = _cli(env, "scan", demo.url("/js/products/p035.html"), "--no-store", "--no-browser", "--ocr-engine", "none")
    assert proc.returncode == 0 and "按静态 HTML 分析" in proc.stdout


def test_url_target_campaign_judges_the_rendered_page(demo: DemoServer, swept: Path, tmp_path: Path) -> None:
    from mdwatch.analyzers.packs import combine
    from mdwatch.scheduler.jobs.campaigns import create_campaign, run_campaign
    from mdwatch.storage.leads import LeadStore, run_findings

    db_url = f"sqlite:///{tmp_path / 'campaign.db'}"
    url = demo.url("/js/products/p035.html")
    create_campaign("JS 页面", [url], "device-national", db_url=db_url)
    result = run_campaign("JS 页面", db_url=db_url, settings=FetchSettings(timeout_s=20, retries=0))
    assert result.status == "done" and len(result.run_ids) == 1
    with LeadStore.open(db_url) as leads:
        rules = sorted(f.rule for f in run_findings(leads.store, result.run_ids[0]) if f.page_url == url)
    enabled, _ = combine(["device-national"])
    in_sweep, _ = _swept_findings(swept, url)
    assert rules == sorted(rule for (rule, _s), n in in_sweep.items() for _ in range(n) if rule in enabled)
    assert "PRODUCT_REGNO_MISSING" not in rules


def test_missing_chromium_is_one_line_and_the_static_html_is_analysed(
        demo: DemoServer, monkeypatch: pytest.MonkeyPatch) -> None:
    from mdwatch.scheduler.jobs.scan import scan_urls

    def nowhere(**kwargs: Any) -> BrowserOptions:
        return replace(BrowserOptions(**kwargs), executable_path="/nonexistent/chromium")

    monkeypatch.setattr(browser_fetch, "BrowserOptions", nowhere)
    result = scan_urls([demo.url("/js/products/p035.html")], store=False)
    assert result.browser_unavailable is not None and "Chromium" in result.browser_unavailable
    assert "\n" not in result.browser_unavailable
    (outcome,) = result.ok
    assert "按静态 HTML 分析" in str(outcome.extracted["browser_note"])
    assert outcome.capture is not None and outcome.capture.method == "http"


def test_static_scan_starts_no_browser(demo: DemoServer, monkeypatch: pytest.MonkeyPatch) -> None:
    from mdwatch.scheduler.jobs.scan import scan_urls

    crawls: list[FetchSettings] = []
    real = browser_fetch.fetch_pages

    def recording(urls: Any, settings: FetchSettings, progress: Any = None, meanwhile: Any = None,
                  started: Any = None) -> Any:
        crawls.append(settings)
        return real(urls, settings, progress, meanwhile, started)

    monkeypatch.setattr(browser_fetch, "fetch_pages", recording)
    before = demo.hits("/products/p035.html")
    result = scan_urls([demo.url("/products/p035.html"), demo.url("/shops/huixin/index.html")], store=False)
    assert len(result.ok) == 2 and not result.browser_unavailable
    assert len(crawls) == 1  # one plain crawl, no second one through the browser
    extra = dict(crawls[0].extra_scrapy_settings)
    assert "DOWNLOAD_HANDLERS" not in extra and "TWISTED_REACTOR" not in extra  # no Playwright, no Chromium
    assert demo.hits("/products/p035.html") == before + 1
    for outcome in result.ok:
        assert outcome.capture is not None and outcome.capture.method == "http"
        assert "via_browser" not in outcome.extracted and "browser_note" not in outcome.extracted
