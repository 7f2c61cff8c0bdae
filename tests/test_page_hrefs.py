"""The sweep's link extraction gives what parsel's ``a::attr(href)`` gives, on awkward pages too."""

from __future__ import annotations

import pytest
from scrapy.http import HtmlResponse

from mdwatch.crawler.spiders import page_hrefs

PAGES = [
    b"",
    b"   \n",
    b'<a href="/a">x</a><a>no href</a><a href="">empty</a>',
    b'<html><body><!-- <a href="/hidden">c</a> --><a href=" /spaced ">s</a>\x00<a href="/after-nul">n</a>',
    b'<p><a href="/1"><a href="/2">nested</a></a><A HREF="/upper">u</A><table><a href="/t">',
    '<meta charset="gbk"><a href="/商品?id=1">药</a><a href="/店铺">店</a>'.encode("gbk"),
    b'<a href="/ok">ok</a>\xff\xfe<a href="/after-bad-bytes">b</a>',
    b"<script>document.write('<a href=\"/in-script\">')</script><a href=\"/real\">r</a>",
    b'<svg><a href="/svg-link">s</a></svg><math><a href="/m">m</a></math>',
]


@pytest.mark.parametrize("body", PAGES)
def test_same_links_as_parsel(body: bytes) -> None:
    page = HtmlResponse(url="http://127.0.0.1/", body=body)
    assert page_hrefs(page) == page.css("a::attr(href)").getall()


def test_gbk_declared_in_the_header() -> None:
    body = '<a href="/商品">药</a>'.encode("gb18030")
    page = HtmlResponse(url="http://127.0.0.1/", body=body, headers={"Content-Type": "text/html; charset=gb18030"})
    assert page_hrefs(page) == ["/商品"] == page.css("a::attr(href)").getall()
