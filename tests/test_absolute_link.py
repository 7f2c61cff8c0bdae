"""The crawl's quick path for links gives exactly what urljoin and urldefrag give."""

from __future__ import annotations

from urllib.parse import urldefrag, urljoin, urlsplit

import pytest

from mdwatch.crawler.profile import absolute_link

BASES = ["http://127.0.0.1:8000/shops/s1/index.html", "https://shop.test/p/1?x=1#top", "http://a.test",
         "https://a.test:8443/", "http://user@a.test/dir/"]
HREFS = [
    "/products/p1.html", "/products/p1.html#reviews", "/a//b", "/a/./b", "/a/../b", "/", "/?", "/#", "/a?#x",
    "/a?b=1&c=2", "/a;params?q", "/商品/1", "/a%20b", "/a\tb", "/a\\b", "//cdn.test/x.js", "//cdn.test",
    "http://127.0.0.1:8000/x", "http://127.0.0.1:8000", "http://127.0.0.1:8000?q", "https://other.test/y#f",
    "https://other.test", "https://other.test/a/../b", "http://a.test//x", "http://a.test/x?", "http://a.test/x#",
    "HTTP://A.TEST/X", "ftp://a.test/x", "p2.html", "../p3.html", "./p4.html", "?page=2", "#frag", "  /spaced  ",
    "javascript:void(0)", "mailto:a@b", "data:text/html,x", "", "http:/x", "https:x", "/a?u=http://x.test/y",
]


def _reference(page_url: str, href: str) -> str | None:
    href = href.strip()
    if not href or href.lower().startswith(("javascript:", "mailto:", "tel:", "data:", "#")):
        return None
    url = urldefrag(urljoin(page_url, href))[0]
    return url if urlsplit(url).scheme in ("http", "https") else None


@pytest.mark.parametrize("base", BASES)
def test_same_as_urljoin(base: str) -> None:
    for href in HREFS:
        assert absolute_link(base, href) == _reference(base, href), (base, href)


def test_same_as_urljoin_on_random_links() -> None:
    import random

    rng = random.Random(15)
    pieces = ["/", "//", ".", "..", "a", "B", "?", "#", "&", "=", ";", ":", "%2F", "\t", "\\", " ", "商", "http://",
              "https://", "x.test", ":8080", "@"]
    for _ in range(20000):
        href = "".join(rng.choice(pieces) for _ in range(rng.randint(1, 8)))
        if rng.random() < 0.5:
            href = rng.choice(["/", "http://x.test/", "https://x.test/"]) + href
        base = rng.choice(BASES)
        assert absolute_link(base, href) == _reference(base, href), (base, href)
