"""``mdwatch sweep generic`` on a platform it has no profile for finishes, once per listing (issue 15).

The platform (tests/trapsite.py, on 127.0.0.1) has an endless activity calendar (by query and by
path), endless "guess you like" pages, a relative link that appends itself forever, filters and
sort links in every combination, tracking parameters on every product link, a paginated index, a
shop directory, a ``robots.txt`` that disallows the seller back office, and listings whose content
a script injects 300–1500 ms after ``load``. One sweep, in its own ``mdwatch`` process, with the
browser (skipped without Chromium):

- it ends (``done``), and every listing is stored exactly once, under its canonical URL;
- listing indexes, filter pages, the shop directory and the calendars are stored as listing /
  navigation pages with no finding, and are no listings;
- the traps are stopped within their limits (crawler/traps.py defaults, profiles/generic.yaml) and
  the summary names each stop ("陷阱拦截：…", per rule and URL pattern, with counts);
- the JS listings are captured with their content, never as the 加载中… shell.
"""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from collections import Counter
from collections.abc import Iterator
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import parse_qsl, urlsplit

import pytest
from trapsite import JS_ITEMS, TrapSite

from mdwatch.crawler.browser import CHROMIUM_PATH
from mdwatch.crawler.traps import TrapLimits

pytestmark = pytest.mark.skipif(not Path(CHROMIUM_PATH).exists(), reason=f"no Chromium at {CHROMIUM_PATH}")

LIMITS = TrapLimits()  # the generic profile's limits are the defaults
NAVIGATION = ("/list", "/shops/", "/calendar", "/events/", "/guess/", "/brand/")


@dataclass(frozen=True)
class Swept:
    site: TrapSite
    db: Path
    stdout: str
    hits: tuple[str, ...]

    def rows(self, sql: str) -> list[tuple[object, ...]]:
        with closing(sqlite3.connect(self.db)) as conn:
            return list(conn.execute(sql))

    def path(self, url: object) -> str:
        return str(url).removeprefix(self.site.base)


@pytest.fixture(scope="module")
def swept(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Swept]:
    tmp = tmp_path_factory.mktemp("traps")
    db = tmp / "traps.db"
    with TrapSite() as site:
        proc = subprocess.run(
            [sys.executable, "-m", "mdwatch.scheduler.cli", "sweep", "generic", "--base-url", site.base,
             "--db", f"sqlite:///{db}", "--ocr-engine", "none", "--no-screenshots"],
            capture_output=True, text=True, timeout=240, env=dict(os.environ, XDG_DATA_HOME=str(tmp / "data")),
            check=False,
        )
        assert proc.returncode == 0, proc.stderr + proc.stdout
        yield Swept(site, db, proc.stdout, tuple(site.hits))


def test_the_sweep_finishes(swept: Swept) -> None:
    assert "巡查已完成" in swept.stdout
    assert swept.rows("SELECT status FROM runs WHERE id = 1") == [("done",)]


def test_every_listing_is_stored_exactly_once(swept: Swept) -> None:
    expected = swept.site.product_urls()
    products = [url for (url,) in swept.rows("SELECT url FROM pages WHERE run_id = 1 AND kind = 'product'")]
    assert Counter(products) == Counter(expected)  # each once, none missing, nothing else judged a product
    assert {url for (url,) in swept.rows("SELECT url FROM listings")} == expected
    stored = [url for (url,) in swept.rows("SELECT url FROM sweep_pages WHERE run_id = 1")]
    assert len(stored) == len(set(stored))
    assert not [u for u in stored if "#" in str(u) or any(t in str(u) for t in ("spm=", "scm=", "utm_"))]
    assert f"商品页 {len(expected)} 个" in swept.stdout


def test_navigation_pages_are_no_listings_and_have_no_findings(swept: Swept) -> None:
    kinds = {swept.path(url): kind for url, kind in swept.rows("SELECT url, kind FROM pages WHERE run_id = 1")}
    navigation = {p: k for p, k in kinds.items() if p.startswith(NAVIGATION)}
    assert len(navigation) >= 30
    assert set(navigation.values()) <= {"listing", "navigation"}, {p: k for p, k in navigation.items()
                                                                     if k not in ("listing", "navigation")}
    assert {kinds[p] for p in kinds if p.startswith("/shop/")} == {"shop"}
    assert kinds["/"] == "platform"
    flagged = swept.rows("SELECT p.url, f.rule FROM findings f JOIN pages p ON p.id = f.page_id "
                         "WHERE f.run_id = 1 AND p.kind IN ('listing', 'navigation')")
    assert flagged == []
    listed = swept.rows("SELECT count(*) FROM listings l JOIN pages p ON p.listing_id = l.id "
                        "WHERE p.kind IN ('listing', 'navigation')")
    assert listed == [(0,)]
    assert "仅作抓取导航，不计为商品，不适用规则" in swept.stdout


def test_traps_are_stopped_within_their_limits(swept: Swept) -> None:
    paths = [urlsplit(h) for h in swept.hits]
    calendar = {p.query for p in paths if p.path == "/calendar"}
    events = {p.path for p in paths if p.path.startswith("/events/")}
    guess = {p.path for p in paths if p.path.startswith("/guess/")}
    assert LIMITS.max_dates is not None and LIMITS.max_depth is not None
    assert 0 < len(calendar) <= LIMITS.max_dates
    assert 0 < len(events) <= LIMITS.max_dates
    assert 0 < len(guess) <= LIMITS.max_depth  # /guess/1 is one hop from the home page
    assert LIMITS.max_segment_repeats is not None
    assert not [p.path for p in paths if _most_repeated(p.path) > LIMITS.max_segment_repeats]
    assert not [p for p in paths if len(parse_qsl(p.query)) > 3]  # LIMITS.max_query_params, tracking dropped
    assert not [p for p in paths if p.path.startswith("/admin/")]  # robots.txt


def _most_repeated(path: str) -> int:
    return max(Counter(s for s in path.split("/") if s).values(), default=0)


def test_the_summary_names_each_trap_stop(swept: Swept) -> None:
    lines = [line for line in swept.stdout.splitlines() if line.startswith("陷阱拦截：")]
    summary = [line for line in lines if "个网址未抓取" in line]
    for named in ("日期序列（日历） /calendar?date={date}", "日期序列（日历） /events/{date}/",
                  "链接层级过深 /guess/{n}", "路径片段循环 /brand/a/b/a/b/…", "筛选参数组合 /list?"):
        assert any(named in line for line in summary), (named, lines)
    stats = swept.rows("SELECT stats FROM runs WHERE id = 1")[0][0]
    assert '"traps_this_run"' in str(stats)


def test_js_listings_are_captured_with_their_content(swept: Swept) -> None:
    rows = swept.rows("SELECT p.url, p.kind, c.method, c.body FROM pages p JOIN captures c ON c.id = p.capture_id "
                      "WHERE p.run_id = 1 AND p.url LIKE '%/js/item/%'")
    assert len(rows) == len(JS_ITEMS)
    for url, kind, method, body in rows:
        assert isinstance(body, bytes)
        html = body.decode("utf-8")
        item = swept.path(url).rsplit("/", 1)[1].removesuffix(".html")
        assert kind == "product" and method == "browser", (url, kind, method)
        assert f"JS-{item}" in html and "加载中" not in html, url
    shells = swept.rows("SELECT p.url FROM pages p JOIN captures c ON c.id = p.capture_id "
                        "WHERE p.run_id = 1 AND p.kind = 'product' AND CAST(c.body AS TEXT) LIKE '%加载中%'")
    assert shells == []
