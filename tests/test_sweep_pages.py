"""A demo sweep with the browser (issue 5 items 3 and 8): pagination and JS-rendered pages.

- products linked only from a shop's list pages 2 and 3 (``/shops/kangrui/index-2.html``, …) are
  reached and stored;
- every JS-only page (``manifest.json``: ``js`` true, ``twin`` its static twin) is rendered in
  the browser and gives the same findings as its static twin (issue acceptance).

One full sweep of the demo platform in its own ``mdwatch`` process (screenshots off for speed).
"""

from __future__ import annotations

import json
import os
import re
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from mdwatch.crawler.evidence import CHROMIUM_PATH
from mdwatch.demo.server import DemoServer, serve

SITE = Path(__file__).resolve().parents[1] / "mdwatch" / "demo" / "site"
PRODUCT = re.compile(r'href="(/products/p\d+\.html)"')

pytestmark = pytest.mark.skipif(not Path(CHROMIUM_PATH).exists(), reason=f"no Chromium at {CHROMIUM_PATH}")


@pytest.fixture(scope="module")
def swept(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[DemoServer, Path]]:
    db = tmp_path_factory.mktemp("pages") / "pages.db"
    env = dict(os.environ, XDG_DATA_HOME=str(db.parent / "data"))
    with serve() as server:
        proc = subprocess.run(
            [sys.executable, "-m", "mdwatch.scheduler.cli", "sweep", "demo", "--base-url", server.base_url, "--ocr-engine", "none",
             "--db", f"sqlite:///{db}", "--no-screenshots"],
            capture_output=True, text=True, timeout=400, env=env, check=False,
        )
        assert proc.returncode == 0, proc.stderr + proc.stdout
        assert "巡查已完成" in proc.stdout
        yield server, db


def _only_on_later_pages(shop: str) -> set[str]:
    links = {p.name: set(PRODUCT.findall(p.read_text(encoding="utf-8"))) for p in (SITE / "shops" / shop).glob("index*.html")}
    later = set().union(*(v for k, v in links.items() if k != "index.html"))
    return later - links["index.html"]


def test_products_only_on_list_pages_2_and_3_are_swept(swept: tuple[DemoServer, Path]) -> None:
    server, db = swept
    with sqlite3.connect(db) as conn:
        stored = {u for (u,) in conn.execute("SELECT url FROM sweep_pages WHERE run_id = 1")}
    for shop in ("kangrui", "yikang"):
        assert (SITE / "shops" / shop / "index-3.html").exists()
        hidden = _only_on_later_pages(shop)
        assert hidden, f"{shop}: the demo should have products linked only from list pages 2/3"
        missing = {p for p in hidden if server.base_url + p not in stored}
        assert not missing, (shop, sorted(missing))


def test_js_pages_give_the_same_findings_as_their_static_twins(swept: tuple[DemoServer, Path]) -> None:
    server, db = swept
    manifest = json.loads((SITE / "manifest.json").read_text(encoding="utf-8"))
    twins = [(e["path"], e["twin"]) for e in manifest if e.get("js") and e.get("twin")]
    assert len(twins) >= 5
    with sqlite3.connect(db) as conn:
        rows = conn.execute(
            "SELECT p.url, p.extracted, f.rule FROM pages p LEFT JOIN findings f ON f.page_id = p.id "
            "WHERE p.run_id = 1"
        ).fetchall()
    rules: dict[str, list[str]] = {}
    via: dict[str, bool] = {}
    for url, extracted, rule in rows:
        rules.setdefault(url, [])
        if rule is not None:
            rules[url].append(rule)
        via[url] = bool(json.loads(extracted).get("via_browser"))
    for js, twin in twins:
        js_url, twin_url = server.base_url + js, server.base_url + twin
        assert js_url in rules, f"JS page not swept: {js}"
        assert twin_url in rules, f"static twin not swept: {twin}"
        assert via[js_url], f"{js} was not rendered in the browser"
        assert sorted(rules[js_url]) == sorted(rules[twin_url]), (js, rules[js_url], rules[twin_url])
