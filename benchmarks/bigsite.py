"""A static platform of thousands of pages for the sweep benchmark, and a fast server for it.

``generate(root, products=2000, shops=40)`` writes a home page, paginated shop pages (with a
qualification page each) and product pages built from the demo platform's real product pages
(so the analyzers see realistic text); ``serve(root)`` runs Twisted's static file server in a
separate process and returns its base URL. Run directly to try it::

    python benchmarks/bigsite.py /tmp/bigsite --products 2000   # generate, serve until Ctrl-C
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
import time
from importlib import resources
from pathlib import Path

PER_PAGE = 25  # product links per shop listing page

PROFILE = """\
name: bigsite
title: 基准测试站点
start_urls: ["{base}/index.html"]
shop_links: ['/shops/s\\d+/index\\.html$']
product_links: ['/products/p\\d+\\.html$']
pagination: ['/shops/s\\d+/index-\\d+\\.html$']
qualification_link_words: [资质, 证照, 营业执照]
"""

_PAGE = """<!DOCTYPE html><html><head><meta charset="utf-8"><title>{title}</title></head>
<body><h1>{title}</h1>{body}</body></html>
"""


def _demo_products() -> list[bytes]:
    site = resources.files("mdwatch.demo").joinpath("site")
    manifest = json.loads(site.joinpath("manifest.json").read_text(encoding="utf-8"))
    return [site.joinpath(e["path"].lstrip("/")).read_bytes() for e in manifest
            if e["kind"] == "product" and e["encoding"] == "utf-8"]


def generate(root: Path, products: int = 2000, shops: int = 40) -> int:
    """Write the site under ``root``; returns the number of HTML pages (shop listings included)."""
    root.mkdir(parents=True, exist_ok=True)
    (root / "products").mkdir(exist_ok=True)
    (root / "robots.txt").write_text("User-agent: *\nDisallow:\n", encoding="utf-8")
    templates = _demo_products()
    shop_links = re.compile(rb'href="/shops/[^/"]+/')
    pages = 0
    owner: dict[int, int] = {n: n % shops for n in range(1, products + 1)}
    for n in range(1, products + 1):
        body = shop_links.sub(f'href="/shops/s{owner[n]:03d}/'.encode(), templates[n % len(templates)])
        (root / "products" / f"p{n:05d}.html").write_bytes(body)
        pages += 1
    for s in range(shops):
        shop_dir = root / "shops" / f"s{s:03d}"
        shop_dir.mkdir(parents=True, exist_ok=True)
        mine = [n for n in range(1, products + 1) if owner[n] == s]
        chunks = [mine[i:i + PER_PAGE] for i in range(0, len(mine), PER_PAGE)] or [[]]
        for i, chunk in enumerate(chunks):
            links = "".join(f'<li><a href="/products/p{n:05d}.html">商品 {n}</a> ¥{n % 500 + 9}.00</li>' for n in chunk)
            nav = f'<a href="/shops/s{s:03d}/index-{i + 2}.html">下一页</a>' if i + 1 < len(chunks) else ""
            listing = (f'<p>店铺首页 全部商品 联系客服：400-800-{s:04d}</p><a href="qualification.html">店铺资质</a>'
                    f"<ul>{links}</ul>{nav}")
            name = "index.html" if i == 0 else f"index-{i + 1}.html"
            (shop_dir / name).write_text(_PAGE.format(title=f"基准店铺 {s} 旗舰店", body=listing), encoding="utf-8")
            pages += 1
        qual = "<p>营业执照 统一社会信用代码：91330100MA2XXXXX0X 医疗器械经营许可证</p>"
        (shop_dir / "qualification.html").write_text(_PAGE.format(title="店铺资质", body=qual), encoding="utf-8")
        pages += 1
    home = "".join(f'<li><a href="/shops/s{s:03d}/index.html">基准店铺 {s} 旗舰店</a></li>' for s in range(shops))
    (root / "index.html").write_text(_PAGE.format(title="基准平台", body=f"<ul>{home}</ul>"), encoding="utf-8")
    (root / "bigsite.yaml").write_text(PROFILE, encoding="utf-8")
    return pages + 1


_SERVER = """
import sys
from twisted.internet import reactor
from twisted.web.server import Site
from twisted.web.static import File
resource = File(sys.argv[1])
resource.contentTypes[".html"] = "text/html; charset=utf-8"
site = Site(resource)
site.log = lambda request: None
port = reactor.listenTCP(0, site, interface="127.0.0.1")
print(port.getHost().port, flush=True)
reactor.run()
"""


def serve(root: Path) -> tuple[str, subprocess.Popen[str]]:
    """Serve ``root`` with Twisted's static server in a child process: ``(base URL, process)``."""
    proc = subprocess.Popen([sys.executable, "-c", _SERVER, str(root)], stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    port = int(proc.stdout.readline().strip())
    return f"http://127.0.0.1:{port}", proc


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("root", type=Path)
    parser.add_argument("--products", type=int, default=2000)
    parser.add_argument("--shops", type=int, default=40)
    args = parser.parse_args()
    pages = generate(args.root, args.products, args.shops)
    base, proc = serve(args.root)
    print(f"{pages} pages at {base}/index.html (profile: {args.root / 'bigsite.yaml'}); Ctrl-C to stop")
    return serve_until_interrupted(proc)


def serve_until_interrupted(proc: subprocess.Popen[str]) -> int:
    """Wait while the server ``proc`` runs; Ctrl-C stops it."""
    try:
        while proc.poll() is None:
            time.sleep(1)
    except KeyboardInterrupt:
        proc.terminate()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
