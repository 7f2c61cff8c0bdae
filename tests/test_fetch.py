"""fetch_pages against a real local HTTP server (tests/localsite.py)."""

from __future__ import annotations

import hashlib
import pickle
import time
from collections.abc import Iterator
from datetime import UTC
from http.server import BaseHTTPRequestHandler

import pytest
from localsite import LocalSite, Reply, free_port, html, redirect, serve_directory

from mdwatch.crawler import Capture, FetchResult, FetchSettings, fetch_pages
from mdwatch.crawler.capture import FrozenHeaders

pytestmark = pytest.mark.network

FAST = FetchSettings(timeout_s=1, retries=0)
GB_TEXT = "医用外科口罩，二类医疗器械，注册证编号：苏械注准20202140001。本店经营许可证齐全，欢迎选购。" * 4


def _stream_50mb(handler: BaseHTTPRequestHandler) -> None:
    handler.send_response(200)
    handler.send_header("Content-Type", "text/html")
    handler.send_header("Connection", "close")
    handler.end_headers()
    handler.close_connection = True
    chunk = b"<p>" + b"x" * 65533
    for _ in range(50 * 1024 * 1024 // len(chunk)):
        handler.wfile.write(chunk)


def _declared_50mb(handler: BaseHTTPRequestHandler) -> None:
    handler.send_response(200)
    handler.send_header("Content-Type", "text/html")
    handler.send_header("Content-Length", str(50 * 1024 * 1024))
    handler.end_headers()
    handler.close_connection = True
    chunk = b"x" * 65536
    for _ in range(50 * 1024 * 1024 // len(chunk)):
        handler.wfile.write(chunk)


ROUTES = {
    "/utf8": html("<html><head><title>商品</title></head><body>血糖仪 ¥99</body></html>"),
    "/gbk-meta": Reply(
        body=f'<html><head><meta charset="gbk"><title>口罩</title></head><body>{GB_TEXT}</body></html>',
        headers={"Content-Type": "text/html"},
        encoding="gbk",
    ),
    "/gbk-http-equiv": Reply(
        body=(
            '<html><head><meta http-equiv="Content-Type" content="text/html; charset=gb2312">'
            f"</head><body>{GB_TEXT}</body></html>"
        ),
        headers={"Content-Type": "text/html"},
        encoding="gbk",
    ),
    "/gbk-header": html(f"<html><body>{GB_TEXT}</body></html>", charset="GBK", encoding="gbk"),
    "/gb18030-bare": Reply(
        body=f"<html><body>{GB_TEXT}</body></html>", headers={"Content-Type": "text/html"}, encoding="gb18030"
    ),
    "/gbk-short-bare": Reply(
        body="<html><body>注册证编号</body></html>", headers={"Content-Type": "text/html"}, encoding="gbk"
    ),
    "/moved": redirect("/utf8"),
    "/loop-a": redirect("/loop-b"),
    "/loop-b": redirect("/loop-a"),
    "/chain": redirect("/chain2", status=301),
    "/chain2": redirect("/chain3", status=307),
    "/chain3": redirect("/utf8", status=303),
    "/missing": Reply(body="gone", status=404, headers={"Content-Type": "text/html"}),
    # far longer than FAST's 1 s timeout plus a crawl process's start on a busy machine
    "/slow": Reply(body="<html>slow</html>", delay=8),
    "/huge": _stream_50mb,
    "/huge-declared": _declared_50mb,
    "/logo.png": Reply(body=b"\x89PNG\r\n\x1a\n" + b"\0" * 64, headers={"Content-Type": "image/png"}),
    "/mislabelled": Reply(body=b"<!DOCTYPE html><html><body>ok</body></html>", headers={"Content-Type": "text/plain"}),
    "/shop": html(
        "<html><body><h1>某某医疗器械旗舰店</h1>"
        '<a href="/licence">店铺资质</a> <a href="/licence#top">资质（重复）</a>'
        '<a href="/about">关于我们</a> <a href="http://example.invalid/x">营业执照（外站）</a>'
        '<a href="/cert"><img alt="营业执照"></a> <a href="/broken">许可证</a>'
        '<a href="/more1">备案凭证</a>'
        "</body></html>"
    ),
    "/licence": html("<html><body>医疗器械经营许可证 苏食药监械经营许20200001号</body></html>"),
    "/cert": html("<html><body>营业执照 统一社会信用代码 91320000MA1234567X</body></html>"),
    "/broken": Reply(status=500, body="boom"),
    "/more1": html("<html><body>第二类医疗器械经营备案凭证</body></html>"),
    "/about": html("<html><body>关于</body></html>"),
}


@pytest.fixture(scope="module")
def site() -> Iterator[LocalSite]:
    with LocalSite(ROUTES) as s:
        yield s


def _one(site: LocalSite, path: str, settings: FetchSettings = FAST) -> FetchResult:
    [result] = fetch_pages([site.url(path)], settings)
    return result


def _capture(result: FetchResult) -> Capture:
    assert result.error is None, result.error
    assert result.capture is not None
    return result.capture


def test_utf8_page(site: LocalSite) -> None:
    result = _one(site, "/utf8")
    cap = _capture(result)
    assert result.ok and result.url == site.url("/utf8")
    assert cap.status == 200 and cap.final_url == site.url("/utf8")
    assert cap.encoding == "utf-8"
    assert cap.body.decode("utf-8").count("血糖仪") == 1
    assert cap.sha256 == hashlib.sha256(cap.body).hexdigest()
    assert cap.fetched_at.tzinfo is not None and cap.fetched_at.utcoffset() == UTC.utcoffset(None)
    assert cap.headers["content-type"] == "text/html; charset=utf-8"
    assert cap.headers["Content-Type"] == "text/html; charset=utf-8"  # case-insensitive lookup
    assert all(name == name.lower() for name in cap.headers)
    assert cap.method == "http"
    assert pickle.loads(pickle.dumps(cap)) == cap
    hash(cap)


@pytest.mark.parametrize("path", ["/gbk-meta", "/gbk-http-equiv", "/gbk-header", "/gb18030-bare"])
def test_chinese_encodings_detected(site: LocalSite, path: str) -> None:
    cap = _capture(_one(site, path))
    assert cap.encoding in ("gbk", "gb18030"), cap.encoding
    assert GB_TEXT in cap.body.decode(cap.encoding)


def test_short_undeclared_gbk_is_not_taken_for_korean(site: LocalSite) -> None:
    cap = _capture(_one(site, "/gbk-short-bare"))
    assert cap.encoding == "gb18030"
    assert "注册证编号" in cap.body.decode(cap.encoding)


def test_redirect_sets_final_url(site: LocalSite) -> None:
    result = _one(site, "/moved")
    cap = _capture(result)
    assert cap.url == site.url("/moved")
    assert cap.final_url == site.url("/utf8")
    chain = _capture(_one(site, "/chain"))
    assert chain.final_url == site.url("/utf8")


def test_redirect_loop(site: LocalSite) -> None:
    result = _one(site, "/loop-a")
    assert result.capture is None and result.error is not None
    assert result.error.kind == "redirect_loop"


def test_too_many_redirects(site: LocalSite) -> None:
    result = _one(site, "/chain", FetchSettings(timeout_s=1, retries=0, max_redirects=2))
    assert result.error is not None and result.error.kind == "redirect_loop"


def test_http_404(site: LocalSite) -> None:
    result = _one(site, "/missing")
    assert result.capture is None and result.error is not None
    assert result.error.kind == "http_status"
    assert result.error.message == f"无法获取 {site.url('/missing')}：服务器返回 HTTP 404。"


def test_timeout(site: LocalSite) -> None:
    started = time.monotonic()
    result = _one(site, "/slow")
    assert result.error is not None and result.error.kind == "timeout"
    assert time.monotonic() - started < 6  # the timeout, not the 8 s answer


@pytest.mark.parametrize("path", ["/huge", "/huge-declared"])
def test_too_large_fails_fast(site: LocalSite, path: str) -> None:
    started = time.monotonic()
    result = _one(site, path)
    assert result.error is not None and result.error.kind == "too_large"
    assert time.monotonic() - started < 5


def test_image_is_not_html(site: LocalSite) -> None:
    result = _one(site, "/logo.png")
    assert result.error is not None and result.error.kind == "not_html"
    assert "image/png" in result.error.message


def test_html_sniffed_despite_wrong_content_type(site: LocalSite) -> None:
    cap = _capture(_one(site, "/mislabelled"))
    assert cap.body.startswith(b"<!DOCTYPE html>")


def test_connection_refused() -> None:
    url = f"http://127.0.0.1:{free_port()}/"
    [result] = fetch_pages([url], FAST)
    assert result.error is not None and result.error.kind == "connection"
    assert result.error.message.startswith(f"无法获取 {url}：")


def test_invalid_url_is_an_error_not_an_exception() -> None:
    [result] = fetch_pages(["not a url"], FAST)
    assert result.error is not None and result.error.kind == "other"


def test_qualification_pages_one_hop(site: LocalSite) -> None:
    result = _one(site, "/shop")
    _capture(result)
    related = [c.url for c in result.related]
    # same host only, fragment dropped and de-duplicated, at most 3 links tried, a failing one skipped
    assert related == [site.url("/licence"), site.url("/cert")]
    assert all(c.status == 200 for c in result.related)
    assert site.url("/more1") not in related  # fourth qualifying link is beyond the limit
    no_follow = _one(site, "/shop", FetchSettings(timeout_s=1, retries=0, follow_qualification=False))
    assert no_follow.related == ()


def test_many_urls_keep_order_and_report_progress(site: LocalSite) -> None:
    paths = ["/slow", "/utf8", "/missing", "/moved", "/logo.png", "/utf8", "/shop"]
    urls = [site.url(p) for p in paths]
    seen: list[FetchResult] = []
    results = fetch_pages(urls, FAST, progress=seen.append)
    assert [r.url for r in results] == urls
    assert [r.error.kind if r.error else "ok" for r in results] == [
        "timeout",
        "ok",
        "http_status",
        "ok",
        "not_html",
        "ok",
        "ok",
    ]
    assert len(seen) == len(urls) and {r.url for r in seen} == set(urls)
    assert seen[-1].url == site.url("/slow")  # progress is reported as URLs finish


def test_callable_repeatedly_and_cheaply(site: LocalSite) -> None:
    fetch_pages([site.url("/utf8")], FAST)  # warm-up (first call imports Scrapy)
    started = time.monotonic()
    for _ in range(3):
        [result] = fetch_pages([site.url("/utf8")], FAST)
        assert result.ok
    # ≈ 0.5 s each here; the bound catches a crawl that re-imports or waits on every call, not a busy
    # machine (the figure itself is bench_scan_start.py's)
    assert (time.monotonic() - started) / 3 < 2.5


def test_spawn_start_method_works_too(site: LocalSite, monkeypatch: pytest.MonkeyPatch) -> None:
    import multiprocessing

    from mdwatch.crawler import fetch

    monkeypatch.setattr(fetch, "_context", lambda warm=True: multiprocessing.get_context("spawn"))
    [result] = fetch_pages([site.url("/shop")], FAST)
    assert _capture(result).status == 200 and len(result.related) == 2


def test_no_output_on_stdout_or_stderr(site: LocalSite, capfd: pytest.CaptureFixture[str]) -> None:
    fetch_pages([site.url("/utf8"), site.url("/missing"), site.url("/huge"), site.url("/loop-a")], FAST)
    out, err = capfd.readouterr()
    assert out == "" and err == ""


def test_empty_input() -> None:
    assert fetch_pages([]) == []


def test_serve_directory(tmp_path: pytest.TempPathFactory) -> None:
    from pathlib import Path

    root = Path(str(tmp_path))
    (root / "index.html").write_text("<html><body>目录</body></html>", encoding="utf-8")
    base, stop = serve_directory(root)
    try:
        [result] = fetch_pages([base + "/index.html"], FAST)
        assert "目录".encode() in _capture(result).body
    finally:
        stop()


def test_frozen_headers() -> None:
    h = FrozenHeaders([("Set-Cookie", "a=1"), ("set-cookie", "b=2"), ("X-A", "x")])
    assert h["set-cookie"] == "a=1, b=2" and h["x-a"] == "x" and len(h) == 2
    assert h == {"x-a": "x", "set-cookie": "a=1, b=2"}
    with pytest.raises(AttributeError):
        h.foo = 1  # type: ignore[attr-defined]
