"""Crawl traps (crawler/traps.py), listing and navigation page kinds, and what a profile says of both.

The whole sweep on a platform full of traps is tests/test_sweep_traps.py; here each piece alone:
URL patterns, each rule of the trap guard and its counts, the profile's ``traps:``,
``listing_links`` / ``navigation_links`` and ``content_selector``, the page-kind heuristic on
listing and navigation pages (and on the shops and platforms it must leave alone), rule selection
(no rule judges them), ``mdwatch scan --kind``, and a rendered page captured once its content is in.
"""

from __future__ import annotations

import json
import logging
import subprocess
import sys
from pathlib import Path

import pytest
from localsite import html, serve_routes
from trapsite import JS_ITEMS, TrapSite

from mdwatch.analyzers.extract import extract_page
from mdwatch.analyzers.model import NAVIGATION_KINDS, PAGE_KINDS, Page, TextBlock
from mdwatch.analyzers.pagekind import detect_kind, kind_scores
from mdwatch.analyzers.registry import analyze, analyzers
from mdwatch.crawler.browser import CHROMIUM_PATH
from mdwatch.crawler.profile import ProfileError, load_profile, profile_from_mapping
from mdwatch.crawler.traps import TRAP_LOGGER, TrapCount, TrapGuard, TrapLimits, url_pattern
from mdwatch.scheduler.pipeline import make_context

BASE = "http://127.0.0.1:9"

# ----------------------------------------------------------------------------- URL patterns


@pytest.mark.parametrize(("url", "pattern"), [
    ("http://x.test/calendar?date=2026-12-06", "/calendar?date={date}"),
    ("http://x.test/events/2026/12/07/", "/events/{date}/"),
    ("http://x.test/events/2026/12/", "/events/{date}/"),
    ("http://x.test/archive?month=2026-12", "/archive?month={date}"),
    ("http://x.test/day?riqi=20261207", "/day?riqi={date}"),
    ("http://x.test/item/20261207.html", "/item/{n}.html"),  # eight digits are an id unless named a date
    ("http://x.test/products/p012.html", "/products/p{n}.html"),
    ("http://x.test/list?color=white&page=3&size=L", "/list?color=*&page={n}&size=*"),
    ("http://x.test/s/9f86d081884c7d659a2feaa0c55ad015/", "/s/{id}/"),
    ("http://x.test/", "/"),
])
def test_url_patterns(url: str, pattern: str) -> None:
    assert url_pattern(url) == pattern


# ----------------------------------------------------------------------------- the guard


def test_an_endless_calendar_stops_after_max_dates(caplog: pytest.LogCaptureFixture) -> None:
    guard = TrapGuard(TrapLimits(max_dates=3))
    with caplog.at_level(logging.WARNING, logger=TRAP_LOGGER):
        verdicts = [guard.check(f"http://x.test/calendar?date=2026-12-{d:02d}", "page", 1) for d in range(1, 9)]
    assert verdicts[:3] == [None, None, None]
    stops = [v for v in verdicts if v is not None]
    assert len(stops) == 5 and all(s.rule == "dates" for s in stops)
    assert [s.first for s in stops] == [True, False, False, False, False]
    assert guard.check("http://x.test/calendar?date=2026-12-02", "page", 1) is None  # a date already in
    logged = [r.getMessage() for r in caplog.records if r.name == TRAP_LOGGER]
    assert logged == ["陷阱拦截：日期序列 /calendar?date={date} 已抓取 3 个日期，疑似无尽日历，其余日期不再抓取。"]
    assert guard.report() == [TrapCount("dates", "/calendar?date={date}", 5, 3)]
    assert guard.report()[0].line() == "陷阱拦截：日期序列（日历） /calendar?date={date}，5 个网址未抓取（上限 3）。"


def test_repeating_segments_too_many_parameters_and_depth() -> None:
    guard = TrapGuard(TrapLimits(max_depth=3, max_query_params=2, max_segment_repeats=2))
    assert guard.check("http://x.test/a/b/a/b/", "page", 1) is None
    loop = guard.check("http://x.test/a/b/a/b/a/b/", "page", 1)
    assert loop is not None and loop.rule == "repeats" and loop.pattern == "/a/b/a/b/…"
    facets = guard.check("http://x.test/list?color=1&size=2&sort=3", "page", 1)
    assert facets is not None and facets.rule == "query"
    deep = guard.check("http://x.test/deep/9", "page", 4)
    assert deep is not None and deep.rule == "depth"
    assert guard.check("http://x.test/deep/9", "page", 2) is None  # a shorter way to it turned up
    assert guard.stopped == 3
    assert {c.rule for c in guard.report()} == {"repeats", "query", "depth"}


