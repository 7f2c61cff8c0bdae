"""Image download in the capture crawl (FetchSettings.fetch_images) against a real local site."""

from __future__ import annotations

import base64
import hashlib
import io
import pickle
from dataclasses import replace

import pytest
from localsite import LocalSite, Reply, html, redirect
from PIL import Image

from mdwatch.crawler import FetchSettings, ImageCapture, fetch_pages
from mdwatch.crawler.images import decode_data_uri

pytestmark = pytest.mark.network

IMAGES = FetchSettings(timeout_s=2, retries=0, fetch_images=True, max_image_bytes=200_000)


def _png(colour: tuple[int, int, int] = (200, 30, 30), size: tuple[int, int] = (40, 30)) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, colour).save(out, "PNG")
    return out.getvalue()


def _jpeg() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (64, 48), (20, 120, 200)).save(out, "JPEG", quality=80)
    return out.getvalue()


PNG = _png()
JPEG = _jpeg()
TINY = _png((0, 0, 0), (2, 2))
DATA_URI = "data:image/png;base64," + base64.b64encode(TINY).decode("ascii")


def _img(body: bytes, ctype: str) -> Reply:
    return Reply(body=body, headers={"Content-Type": ctype})


PAGE = f"""<html><head><title>商品</title></head><body>
<p>血糖仪</p>
<img src="/img/a.png" alt="注册证">
<img data-src="/img/b.jpg" src="data:image/gif;base64,R0lGODlhAQABAAAAACw=">
<img src="/img/missing.png">
<img src="/img/huge.png">
<img src="{DATA_URI}">
<img src="/img/a.png#again">
<img src="/img/moved.png">
<a href="/zizhi">店铺资质</a>
</body></html>"""

QUAL = """<html><body><p>营业执照</p><img src="/img/license.png"><img src="img/a.png"></body></html>"""
OTHER = """<html><body><p>另一商品</p><img src="/img/a.png"></body></html>"""


def _routes() -> dict[str, Reply]:
    return {
        "/item": html(PAGE),
        "/other": html(OTHER),
        "/zizhi": html(QUAL),
        "/img/a.png": _img(PNG, "image/png"),
        "/img/b.jpg": _img(JPEG, "image/jpeg"),
        "/img/license.png": _img(_png((10, 200, 10)), "image/png"),
        "/img/huge.png": _img(b"\x89PNG" + b"\0" * 300_000, "image/png"),
        "/img/moved.png": redirect("/img/b.jpg"),
        "/many": html("<html><body><p>多图</p>" + "".join(f'<img src="/img/n{i}.png">' for i in range(5)) + "</body></html>"),
        **{f"/img/n{i}.png": _img(_png((i * 40, 0, 0)), "image/png") for i in range(5)},
        "/plain": html('<html><body><p>无图</p><img src="/img/a.png"></body></html>'),
    }


def test_images_downloaded_skipped_and_deduplicated() -> None:
    with LocalSite(_routes()) as site:
        results = fetch_pages([site.url("/item"), site.url("/other")], IMAGES)
        hits = list(site.hits)
    item, other = results
    assert item.ok and other.ok
    by_url = {i.url: i for i in item.images}
    a = by_url[site.url("/img/a.png")]
    assert a.ok and a.body == PNG and a.sha256 == hashlib.sha256(PNG).hexdigest()
    assert a.status == 200 and a.content_type == "image/png"
    b = by_url[site.url("/img/b.jpg")]  # data-src wins over a data: placeholder
    assert b.ok and b.body == JPEG and b.content_type == "image/jpeg"
    missing = by_url[site.url("/img/missing.png")]
    assert not missing.ok and missing.error_kind == "http_status" and "404" in (missing.error or "")
    assert missing.body == b"" and missing.sha256 == ""
    huge = by_url[site.url("/img/huge.png")]
    assert not huge.ok and huge.error_kind == "too_large" and "上限" in (huge.error or "")
    data = by_url[DATA_URI]
    assert data.ok and data.body == TINY and data.status == 0 and data.content_type == "image/png"
    moved = by_url[site.url("/img/moved.png")]  # redirects are followed; the URL stays the page's
    assert moved.ok and moved.body == JPEG
    # related (qualification) page images are included; a.png is listed once per page
    assert site.url("/img/license.png") in by_url
    assert [i.url for i in item.images].count(site.url("/img/a.png")) == 1
    # the other page shares a.png: it is downloaded once in the crawl
    assert [i.url for i in other.images] == [site.url("/img/a.png")] and other.images[0].body == PNG
    assert hits.count("/img/a.png") == 1
    # results still pickle (they cross the process boundary)
    assert pickle.loads(pickle.dumps(item)) == item


def test_image_limit_per_page_and_default_off() -> None:
    with LocalSite(_routes()) as site:
        limited = fetch_pages([site.url("/many")], FetchSettings(timeout_s=2, retries=0, fetch_images=True,
                                                                 max_images_per_page=3))[0]
        off = fetch_pages([site.url("/plain")], FetchSettings(timeout_s=2, retries=0))[0]
        hits = list(site.hits)
    assert [i.ok for i in limited.images] == [True, True, True, False, False]
    assert limited.images[3].error_kind == "limit"
    assert "/img/n3.png" not in hits
    assert off.ok and off.images == ()
    assert "/img/a.png" not in hits


def test_failed_page_has_no_images_and_broken_image_host_does_not_fail_page() -> None:
    page = '<html><body><p>商品</p><img src="http://127.0.0.1:9/x.png"></body></html>'
    # another loopback port is refused by the fetch policy unless allow-listed (tests/hostile/)
    with LocalSite({"/p": html(page)}) as site:
        ok, missing = fetch_pages([site.url("/p"), site.url("/nope")], replace(IMAGES, allow_hosts=("127.0.0.1",)))
    assert ok.ok and len(ok.images) == 1 and ok.images[0].error_kind == "connection"
    assert not missing.ok and missing.images == ()


def test_decode_data_uri() -> None:
    assert decode_data_uri("data:,a%20b") == ("text/plain", b"a b")
    assert decode_data_uri(DATA_URI) == ("image/png", TINY)
    with pytest.raises(ValueError):
        decode_data_uri("data:image/png;base64,***")
    assert isinstance(ImageCapture.skipped("u", "limit", "x"), ImageCapture)
