"""Platform profiles: loading, link classification, and ``mdwatch profile check`` on the demo platform."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from mdwatch.crawler.profile import ProfileError, available_profiles, load_profile
from mdwatch.demo.server import DemoServer, serve

BASE = "http://127.0.0.1:9"


@pytest.fixture(scope="module")
def demo() -> Iterator[DemoServer]:
    with serve() as server:
        yield server


def test_bundled_profiles() -> None:
    assert {"demo", "generic"} <= set(available_profiles())
    profile = load_profile("demo", BASE)
    assert profile.start_urls[0] == f"{BASE}/index.html"
    assert profile.hosts() == frozenset({"127.0.0.1"})
    generic = load_profile("generic", BASE + "/")
    assert generic.start_urls == (f"{BASE}/",) and generic.follow_all and generic.classify == "heuristic"


def test_roles_and_links() -> None:
    p = load_profile("demo", BASE)
    assert p.role_of(f"{BASE}/shops/anfu/index.html") == "shop"
    assert p.role_of(f"{BASE}/products/p001.html") == "product"
    assert p.role_of(f"{BASE}/shops/anfu/index-2.html") == "pagination"
    assert p.role_of(f"{BASE}/shops/anfu/qualification.html") is None
    assert p.page_kind("shop") == "shop" and p.page_kind("pagination") is None
    links = p.links_of(f"{BASE}/shops/anfu/index.html", [
        "/products/p001.html", "../../products/p002.html#top", "/products/p001.html", "index-2.html",
        "/index.html", "http://elsewhere.example/products/p003.html", "javascript:void(0)", "mailto:x@y",
        "/static/site.css",
    ])
    assert links.products == (f"{BASE}/products/p001.html", f"{BASE}/products/p002.html")
    assert links.pagination == (f"{BASE}/shops/anfu/index-2.html", f"{BASE}/index.html")
    assert links.shops == () and links.other == ()
    generic = load_profile("generic", BASE)
    other = generic.links_of(f"{BASE}/", ["/about.html", "/static/site.css", "/img/a.png", "/about.html"])
    assert other.other == (f"{BASE}/about.html",)
    assert p.needs_browser(f"{BASE}/js/shops/x.html") and not p.needs_browser(f"{BASE}/products/p001.html")


def test_profile_errors(tmp_path: Path) -> None:
    with pytest.raises(ProfileError, match="没有名为"):
        load_profile("no-such-platform")
    with pytest.raises(ProfileError, match="--base-url"):
        load_profile("demo")
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: bad\nstart_urls: ['http://a.example/']\nshop_links: ['(']\n", encoding="utf-8")
    with pytest.raises(ProfileError, match="正则表达式无效"):
        load_profile(str(bad))
    good = tmp_path / "mine.yaml"
    good.write_text("start_urls: ['http://a.example/']\nproduct_links: ['/item/']\n", encoding="utf-8")
    mine = load_profile(str(good))
    assert mine.name == "mine" and mine.role_of("http://a.example/item/1") == "product"


def _mdwatch(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "mdwatch.scheduler.cli", *args], capture_output=True,
                          text=True, timeout=120)


def test_profile_check_shop_page(demo: DemoServer) -> None:
    proc = _mdwatch("profile", "check", "demo", demo.url("/shops/anfu/index.html"))
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout
    assert "按链接规则的角色：店铺页" in out
    assert "商品链接：2 个" in out and "/products/p114.html" in out
    assert "资质页（与店铺一并检查）：1 个" in out and "qualification.html" in out
    assert "使用浏览器：否" in out


def test_profile_check_home_page(demo: DemoServer) -> None:
    proc = _mdwatch("profile", "check", "demo", demo.url("/index.html"))
    assert proc.returncode == 0, proc.stderr
    assert "平台首页（起始网址）" in proc.stdout
    shops = next(line for line in proc.stdout.splitlines() if line.startswith("店铺链接："))
    assert int(shops.removeprefix("店铺链接：").split()[0]) >= 22
    assert "/shops/kangrui/index.html" in proc.stdout


def test_profile_check_unknown_profile(demo: DemoServer) -> None:
    proc = _mdwatch("profile", "check", "nope", demo.url("/index.html"))
    assert proc.returncode == 2 and "没有名为 nope" in proc.stdout


def test_ocr_cap_from_profile_or_command_line() -> None:
    from mdwatch.crawler.profile import profile_from_mapping
    from mdwatch.scheduler.jobs.sweep import SweepOptions
    from mdwatch.scheduler.jobs.sweep.run import ocr_cap

    raw = {"name": "capped", "start_urls": ["http://127.0.0.1:1/"]}
    plain, capped = profile_from_mapping(raw), profile_from_mapping({**raw, "ocr_max_images": 5})
    assert (plain.ocr_max_images, capped.ocr_max_images) == (None, 5)
    assert ocr_cap(SweepOptions(), plain) is None  # the sweep's default (12)
    assert ocr_cap(SweepOptions(), capped) == 5
    assert ocr_cap(SweepOptions(ocr_max_images=0), capped) == 0  # the command line wins; 0: no cap
    for bad in (-1, "many", True):
        with pytest.raises(ProfileError, match="ocr_max_images"):
            profile_from_mapping({**raw, "ocr_max_images": bad})