def test_pattern_cap_spares_product_pages() -> None:
    guard = TrapGuard(TrapLimits(max_per_pattern=2, max_query_params=1, max_dates=1))
    assert [guard.check(f"http://x.test/tag/{n}", "page", 1) for n in range(2)] == [None, None]
    stop = guard.check("http://x.test/tag/3", "page", 1)
    assert stop is not None and stop.rule == "pattern" and stop.pattern == "/tag/{n}"
    # a platform's listings share one pattern and may carry parameters and dates: never capped by them
    assert all(guard.check(f"http://x.test/item.htm?id={n}&sku=2", "product", 1) is None for n in range(5))
    assert all(guard.check(f"http://x.test/goods/2026-12-{n:02d}/1.html", "product", 1) is None for n in range(1, 5))
    assert all(guard.check(f"http://x.test/shop/{n}/", "shop", 1) is None for n in range(5))
    assert guard.check("http://x.test/a/x/a/x/a/", "product", 1) is not None  # but a loop is a loop


def test_limits_off_and_from_a_profile() -> None:
    guard = TrapGuard(TrapLimits(max_depth=None, max_dates=None, max_per_pattern=None, max_query_params=None,
                                 max_segment_repeats=None))
    assert guard.check("http://x.test/a/a/a/a?x=1&y=2&z=3&w=4&date=2026-12-06", "page", 999) is None
    generic = load_profile("generic", BASE)
    assert generic.traps == TrapLimits()
    mine = profile_from_mapping({"start_urls": [BASE + "/"], "traps": {"max_depth": 4, "max_dates": None}})
    assert mine.traps.max_depth == 4 and mine.traps.max_dates is None and mine.traps.max_per_pattern == 1000
    for bad in ({"max_depth": 0}, {"max_depth": "3"}, {"depth": 3}, ["max_depth"]):
        with pytest.raises(ProfileError):
            profile_from_mapping({"start_urls": [BASE + "/"], "traps": bad})


def test_a_profile_declares_listing_and_navigation_pages_and_a_content_selector() -> None:
    p = profile_from_mapping({
        "start_urls": [BASE + "/"], "product_links": [r"/item/\d+"], "classify": "patterns",
        "listing_links": [r"/category/"], "navigation_links": [r"/shops/?$"], "content_selector": ".detail, #main",
    })
    assert p.role_of(BASE + "/category/12") == "page" and p.page_kind("page", BASE + "/category/12") == "listing"
    assert p.page_kind("page", BASE + "/shops/") == "navigation"
    assert p.page_kind("product", BASE + "/item/1") == "product"
    assert p.links_of(BASE + "/", ["/category/3", "/shops/", "/about"]).other == (BASE + "/category/3", BASE + "/shops/")
    assert p.content_selector == ".detail, #main"
    with pytest.raises(ProfileError, match="content_selector"):
        profile_from_mapping({"start_urls": [BASE + "/"], "content_selector": "div[["})


# ----------------------------------------------------------------------------- page kinds

FOOTER = "<footer>帮助中心 | 隐私政策 | 京ICP备2026001234号-1 （京）网械平台备字（2026）第00015号</footer>"


def _page(path: str, body: str, title: str = "康宁优选") -> Page:
    doc = f"<html><head><meta charset='utf-8'><title>{title}</title></head><body>{body}{FOOTER}</body></html>"
    return extract_page("http://x.test" + path, doc.encode())


def _cards(n: int) -> str:
    return "".join(f"<li><a href='/item/{100 + k}.html'>血压计 {k}</a><span>¥{99 + k}.00</span>"
                   f"<a href='/shop/s{k % 4}/'>店{k % 4}专营店</a></li>" for k in range(n))


def test_a_category_page_is_a_listing() -> None:
    page = _page("/category/7", f"<h1>血压计</h1><p>共 48 件商品</p><a href='/category/7?sort=sales'>按销量</a> "
                                 "<a href='/category/7?brand=1'>品牌一</a> <a href='/category/7?brand=2'>品牌二</a> "
                                 f"<ul>{_cards(8)}</ul><a href='/category/7?page=2'>下一页</a>")
    assert page.kind == "listing", kind_scores(page)


def test_a_shop_directory_and_a_calendar_are_navigation() -> None:
    shops = "".join(f"<li><a href='/shop/s{k}/'>康宁{k}号医疗器械专营店</a></li>" for k in range(8))
    directory = _page("/shops/", f"<h1>全部店铺</h1><ul>{shops}</ul><a href='/shops/?page=2'>下一页</a>")
    assert directory.kind == "navigation", kind_scores(directory)
    calendar = _page("/calendar", "<h1>活动日历</h1><a href='/calendar?date=2026-12-05'>上一天</a> "
                                  "<a href='/calendar?date=2026-12-07'>下一天</a>")
    assert calendar.kind == "navigation", kind_scores(calendar)


