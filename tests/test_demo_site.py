"""The bundled demo platform: served pages, encodings, labels, error endpoints."""

from __future__ import annotations

import csv
import html
import http.client
import json
import re
import time
import urllib.error
import urllib.request
import xml.etree.ElementTree as ET
from collections import Counter
from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml

from mdwatch.analyzers.numbers import extract_numbers
from mdwatch.analyzers.regno import REGISTRATION_KINDS
from mdwatch.demo import sitegen
from mdwatch.demo.registry import registry_paths
from mdwatch.demo.server import DemoServer, manifest, page_paths, render_dates, serve

LABELS = Path(__file__).parent / "corpus" / "pages.yaml"
SCOPE_RULES = set(sitegen.LABEL_RULES)
CSV_COLUMNS = [
    "registration_no", "product_name", "registrant", "manufacturer", "model_spec", "structure",
    "scope", "device_class", "category_code", "approved_on", "valid_until", "status",
]  # fmt: skip
UDID_TAGS = ("deviceRecordKey", "zxxsdycpbs", "cpmctymc", "ggxh", "ylqxzcrbarmc", "zczbhhzbapzbh", "flbm", "versionTime")

pytestmark = pytest.mark.network


@pytest.fixture(scope="module")
def server() -> Iterator[DemoServer]:
    with serve() as srv:
        yield srv


@pytest.fixture(scope="module")
def labels() -> dict[str, dict[str, Any]]:
    data: dict[str, dict[str, Any]] = yaml.safe_load(LABELS.read_text(encoding="utf-8"))
    return data


def _get(url: str, timeout: float = 10) -> tuple[int, dict[str, str], bytes]:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as resp:
            return resp.status, dict(resp.headers), resp.read()
    except urllib.error.HTTPError as err:
        return err.code, dict(err.headers), err.read()


def _shop_homes() -> list[str]:
    """Static shop home pages (not a list's further pages, not JS twins)."""
    return [p for p in page_paths("shop") if p.endswith("/index.html")]


def test_sizes() -> None:
    static = [e for e in manifest() if not e["js"]]
    kinds = Counter(entry["kind"] for entry in static)
    assert kinds["shop"] >= 6
    assert kinds["qualification"] == len(_shop_homes())
    assert kinds["product"] >= 60
    assert kinds["platform"] >= 2
    assert sum(1 for e in manifest() if e["encoding"] in ("gbk", "gb18030")) >= 10
    assert page_paths("product") == [e["path"] for e in static if e["kind"] == "product"]
    assert page_paths("product", js=None) == [e["path"] for e in manifest() if e["kind"] == "product"]
    js = [e for e in manifest() if e["js"]]
    assert len(js) >= 8 and {e["kind"] for e in js} == {"shop", "product"}
    assert page_paths("shop", js=True) == [e["path"] for e in js if e["kind"] == "shop"]


def test_every_page_served_with_right_content_type(server: DemoServer) -> None:
    for entry in manifest():
        status, headers, body = _get(server.url(entry["path"]))
        assert status == 200, entry["path"]
        ctype = headers["Content-Type"]
        if entry["charset_in_header"]:
            assert ctype == f"text/html; charset={entry['encoding']}", entry["path"]
        else:
            assert ctype == "text/html", entry["path"]
        text = body.decode(entry["encoding"])
        assert "康护优选" in text
        if entry["meta_charset"]:
            assert f'<meta charset="{entry["encoding"]}">' in text
        else:
            assert "charset" not in text.split("</head>")[0]


def test_gbk_pages_bytes(server: DemoServer) -> None:
    gbk = [e for e in manifest() if e["encoding"] in ("gbk", "gb18030")]
    assert any(not e["meta_charset"] and not e["charset_in_header"] and e["encoding"] == "gb18030" for e in gbk)
    for entry in gbk:
        _, _, body = _get(server.url(entry["path"]))
        with pytest.raises(UnicodeDecodeError):
            body.decode("utf-8")
        text = body.decode("gbk" if entry["encoding"] == "gbk" else "gb18030")
        assert "康护优选" in text
    _, _, body = _get(server.url("/products/p045.html"))
    assert "專家推薦" in body.decode("gb18030")
    _, _, body = _get(server.url("/products/p004.html"))
    assert "最小分度值：0.1℃" in body.decode("gbk")


def test_links_and_images(server: DemoServer) -> None:
    _, _, body = _get(server.url("/"))
    home = body.decode("utf-8")
    assert "(京)网械平台备字[2018]第00003号" in home
    for path in [*_shop_homes(), *page_paths("shop", js=True)]:
        assert f'href="{path}"' in home
    status, headers, png = _get(server.url("/img/p001-main.png"))
    assert status == 200 and headers["Content-Type"] == "image/png" and png.startswith(b"\x89PNG\r\n\x1a\n")
    assert _get(server.url("/shops/kangrui/"))[0] == 200
    assert _get(server.url("/nope.html"))[0] == 404
    assert _get(server.url("/../spec.yaml"))[0] == 404


