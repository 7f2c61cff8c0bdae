"""The bundled demo platform: served pages, encodings, labels, error endpoints."""

from __future__ import annotations

import http.client
import time
import urllib.error
import urllib.request
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from mdwatch.demo import sitegen
from mdwatch.demo.server import DemoServer, manifest, page_paths, serve

LABELS = Path(__file__).parent / "corpus" / "pages.yaml"
SCOPE_RULES = set(sitegen.LABEL_RULES)

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


def test_sizes() -> None:
    kinds = Counter(entry["kind"] for entry in manifest())
    assert kinds["shop"] >= 6
    assert kinds["qualification"] == kinds["shop"]
    assert kinds["product"] >= 60
    assert kinds["platform"] >= 2
    assert sum(1 for e in manifest() if e["encoding"] in ("gbk", "gb18030")) >= 10
    assert page_paths("product") == [e["path"] for e in manifest() if e["kind"] == "product"]


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
    for path in page_paths("shop"):
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