def test_shops_platforms_and_products_stay_what_they_are() -> None:
    shop = _page("/shop/s1/", f"<h1>康宁医疗器械专营店</h1><ul>{_cards(8)}</ul><a href='/shop/s1/?page=2'>下一页</a>"
                              "<section><h2>证照公示</h2><p>营业执照 医疗器械经营许可证</p><p>售后电话：400-810-2026</p>"
                              "<a href='#im'>联系客服</a> 关注店铺</section>", title="康宁医疗器械专营店")
    assert shop.kind == "shop", kind_scores(shop)
    home = _page("/", f"<h1>康宁优选</h1><p>入驻商家</p><ul>{_cards(8)}</ul>")
    assert home.kind == "platform", kind_scores(home)
    product = _page("/item/101.html", "<h1>电子血压计 BP-1</h1><p>¥99.00</p><button>立即购买</button><table>"
                                      "<tr><th>注册证编号</th><td>京械注准20262070001</td></tr><tr><th>型号规格</th><td>BP-1</td></tr>"
                                      "<tr><th>注册人</th><td>北京康宁医疗科技有限公司</td></tr></table>"
                                      f"<h2>看了又看</h2><ul>{_cards(6)}</ul><a href='/item/101.html?sku=2'>规格二</a>")
    assert product.kind == "product", kind_scores(product)
    words_only = _page("/help", "<p>全部店铺 活动日历 搜索结果 筛选</p>")  # words without a list's structure
    assert detect_kind(words_only) not in NAVIGATION_KINDS, kind_scores(words_only)


def test_no_rule_judges_listing_or_navigation_pages() -> None:
    assert set(NAVIGATION_KINDS) <= set(PAGE_KINDS)
    for spec in analyzers():
        assert not set(spec.kinds) & set(NAVIGATION_KINDS), spec.name
    text = "本品为国家级最佳产品，100%治愈，无效退款。未展示任何资质。"
    for kind in NAVIGATION_KINDS:
        page = Page(url="http://x.test/c", kind=kind, title="血压计", blocks=(TextBlock(text),))
        assert analyze(page, make_context()) == []
    assert analyze(Page(url="http://x.test/c", kind="product", blocks=(TextBlock(text),)), make_context())


def test_scan_with_kind_listing() -> None:
    body = "<html><head><meta charset='utf-8'><title>血压计</title></head><body><p>100%治愈，无效退款</p></body></html>"
    with serve_routes({"/c": html(body)}) as base:
        proc = subprocess.run([sys.executable, "-m", "mdwatch.scheduler.cli", "scan", base + "/c", "--kind", "listing",
                               "--json", "--no-store", "--no-browser", "--ocr-engine", "none"],
                              capture_output=True, text=True, timeout=120, check=False)
        assert proc.returncode == 0, proc.stderr
        out = json.loads(proc.stdout)
        assert out["kind"] == "listing" and out["findings"] == []
        shown = subprocess.run([sys.executable, "-m", "mdwatch.scheduler.cli", "scan", base + "/c", "--kind", "navigation",
                                "--no-store", "--no-browser", "--ocr-engine", "none"],
                               capture_output=True, text=True, timeout=120, check=False)
        assert shown.returncode == 0 and "导航页" in shown.stdout, shown.stderr


# ----------------------------------------------------------------------------- readiness


@pytest.mark.skipif(not Path(CHROMIUM_PATH).exists(), reason=f"no Chromium at {CHROMIUM_PATH}")
def test_a_rendered_page_is_captured_once_its_content_is_in() -> None:
    from mdwatch.crawler.browser import render_html

    with TrapSite() as site:
        slowest = JS_ITEMS[-1]  # its content comes 1.5 s after load
        settled, _ = render_html(site.url(f"/js/item/{slowest}.html"), allow_hosts=["127.0.0.1"])
        assert f"JS-{slowest}" in settled and "加载中" not in settled
        selected, _ = render_html(site.url(f"/js/item/{JS_ITEMS[1]}.html"), allow_hosts=["127.0.0.1"],
                                  ready_selector="table")
        assert f"JS-{JS_ITEMS[1]}" in selected and "加载中" not in selected


def test_list_pages_are_counted_per_list_not_across_every_shop() -> None:
    guard = TrapGuard(TrapLimits(max_per_pattern=3))
    for shop in range(10):  # ten shops with three list pages each: all admitted
        for page in range(2, 5):
            assert guard.check(f"http://mall.test/shops/s{shop:03d}/index-{page}.html", "pagination", 1) is None
    stop = None
    for page in range(5, 9):  # one list that never ends: stopped at the cap
        stop = stop or guard.check(f"http://mall.test/shops/s001/index-{page}.html", "pagination", 1)
    assert stop is not None and stop.rule == "pattern" and "s001" in stop.pattern
