"""The browser outside the crawl, and the sweep's refusal lines (issue 10 item 2, remaining gaps).

- ``mdwatch profile check`` renders a JavaScript page with ``render_html``, which runs Chromium
  behind a ``PinProxy`` judged by the fetch policy: the script's ``fetch()`` of a name the test
  resolver maps to 10.0.0.5 is refused, one Chinese line on stderr, nothing leaves loopback;
- ``mdwatch sweep`` says the browser's refused requests as the sweep's error messages, once each;
- the evidence screenshotter renders a captured page from its captured bytes alone: the page's
  images, style sheet, ``fetch()`` and WebSocket (on a name mapped to 10.0.0.5, and on the
  captured page's own origin on 127.0.0.1, which the socket guard would not catch) are never
  requested.

All three run under ``guarded_mdwatch.py`` (fake resolver, socket guard: no packet off loopback).
"""

from __future__ import annotations

import io
import os
import subprocess
import sys
from pathlib import Path

import pytest
from localsite import LocalSite, Reply, html

from mdwatch.crawler.browser import CHROMIUM_PATH

HERE = Path(__file__).resolve().parent
GUARDED = HERE / "guarded_mdwatch.py"
TEST_HOSTS = {"ten5.test": "10.0.0.5", "img.test": "10.0.0.5"}
SECRET = "mdwatch-gap-secret-7f3a"

JS_PAGE = """<!doctype html><html><head><meta charset="utf-8"><title>口罩商品</title></head><body>
<div id="app"></div>
<script>
document.getElementById("app").innerHTML = "<h1>医用外科口罩</h1><p>二类医疗器械，注册证编号：苏械注准20202140001。</p>";
fetch("http://ten5.test:{port}/secret").then(r => r.text()).then(t => {{ document.body.append(t); }}).catch(() => {{}});
</script>
</body></html>
"""


def _need_chromium() -> None:
    if not os.access(CHROMIUM_PATH, os.X_OK):
        if os.environ.get("MDWATCH_REQUIRE_SERVICES", "").strip() == "1":
            pytest.fail(f"{CHROMIUM_PATH} is missing")
        pytest.skip(f"{CHROMIUM_PATH} is missing")


def _guard_env(tmp_path: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if "proxy" not in k.lower() and k != "MDWATCH_ALLOW_HOSTS"}
    env["MDWATCH_TEST_HOSTS"] = ",".join(f"{k}={v}" for k, v in TEST_HOSTS.items())
    env["MDWATCH_TEST_GUARD_LOG"] = str(tmp_path / "guard.log")
    env["XDG_DATA_HOME"] = str(tmp_path / "xdg")
    env["XDG_CACHE_HOME"] = str(tmp_path / "xdg-cache")
    env["MDWATCH_OCR_ENGINE"] = "none"
    env.pop("MDWATCH_DB_URL", None)
    return env


def _guarded(tmp_path: Path, *args: str, timeout: float = 240) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, str(GUARDED), *args], env=_guard_env(tmp_path), capture_output=True,
                          text=True, timeout=timeout, cwd=tmp_path)


def _no_violation(tmp_path: Path, proc: subprocess.CompletedProcess[str]) -> None:
    assert "Traceback" not in proc.stderr and "Traceback" not in proc.stdout, proc.stderr
    log = tmp_path / "guard.log"
    assert not log.exists() or log.read_text(encoding="utf-8") == "", log.read_text(encoding="utf-8")


def _refused(text: str, name: str) -> list[str]:
    return [line.strip() for line in text.splitlines() if "已拒绝：" in line and name in line]


def test_profile_check_renders_behind_the_pinning_proxy(tmp_path: Path) -> None:
    _need_chromium()
    with (LocalSite({"/secret": html(SECRET)}) as inner,
          LocalSite({"/js.html": html(JS_PAGE.format(port=inner.port))}) as site):
        proc = _guarded(tmp_path, "profile", "check", "generic", site.url("/js.html"))
    _no_violation(tmp_path, proc)
    assert proc.returncode == 0, proc.stderr
    assert "使用浏览器：是" in proc.stdout and "浏览器渲染后" in proc.stdout, proc.stdout
    lines = _refused(proc.stderr, "ten5.test")
    assert len(lines) == 1, proc.stderr
    assert "10.0.0.0/8" in lines[0] and "公网地址" in lines[0]
    assert inner.hits == []