def test_labels_cover_every_page_and_rule(labels: dict[str, dict[str, Any]]) -> None:
    assert set(labels) == {e["path"] for e in manifest()}
    for path, label in labels.items():
        kind = next(e["kind"] for e in manifest() if e["path"] == path)
        assert label["kind"] == kind
        assert set(label["rules"]) <= SCOPE_RULES, path
        if kind == "qualification":
            assert label["rules"] == []
    counts = Counter(rule for label in labels.values() for rule in label["rules"])
    for rule in SCOPE_RULES:
        assert counts[rule] >= 4, (rule, counts[rule])
    clean = [p for p, label in labels.items() if label["kind"] == "product" and not label["rules"]]
    assert len(clean) >= 15


def test_labels_in_sync_with_spec(labels: dict[str, dict[str, Any]]) -> None:
    spec = sitegen.load_spec()
    assert sitegen.check_labels(spec) == []
    assert sitegen.labels_yaml(sitegen.build(spec)) == LABELS.read_text(encoding="utf-8")


def test_generated_site_is_current(tmp_path: Path) -> None:
    sitegen.write_site(sitegen.build(sitegen.load_spec()), tmp_path)
    for entry in manifest():
        rel = entry["path"].lstrip("/")
        assert (tmp_path / rel).read_bytes() == (sitegen.SITE_DIR / rel).read_bytes(), rel


def test_loop_and_redirect(server: DemoServer) -> None:
    conn = http.client.HTTPConnection(server.host, server.port, timeout=5)
    conn.request("GET", "/_test/loop")
    resp = conn.getresponse()
    assert resp.status == 302 and resp.getheader("Location") == "/_test/loop"
    resp.read()
    conn.request("GET", "/_test/redirect")
    resp = conn.getresponse()
    assert resp.status == 302 and resp.getheader("Location") == "/index.html"
    conn.close()
    status, headers, png = _get(server.url("/_test/image.png"))
    assert status == 200 and headers["Content-Type"] == "image/png" and png[:4] == b"\x89PNG"


def test_slow_and_big(server: DemoServer) -> None:
    started = time.monotonic()
    status, _, _ = _get(server.url("/_test/slow?seconds=0.5"))
    assert status == 200 and time.monotonic() - started >= 0.45
    with pytest.raises((TimeoutError, urllib.error.URLError)):
        _get(server.url("/_test/slow"), timeout=0.3)
    conn = http.client.HTTPConnection(server.host, server.port, timeout=5)
    conn.request("GET", "/_test/big")
    resp = conn.getresponse()
    assert resp.status == 200 and resp.getheader("Content-Length") == str(50 * 1024 * 1024)
    assert resp.read(65536).startswith(b"<!DOCTYPE html>")
    conn.close()


# ---------------------------------------------------------------------------- the demo registry


def _registry_numbers() -> set[str]:
    csv_path, xml_path = registry_paths()
    numbers: set[str] = set()
    with csv_path.open(encoding="utf-8", newline="") as fh:
        for row in csv.DictReader(fh):
            numbers.update(n for n in re.split(r"[,，;；\s]+", row["registration_no"]) if n)
    for device in ET.parse(xml_path).getroot().iter("device"):
        numbers.update(n for n in re.split(r"[,，;；\s]+", device.findtext("zczbhhzbapzbh", "")) if n)
    return numbers


def _page_text(path: str) -> str:
    entry = next(e for e in manifest() if e["path"] == path)
    raw = (sitegen.SITE_DIR / path.lstrip("/")).read_bytes().decode(entry["encoding"])
    return html.unescape(re.sub(r"<[^>]+>", " ", raw))


def test_registry_files_parse() -> None:
    paths = registry_paths()
    assert [p.name for p in paths] == ["demo_registry.csv", "demo_udid.xml"]
    with paths[0].open(encoding="utf-8", newline="") as fh:
        reader = csv.DictReader(fh)
        assert reader.fieldnames == CSV_COLUMNS
        rows = list(reader)
    assert len(rows) >= 20
    assert all(row["registration_no"] and row["product_name"] for row in rows)
    statuses = {row["status"] for row in rows}
    assert {"有效", "注销", "撤销", "过期"} <= statuses
    assert {"II", "Ⅲ", "3"} <= {row["device_class"] for row in rows}
    assert any("年" in row["valid_until"] for row in rows) and any(not row["valid_until"] for row in rows)
    devices = list(ET.parse(paths[1]).getroot().iter("device"))
    assert len(devices) >= 4
    for device in devices:
        for tag in UDID_TAGS:
            assert device.find(tag) is not None, tag
    by_number = Counter(d.findtext("zczbhhzbapzbh") for d in devices)
    assert max(by_number.values()) >= 2  # several DIs under one number
    assert any("," in (n or "") for n in by_number)  # a double number in one field


def test_every_valid_page_number_is_registered(labels: dict[str, dict[str, Any]]) -> None:
    registered = _registry_numbers()
    year = date.today().year
    unregistered_pages = 0
    for path in page_paths("product"):
        numbers = {
            n.normalized
            for n in extract_numbers(_page_text(path), year_now=year)
            if n.kind in REGISTRATION_KINDS and n.valid
        }
        missing = numbers - registered
        if "PRODUCT_UNREGISTERED" in labels[path]["rules"]:
            assert missing, path
            unregistered_pages += 1
        else:
            assert not missing, (path, missing)
    assert unregistered_pages >= 4


def test_registry_labels_agree_with_registry() -> None:
    spec = sitegen.load_spec()
    assert sitegen.check_labels(spec, date.today() + timedelta(days=400)) == []  # still right a year on


def test_dates_relative_to_serving_day(server: DemoServer) -> None:
    raw = (sitegen.SITE_DIR / "shops/kangjian/qualification.html").read_bytes()
    assert b"{{today+15}}" in raw
    _, _, body = _get(server.url("/shops/kangjian/qualification.html"))
    text = body.decode("utf-8")
    assert "{{today" not in text
    assert (date.today() + timedelta(days=15)).isoformat() in text
    day = date(2026, 11, 26)
    assert render_dates("有效期至{{today+25|cn}}".encode("gbk"), "gbk", day).decode("gbk") == "有效期至2026年12月21日"
    assert render_dates(b"{{today-3}}", "utf-8", day) == b"2026-11-23"


# ---------------------------------------------------------------------------- JS twins and pagination


def _served_text(server: DemoServer, path: str) -> str:
    entry = next(e for e in manifest() if e["path"] == path)
    return _get(server.url(path))[2].decode(entry["encoding"])


def test_js_twins_are_empty_shells(server: DemoServer, labels: dict[str, dict[str, Any]]) -> None:
    from mdwatch.crawler.browser import needs_browser, visible_text

    js = [e for e in manifest() if e["js"]]
    for entry in js:
        path, twin = entry["path"], entry["twin"]
        assert path == "/js" + twin
        assert labels[path] == {**labels[twin], "js": True}, path
        assert labels[path]["kind"] == entry["kind"] == next(e["kind"] for e in manifest() if e["path"] == twin)
        body = _get(server.url(path))[2]
        assert needs_browser(body), path
        assert visible_text(body) == "", path  # nothing but a <noscript> asking for JavaScript
        assert "请启用 JavaScript" in body.decode("utf-8")
        twin_entry = next(e for e in manifest() if e["path"] == twin)
        twin_title = re.search(r"<title>(.*?)</title>", _served_text(server, twin), re.S)
        assert twin_title is not None
        # the state is ASCII-escaped JSON: no page text readable in the raw bytes
        state = re.search(rb'<script type="application/json" id="__STATE__">(.*?)</script>', body, re.S)
        assert state is not None and state.group(1).isascii(), path
        data = json.loads(state.group(1))
        assert data["title"] == html.unescape(twin_title.group(1))
        twin_body = _served_text(server, twin).split("<body>", 1)[1].rsplit("</body>", 1)[0]
        assert re.sub(r'href="[^"]*"', "", data["body"]) == re.sub(r'href="[^"]*"', "", twin_body), path
        assert twin_entry["js"] is False
    # the JS shop links to its products' JS twins; they link back to it
    shop_state = re.search(rb'id="__STATE__">(.*?)</script>', _get(server.url("/js/shops/huixin/index.html"))[2], re.S)
    assert shop_state is not None
    shop_body = json.loads(shop_state.group(1))["body"]
    assert 'href="/js/products/p035.html"' in shop_body and 'href="/shops/huixin/qualification.html"' in shop_body
    assert not any(not e["js"] and needs_browser((sitegen.SITE_DIR / e["path"].lstrip("/")).read_bytes()) for e in manifest())


def test_paginated_shop_lists(server: DemoServer, labels: dict[str, dict[str, Any]]) -> None:
    for slug, pages in (("kangrui", 3), ("yikang", 3)):
        seen: list[str] = []
        path: str | None = f"/shops/{slug}/index.html"
        while path is not None:
            status, _, body = _get(server.url(path))
            assert status == 200
            text = body.decode("utf-8")
            seen.extend(re.findall(r'href="(/products/p\d+\.html)"', text.split('class="goods"', 1)[1].split("</ul>", 1)[0]))
            assert f"/shops/{slug}/qualification.html" in text and "店铺信息" in text  # full shop chrome
            assert labels[path] == labels[f"/shops/{slug}/index.html"]
            nxt = re.search(r'<a href="([^"]+)" rel="next">下一页</a>', text)
            path = nxt.group(1) if nxt else None
        spec = sitegen.load_spec()
        assert seen == [f"/products/{p['id']}.html" for p in spec["products"] if p["shop"] == slug]
        assert sum(1 for p in labels if p.startswith(f"/shops/{slug}/index")) == pages
    assert "下一页" not in _served_text(server, "/shops/huixin/index.html")