def test_render_html_reports_refusals_and_keeps_the_typed_host(tmp_path: Path) -> None:
    _need_chromium()
    snippet = (
        "from mdwatch.crawler.browser import render_html\n"
        "refusals = []\n"
        "page, final = render_html({url!r}, refusals=refusals)\n"
        "print('RENDERED', '苏械注准20202140001' in page, final)\n"
        "print('\\n'.join(refusals))\n"
    )
    with (LocalSite({"/secret": html(SECRET)}) as inner,
          LocalSite({"/js.html": html(JS_PAGE.format(port=inner.port))}) as site):
        url = site.url("/js.html")
        proc = _guarded(tmp_path, "--python", snippet.format(url=url), timeout=120)
    _no_violation(tmp_path, proc)
    assert proc.returncode == 0, proc.stderr
    assert f"RENDERED True {url}" in proc.stdout, proc.stdout + proc.stderr
    assert len(_refused(proc.stdout, "ten5.test")) == 1, proc.stdout
    assert SECRET not in proc.stdout and inner.hits == []


def test_sweep_says_the_browsers_refusal_once(tmp_path: Path) -> None:
    _need_chromium()
    page = "<html><head><meta charset='utf-8'><title>{t}</title></head><body><p>{t}</p>{links}</body></html>"
    with LocalSite({"/secret": html(SECRET)}) as inner:
        routes = {
            "/": html(page.format(t="首页", links="<a href='/a.html'>A</a> <a href='/js.html'>JS</a>")),
            "/a.html": html(page.format(t="A 页面", links="<a href='/js.html'>JS</a>")),
            "/js.html": html(JS_PAGE.format(port=inner.port)),
        }
        with LocalSite(routes) as site:
            db = tmp_path / "sweep.db"
            proc = _guarded(tmp_path, "sweep", "generic", "--base-url", site.url("/").rstrip("/"), "--db",
                            f"sqlite:///{db}", "--workers", "0", "--ocr-engine", "none")
    _no_violation(tmp_path, proc)
    assert proc.returncode in (0, 1), proc.stdout + proc.stderr
    said = _refused(proc.stdout + "\n" + proc.stderr, "ten5.test")
    assert len(said) == 1, proc.stdout + proc.stderr
    assert "10.0.0.0/8" in said[0]
    assert inner.hits == []
    assert SECRET not in db.read_bytes().decode("latin-1")


SHOT = """
import io, sys
from PIL import Image
from mdwatch.crawler.evidence import Screenshotter
page = {page!r}.encode("utf-8")
with Screenshotter(max_height=1200) as shooter:
    png = shooter.full_page_png({url!r}, page, "text/html; charset=utf-8")
    assert shooter.refusals == [], shooter.refusals
print("SHOT", Image.open(io.BytesIO(png)).size)
"""


def test_screenshot_of_a_captured_page_leaves_no_loopback(tmp_path: Path) -> None:
    _need_chromium()
    png = io.BytesIO()
    from PIL import Image

    Image.new("RGB", (8, 8), "red").save(png, "PNG")
    with LocalSite({"/y.png": Reply(body=png.getvalue(), headers={"Content-Type": "image/png"}),
                    "/s.css": Reply(body="body{color:red}", headers={"Content-Type": "text/css"})}) as local:
        page = (
            "<html><head><meta charset='utf-8'>"
            f"<link rel='stylesheet' href='http://127.0.0.1:{local.port}/s.css'></head><body>"
            "<h1>医用外科口罩</h1>"
            "<img src='http://img.test/x.png'>"
            f"<img src='http://127.0.0.1:{local.port}/y.png'>"
            "<img src='/relative.png'>"
            f"<script>try {{ new WebSocket('ws://127.0.0.1:{local.port}/ws'); }} catch (e) {{}}"
            f"fetch('http://127.0.0.1:{local.port}/y.png').catch(() => {{}});</script>"
            "</body></html>"
        )
        # captured from a site on loopback (as the demo is): its own origin is not reached either
        proc = _guarded(tmp_path, "--python", SHOT.format(page=page, url=local.url("/p/1.html")), timeout=120)
    _no_violation(tmp_path, proc)
    assert proc.returncode == 0, proc.stderr
    assert "SHOT (1280," in proc.stdout, proc.stdout + proc.stderr
    assert local.hits == []  # not even loopback: the captured bytes alone
