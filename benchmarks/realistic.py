"""A realistic marketplace for the benchmarks (issue 15): listings as real platforms serve them.

``generate(root, listings=150)`` writes, deterministically from ``seed``, a platform whose
product pages look like a Chinese marketplace's, in what costs a sweep:

- 5–20 detail images per listing, most of them photos (gradients, shapes, texture and sensor
  noise, no text; some at phone-camera size, 2000–3000 px), some of them text: promotional
  banners and registration certificates (``mdwatch.demo.ocrimages``), specification sheets,
  a few "design" listings whose detail section is a dozen text slices (the OCR cap's case);
- images shared the way shops share them: the shop's banner and business licence under one URL
  on every listing of the shop (and its qualification page), a product family's certificate
  under a different URL on each of its listings but with the same bytes (the content hash's
  case), recommendation thumbnails that are other listings' main photos, site icons;
- 30–200 KB of HTML per product page: navigation, breadcrumbs, recommendations, a bundled
  script, configuration and initial-state JSON blobs, around the product text of the demo
  platform's real product pages (so the analyzers see realistic text);
- about 10 % of product pages rendered by JavaScript (``/js/products/…``; the profile routes
  them to Chromium);
- shop pages paginated 25 listings a page, each shop with a qualification page.

Every listing's photos and text images are unique files as far as the crawl can tell (their
own URL and bytes) but are drawn from pools of rendered images: the server (Twisted, in its own
process, as ``bigsite.py``) serves ``/u/KEY/…/NAME`` as the pool image NAME with a JPEG comment
or PNG text chunk holding KEY, so thousands of listings cost seconds to generate, not hours,
while the OCR stage sees as many distinct images as a real platform would. ``manifest.json``
lists each listing's images with their category and content key (benchmarks sample them).

    python benchmarks/realistic.py /tmp/platform --listings 150   # generate and serve until Ctrl-C
"""

from __future__ import annotations

import argparse
import io
import json
import math
import random
import re
import struct
import subprocess
import sys
import time
import zlib
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

SEED = 15
PER_PAGE = 25  # listings per shop listing page
LISTINGS_PER_SHOP = 30
FAMILY = 3  # listings of one product family show the same certificate bytes

PROFILE = """\
name: realistic
title: 仿真电商平台
start_urls: ["{base}/index.html"]
shop_links: ['/shops/s\\d+/index\\.html$']
product_links: ['/products/p\\d+\\.html$']
pagination: ['/shops/s\\d+/index-\\d+\\.html$']
qualification_link_words: [资质, 证照, 营业执照]
browser: ['/js/']
content_selector: "h1"
"""

# categories of image content (the manifest's, and bench_platform's strata)
PHOTO, PHOTO_HIRES, BANNER, SPEC, CERT, CERT_HIRES, ICON = (
    "photo", "photo_hires", "banner", "spec", "cert", "cert_hires", "icon")
CATEGORIES = (PHOTO, PHOTO_HIRES, BANNER, SPEC, CERT, CERT_HIRES, ICON)


# ----------------------------------------------------------------------------- unique bytes


def variant(data: bytes, key: str) -> bytes:
    """``data`` (a JPEG or PNG) with ``key`` in a comment: other bytes (another SHA-256), same pixels."""
    payload = f"mdwatch-bench {key}".encode()
    if data[:2] == b"\xff\xd8":  # JPEG: a COM segment right after SOI
        return data[:2] + b"\xff\xfe" + struct.pack(">H", len(payload) + 2) + payload + data[2:]
    if data[:8] == b"\x89PNG\r\n\x1a\n":  # PNG: a tEXt chunk after IHDR (8 + 25 bytes)
        chunk = b"tEXt" + b"Comment\x00" + payload
        block = struct.pack(">I", len(chunk) - 4) + chunk + struct.pack(">I", zlib.crc32(chunk) & 0xFFFFFFFF)
        return data[:33] + block + data[33:]
    raise ValueError("not a JPEG or PNG")


def unique_url(key: str, slot: str, name: str) -> str:
    """The URL of pool image ``name`` with the bytes of ``key``: one ``key``, one SHA-256, whatever ``slot``."""
    return f"/u/{key}/{slot}/{name}"


# ----------------------------------------------------------------------------- image pools


def _encode(img: Any, fmt: str, **kw: Any) -> bytes:
    buf = io.BytesIO()
    img.save(buf, fmt, **kw)
    return buf.getvalue()


def _photo(rng: random.Random, w: int, h: int, pattern: bool = False) -> Any:
    """A product photo without text: a lit backdrop, a shaded object or two, texture, sensor noise."""
    import numpy as np
    from PIL import Image, ImageDraw, ImageFilter

    nrng = np.random.default_rng(rng.randrange(2**32))
    c1 = np.array([rng.randint(170, 250) for _ in range(3)], dtype=np.float32)
    c2 = np.array([rng.randint(90, 200) for _ in range(3)], dtype=np.float32)
    angle = rng.uniform(0, math.pi)
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    t = (xx * math.cos(angle) + yy * math.sin(angle)) / (w * abs(math.cos(angle)) + h * abs(math.sin(angle)) + 1)
    cx, cy = w * rng.uniform(0.3, 0.7), h * rng.uniform(0.3, 0.7)
    vignette = 1.0 - 0.35 * (((xx - cx) / w) ** 2 + ((yy - cy) / h) ** 2)
    arr = (c1 + (c2 - c1) * t[..., None]) * vignette[..., None]
    img = Image.fromarray(np.clip(arr, 0, 255).astype(np.uint8))
    for _ in range(rng.randint(1, 3)):  # objects: shaded, soft-edged
        ox, oy = rng.randint(w // 5, 4 * w // 5), rng.randint(h // 5, 4 * h // 5)
        rw, rh = rng.randint(w // 10, w // 3), rng.randint(h // 10, h // 3)
        mask = Image.new("L", (w, h), 0)
        draw = ImageDraw.Draw(mask)
        if rng.random() < 0.5:
            draw.ellipse((ox - rw, oy - rh, ox + rw, oy + rh), fill=255)
        else:
            draw.rounded_rectangle((ox - rw, oy - rh, ox + rw, oy + rh), radius=min(rw, rh) // 3, fill=255)
        col = np.array([rng.randint(20, 240) for _ in range(3)], dtype=np.float32)
        shade = np.clip(col * (1.15 - 0.5 * t[..., None]), 0, 255).astype(np.uint8)
        img.paste(Image.fromarray(shade), (0, 0), mask.filter(ImageFilter.GaussianBlur(rng.uniform(1.0, 6.0))))
        if pattern:  # a printed fabric or a grille: many small high-contrast spots (triage's hard case)
            spots = Image.new("L", (w, h), 0)
            sd = ImageDraw.Draw(spots)
            step = rng.randint(14, 22)
            for y in range(oy - rh, oy + rh, step):
                for x in range(ox - rw, ox + rw, step):
                    sd.ellipse((x, y, x + step // 3, y + step // 3), fill=255)
            spots = Image.composite(spots, Image.new("L", (w, h), 0), mask)
            img.paste(Image.new("RGB", (w, h), tuple(int(v) for v in 255 - col)), (0, 0), spots)
    texture = nrng.normal(0, 1, (h // 16 + 1, w // 16 + 1)).astype(np.float32)
    low = np.asarray(Image.fromarray(texture).resize((w, h), Image.Resampling.BICUBIC))
    out = np.asarray(img).astype(np.float32) + low[..., None] * rng.uniform(2, 6)
    out += nrng.normal(0, rng.uniform(2.0, 4.5), out.shape).astype(np.float32)  # sensor noise
    return Image.fromarray(np.clip(out, 0, 255).astype(np.uint8))


_SPEC_ROWS = (
    ("产品名称", ("电子血压计", "医用雾化器", "红外体温计", "血糖仪", "医用制氧机", "颈椎牵引器", "助听器", "医用冷敷贴")),
    ("型号规格", ("YE660A", "NE-C28", "HT-820", "GA-3", "8F-5W", "QY-02", "A2-P", "10cm×12cm")),
    ("电源", ("4节5号电池或电源适配器", "AC 220V 50Hz", "两节7号电池", "锂电池 3.7V")),
    ("测量范围", ("压力 0–299 mmHg，脉搏 40–180 次/分", "32.0℃–42.9℃", "1.1–33.3 mmol/L")),
    ("产品尺寸", ("140×110×60 mm", "180×160×75 mm", "95×45×25 mm")),
    ("净重", ("约 280 g（不含电池）", "约 1.9 kg", "约 65 g")),
    ("包装清单", ("主机、袖带、说明书、保修卡", "主机、雾化杯、面罩、导管", "主机、采血笔、试纸 50 片")),
    ("使用期限", ("5 年", "8 年", "3 年")),
    ("售后服务", ("全国联保，一年质保", "七天无理由退换", "终身技术支持")),
)


def _spec(rng: random.Random, idx: int) -> Any:
    """A specification sheet: title, a ruled table of label / value rows, a footnote."""
    from PIL import Image, ImageDraw

    from mdwatch.demo.ocrimages import font

    w = rng.choice((750, 790))
    rows = [(label, rng.choice(values)) for label, values in _SPEC_ROWS[: rng.randint(6, len(_SPEC_ROWS))]]
    size = rng.choice((26, 28, 30))
    f, title_f = font(size), font(size + 16, bold=True)
    line = int(size * 2.1)
    h = 160 + line * len(rows) + 110
    bg = (255, 255, 255) if rng.random() < 0.6 else (246, 242, 234)
    img = Image.new("RGB", (w, h), bg)
    d = ImageDraw.Draw(img)
    d.rectangle((0, 0, w, 110), fill=rng.choice(((30, 90, 160), (200, 40, 40), (20, 120, 90))))
    d.text((40, 30), "产品参数 PRODUCT SPECS", font=title_f, fill=(255, 255, 255))
    y = 150
    for label, value in rows:
        d.text((50, y), label, font=f, fill=(60, 60, 60))
        d.text((250, y), value, font=f, fill=(20, 20, 20))
        d.line((40, y + line - 10, w - 40, y + line - 10), fill=(200, 200, 200), width=1)
        y += line
    d.text((50, y + 20), f"编号 SP-{idx:04d}  以实物为准，参数仅供参考", font=font(20), fill=(120, 120, 120))
    return img


@dataclass
class Pools:
    """Rendered images by category: name → encoded bytes (files under ``img/base``)."""

    names: dict[str, list[str]] = field(default_factory=dict)
    sizes: dict[str, tuple[int, int]] = field(default_factory=dict)


def _pools(root: Path, rng: random.Random, listings: int) -> Pools:
    from PIL import Image

    from mdwatch.demo.ocrimages import generate_certificates, generate_promos

    base = root / "img" / "base"
    base.mkdir(parents=True, exist_ok=True)
    pools = Pools()

    def keep(category: str, name: str, data: bytes, size: tuple[int, int]) -> None:
        (base / name).write_bytes(data)
        pools.names.setdefault(category, []).append(name)
        pools.sizes[name] = size

    n_photo = min(120, max(24, listings // 2))
    for i in range(n_photo):
        w, h = rng.choice(((800, 800), (750, 1000), (790, 600), (750, 750), (750, 1200)))
        img = _photo(rng, w, h, pattern=i % 20 == 7)
        keep(PHOTO, f"photo-{i:03d}.jpg", _encode(img, "JPEG", quality=rng.choice((82, 85, 90))), img.size)
    for i in range(max(6, n_photo // 8)):  # phone-camera originals uploaded as they are
        w, h = rng.choice(((2400, 2400), (3000, 2250), (2250, 3000), (2000, 2000)))
        img = _photo(rng, w // 3, h // 3).resize((w, h), Image.Resampling.BICUBIC)
        keep(PHOTO_HIRES, f"hires-{i:03d}.jpg", _encode(img, "JPEG", quality=90), img.size)
    for g in generate_promos(48, seed=SEED):
        fmt, ext = ("PNG", "png") if rng.random() < 0.5 else ("JPEG", "jpg")
        keep(BANNER, f"{g.name}.{ext}", _encode(g.image.convert("RGB"), fmt, **({"quality": 88} if fmt == "JPEG" else {})),
             g.image.size)
    for i in range(24):
        img = _spec(rng, i)
        keep(SPEC, f"spec-{i:03d}.png", _encode(img, "PNG"), img.size)
    certs = generate_certificates(36, seed=SEED)
    for g in certs:
        keep(CERT, f"{g.name}.png", _encode(g.image.convert("RGB"), "PNG"), g.image.size)
    for g in certs[:12]:  # scanned at 200 dpi and uploaded as JPEG
        img = g.image.convert("RGB").resize((g.image.width * 2, g.image.height * 2), Image.Resampling.BICUBIC)
        keep(CERT_HIRES, f"{g.name}-scan.jpg", _encode(img, "JPEG", quality=90), img.size)
    for name, size in (("logo.png", (120, 40)), ("sprite.png", (40, 40))):
        icon = Image.new("RGB", size, (230, 60, 30))
        keep(ICON, name, _encode(icon, "PNG"), size)
    return pools


# ----------------------------------------------------------------------------- pages


def _demo_mains() -> list[str]:
    """The ``<main>`` of the demo platform's UTF-8 product pages, without their images."""
    site = resources.files("mdwatch.demo").joinpath("site")
    manifest = json.loads(site.joinpath("manifest.json").read_text(encoding="utf-8"))
    out = []
    for entry in manifest:
        if entry["kind"] != "product" or entry["encoding"] != "utf-8" or entry.get("js"):
            continue
        text = site.joinpath(entry["path"].lstrip("/")).read_text(encoding="utf-8")
        m = re.search(r"<main>(.*)</main>", text, re.S)
        if m is None:
            continue
        main = re.sub(r'<div class="gallery">.*?</div>', "", m.group(1), flags=re.S)
        main = re.sub(r'<div class="breadcrumb">.*?</div>', "", main, flags=re.S)
        out.append(re.sub(r"<img[^>]*>", "", main))
    return out


_CATEGORIES_NAV = ("家用医疗", "康复护理", "血压血糖", "呼吸制氧", "中医理疗", "眼镜视光", "成人用品", "母婴护理",
                   "营养保健", "口罩防护", "医用耗材", "轮椅助行", "按摩器材", "计生用品", "体温计", "隐形眼镜")
_REVIEWS = ("物流很快，包装完好。", "用了一周，操作简单，老人也会用。", "客服回复及时，态度很好。", "和描述一致，做工不错。",
            "第二次购买了，家里人都在用。", "电池要另外买，其他都满意。", "屏幕字很大，看得清楚。", "收到货了，还没开始用。")


def _nav(rng: random.Random) -> str:
    links = "".join(f'<li><a href="/cat/{100 + i}.html?spm=a1z10.{rng.randint(1, 9)}">{name}</a></li>'
                    for i, name in enumerate(_CATEGORIES_NAV))
    subs = "".join(f'<a href="/cat/{200 + i}.html">{_CATEGORIES_NAV[i % len(_CATEGORIES_NAV)]}{i}</a>' for i in range(40))
    return (f'<header class="site-header"><div class="logo"><img src="/img/base/logo.png" alt="仿真电商" width="120" '
            f'height="40"></div><form class="search" action="/search"><input name="q" placeholder="搜索商品/店铺">'
            f'<button>搜索</button></form><ul class="nav">{links}</ul><div class="subnav">{subs}</div></header>')


def _bundle(rng: random.Random, size: int) -> str:
    """A minified-looking script of about ``size`` characters (no text a reader sees)."""
    words = ("function", "return", "var", "this", "prototype", "undefined", "null", "window", "document",
             "addEventListener", "getElementById", "querySelector", "length", "push", "call", "apply")
    parts: list[str] = []
    total = 0
    while total < size:
        name = "".join(rng.choice("abcdefghijklmnopqrstuvwxyz") for _ in range(rng.randint(1, 3)))
        chunk = (f"{rng.choice(words)} {name}(e,t){{var n=e[{rng.randint(0, 99)}]||{{}};"
                 f"return n.{rng.choice(words)}?t.{rng.choice(words)}(n,{rng.randint(0, 9999)}):void 0}};")
        parts.append(chunk)
        total += len(chunk)
    return "".join(parts)


def _state_blob(rng: random.Random, listing: int, size: int) -> str:
    """Initial-state JSON of about ``size`` characters: SKUs, prices, reviews, tracking."""
    skus, reviews = [], []
    total = 0
    n = 0
    while total < size:
        n += 1
        skus.append({"skuId": f"{listing}{n:04d}", "price": f"{rng.randint(19, 999)}.00", "stock": rng.randint(0, 999),
                     "props": f"颜色:{rng.choice(('白色', '灰色', '蓝色'))};套餐:{rng.choice(('标配', '套装一', '套装二'))}"})
        reviews.append({"user": f"t***{rng.randint(10, 99)}", "stars": rng.randint(3, 5), "text": rng.choice(_REVIEWS),
                        "date": f"2025-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}"})
        total += 220
    return json.dumps({"item": {"id": listing, "skus": skus}, "rate": {"list": reviews},
                       "track": {"spm": f"a1z10.{rng.randint(1, 9)}.{rng.randint(100, 999)}"}}, ensure_ascii=False)


_PAGE = """<!DOCTYPE html><html lang="zh-CN"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1"><title>{title}</title>
<link rel="stylesheet" href="/static/site.css"><script>window.__CONFIG__={config};</script>
<script>{bundle}</script></head>
<body>{body}</body></html>
"""

_JS_PAGE = """<!DOCTYPE html><html lang="zh-CN"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1"><title>{title}</title>
<script>{bundle}</script></head>
<body><div id="app"></div><noscript>请启用 JavaScript 后浏览本页面。</noscript>
<script type="application/json" id="__STATE__">{state}</script>
<script>
(function () {{
  var state = JSON.parse(document.getElementById("__STATE__").textContent);
  var view = document.createElement("template");
  view.innerHTML = state.body;
  document.title = state.title;
  document.body.replaceChildren(view.content);
}})();
</script></body></html>
"""


@dataclass
class Listing:
    number: int
    shop: int
    js: bool
    path: str
    images: list[tuple[str, str, str]] = field(default_factory=list)  # (url, category, content key)
    main: str = ""  # URL of the main photo (thumbnails on shop pages and recommendations)

    @property
    def detail(self) -> list[tuple[str, str, str]]:
        return [i for i in self.images if i[1] != ICON]


_PRODUCT_CERT = re.compile(r"-(registration|filing)[.-]")  # a product's own certificate (not a business's)


def _compose(rng: random.Random, n: int, shop: int, pools: Pools, shop_assets: dict[str, tuple[str, str, str]],
             design: bool) -> list[tuple[str, str, str]]:
    """The detail images of listing ``n``: (URL, category, content key), in page order."""
    images: list[tuple[str, str, str]] = []
    family = n // FAMILY
    count = rng.randint(5, 20)
    if design:
        count = max(count, 16)
    if rng.random() < 0.75:  # the product's registration certificate (or filing form), shared by its family
        hires = random.Random(family).random() < 0.25
        pool = [n for n in pools.names[CERT_HIRES if hires else CERT] if _PRODUCT_CERT.search(n)]
        name = pool[family % len(pool)]
        key = f"f{family:05d}"
        images.append((unique_url(key, f"p{n:05d}", name), CERT_HIRES if hires else CERT, key + "/" + name))
    if rng.random() < 0.7:
        images.append(shop_assets["banner"])
    if rng.random() < 0.4:
        images.append(shop_assets["license"])
    texts = rng.choice((0, 0, 1, 1, 1, 2, 2, 3)) if not design else rng.randint(10, 14)
    for k in range(texts):
        category = BANNER if rng.random() < 0.6 else SPEC
        name = rng.choice(pools.names[category])
        key = f"p{n:05d}-t{k}"
        images.append((unique_url(key, "d", name), category, key + "/" + name))
    k = 0
    while len(images) < count or k < 2:  # a listing has its product photos, at least two
        category = PHOTO_HIRES if rng.random() < 0.1 else PHOTO
        name = rng.choice(pools.names[category])
        key = f"p{n:05d}-i{k}"
        images.insert(min(len(images), rng.randint(0, 2)) if k < 2 else len(images),
                      (unique_url(key, "i", name), category, key + "/" + name))
        k += 1
    return images


def _img_tags(images: list[tuple[str, str, str]], lazy: bool) -> str:
    attr = "data-src" if lazy else "src"
    placeholder = ' src="data:image/gif;base64,R0lGODlhAQABAAAAACw="' if lazy else ""
    return "".join(f'<img {attr}="{url}"{placeholder} alt="详情图">' for url, _, _ in images)


def _product_body(rng: random.Random, listing: Listing, main: str, title: str, recs: list[Listing]) -> str:
    shop = f"/shops/s{listing.shop:03d}/index.html"
    main = re.sub(r'href="/shops/[^"]+"', f'href="{shop}"', main)
    detail = listing.detail
    gallery, rest = detail[:3], detail[3:]
    rec_items = "".join(
        f'<li><a href="{r.path}"><img data-src="{r.main}" alt="推荐"><span>{title[:6]} 同款 {r.number}</span>'
        f"<em>¥{rng.randint(19, 699)}.00</em></a></li>" for r in recs)
    return (f"{_nav(rng)}<main><div class=\"breadcrumb\"><a href=\"/index.html\">首页</a> &gt; "
            f"<a href=\"{shop}\">仿真店铺 {listing.shop} 旗舰店</a></div>"
            f"<div class=\"gallery\">{_img_tags(gallery, False)}</div>{main}"
            f"<section class=\"desc\"><h2>图文详情</h2>{_img_tags(rest, True)}</section>"
            f"<section class=\"recommend\"><h3>店铺推荐</h3><ul>{rec_items}</ul></section>"
            f"<div class=\"sprite\"><img src=\"/img/base/sprite.png\" alt=\"\"></div></main>"
            f"<footer class=\"site-footer\"><p>关于我们 | 帮助中心 | 隐私政策 | 规则中心</p>"
            f"<p>Copyright 2018-2026 仿真电商 京ICP备18012345号-1</p></footer>")


def _write_product(root: Path, rng: random.Random, listing: Listing, main: str, recs: list[Listing]) -> int:
    m = re.search(r'<h1 class="title">(.*?)</h1>', main)
    title = m.group(1) if m else f"商品 {listing.number}"
    target = int(math.exp(rng.uniform(math.log(30_000), math.log(200_000))))  # bytes, log-uniform
    body = _product_body(rng, listing, main, title, recs)
    fixed = len(body.encode()) + 1200
    left = max(target - fixed, 4000)
    state = _state_blob(rng, listing.number, left // 2 // 2)  # JSON's Chinese is 3 bytes a character
    bundle = _bundle(rng, max(left - len(state.encode()) - 1000, 1000))
    if listing.js:
        state_doc = json.dumps({"title": title, "body": body, "init": json.loads(state)})
        html = _JS_PAGE.format(title=title, bundle=bundle, state=state_doc.replace("</", "<\\/"))
    else:
        escaped = state.replace("</", "<\\/")
        body += f'<script type="application/json" id="__INIT_DATA__">{escaped}</script>'
        html = _PAGE.format(title=title, config=json.dumps({"env": "prod", "item": listing.number}), bundle=bundle,
                            body=body)
    out = root / listing.path.lstrip("/")
    out.parent.mkdir(parents=True, exist_ok=True)
    data = html.encode()
    out.write_bytes(data)
    return len(data)


@dataclass
class Platform:
    root: Path
    listings: list[Listing]
    shops: int
    pages: int  # HTML pages (home, shop listings, qualification pages, products)
    page_bytes: list[int]  # sizes of the product pages
    seconds: float  # generation time

    def manifest(self) -> dict[str, Any]:
        return {"shops": self.shops, "pages": self.pages,
                "listings": [{"number": li.number, "shop": li.shop, "js": li.js, "path": li.path,
                              "images": [list(i) for i in li.images]} for li in self.listings]}


def generate(root: Path, listings: int = 150, *, seed: int = SEED, shops: int | None = None) -> Platform:
    """Write the platform under ``root`` (deterministic for ``seed``)."""
    started = time.perf_counter()
    rng = random.Random(seed)
    root.mkdir(parents=True, exist_ok=True)
    (root / "robots.txt").write_text("User-agent: *\nDisallow:\n", encoding="utf-8")
    (root / "static").mkdir(exist_ok=True)
    (root / "static" / "site.css").write_text("body{font-family:sans-serif}", encoding="utf-8")
    pools = _pools(root, random.Random(seed + 1), listings)
    shops = shops or max(2, math.ceil(listings / LISTINGS_PER_SHOP))
    mains = _demo_mains()
    shop_assets: list[dict[str, tuple[str, str, str]]] = []
    for s in range(shops):
        banner = pools.names[BANNER][(s * 7) % len(pools.names[BANNER])]
        licences = [n for n in pools.names[CERT] if not _PRODUCT_CERT.search(n)]  # 营业执照, 经营许可证…
        lic = licences[(s * 5 + 3) % len(licences)]
        shop_assets.append({
            "banner": (unique_url(f"s{s:03d}-banner", "shop", banner), BANNER, f"s{s:03d}-banner/{banner}"),
            "license": (unique_url(f"s{s:03d}-license", "shop", lic), CERT, f"s{s:03d}-license/{lic}"),
        })
    items: list[Listing] = []
    for n in range(1, listings + 1):
        lrng = random.Random(seed * 1_000_003 + n)
        shop = (n - 1) % shops
        js = lrng.random() < 0.10
        path = f"/js/products/p{n:05d}.html" if js else f"/products/p{n:05d}.html"
        listing = Listing(n, shop, js, path)
        listing.images = _compose(lrng, n, shop, pools, shop_assets[shop], design=lrng.random() < 0.04)
        listing.main = next(url for url, category, _ in listing.images if category in (PHOTO, PHOTO_HIRES))
        items.append(listing)
    by_shop: dict[int, list[Listing]] = {}
    for listing in items:
        by_shop.setdefault(listing.shop, []).append(listing)
    page_bytes = []
    icons = [("/img/base/logo.png", ICON, "logo.png"), ("/img/base/sprite.png", ICON, "sprite.png")]
    for listing in items:
        lrng = random.Random(seed * 7_000_003 + listing.number)
        mates = [m for m in by_shop[listing.shop] if m.number != listing.number]
        recs = lrng.sample(mates, min(4, len(mates)))
        page_bytes.append(_write_product(root, lrng, listing, mains[listing.number % len(mains)], recs))
        thumbs = [next(i for i in r.images if i[0] == r.main) for r in recs]
        listing.images = [icons[0], *listing.images, *thumbs, icons[1]]
    pages = len(items) + _write_shops(root, shops, by_shop, shop_assets) + 1
    home = "".join(f'<li><a href="/shops/s{s:03d}/index.html">仿真店铺 {s} 旗舰店</a></li>' for s in range(shops))
    (root / "index.html").write_text(
        _PAGE.format(title="仿真电商平台", config="{}", bundle=_bundle(rng, 20_000),
                     body=f"{_nav(rng)}<main><h1>仿真电商平台</h1><ul>{home}</ul></main>"), encoding="utf-8")
    (root / "realistic.yaml").write_text(PROFILE, encoding="utf-8")
    platform = Platform(root, items, shops, pages, page_bytes, 0.0)
    (root / "manifest.json").write_text(json.dumps(platform.manifest(), ensure_ascii=False), encoding="utf-8")
    platform.seconds = time.perf_counter() - started
    return platform


def _write_shops(root: Path, shops: int, by_shop: dict[int, list[Listing]],
                 assets: list[dict[str, tuple[str, str, str]]]) -> int:
    pages = 0
    for s in range(shops):
        shop_dir = root / "shops" / f"s{s:03d}"
        shop_dir.mkdir(parents=True, exist_ok=True)
        mine = by_shop.get(s, [])
        chunks = [mine[i:i + PER_PAGE] for i in range(0, len(mine), PER_PAGE)] or [[]]
        banner = assets[s]["banner"][0]
        for i, chunk in enumerate(chunks):
            links = "".join(f'<li><a href="{li.path}"><img data-src="{li.main}" alt="商品"></a>'
                            f'<a href="{li.path}">商品 {li.number}</a> ¥{li.number % 500 + 9}.00</li>' for li in chunk)
            nav = f'<a href="/shops/s{s:03d}/index-{i + 2}.html">下一页</a>' if i + 1 < len(chunks) else ""
            body = (f'<main><h1>仿真店铺 {s} 旗舰店</h1><img src="{banner}" alt="店铺活动">'
                    f'<p>店铺首页 全部商品 联系客服：400-800-{s:04d}</p><a href="qualification.html">店铺资质</a>'
                    f"<ul>{links}</ul>{nav}</main>")
            name = "index.html" if i == 0 else f"index-{i + 1}.html"
            (shop_dir / name).write_text(_PAGE.format(title=f"仿真店铺 {s} 旗舰店", config="{}", bundle="", body=body),
                                         encoding="utf-8")
            pages += 1
        qual = (f'<main><h1>店铺资质</h1><p>营业执照 统一社会信用代码：91330100MA2XXXXX0X 医疗器械经营许可证</p>'
                f'<img src="{assets[s]["license"][0]}" alt="营业执照"></main>')
        (shop_dir / "qualification.html").write_text(_PAGE.format(title="店铺资质", config="{}", bundle="", body=qual),
                                                     encoding="utf-8")
        pages += 1
    return pages


# ----------------------------------------------------------------------------- server

_TYPES = {".jpg": "image/jpeg", ".png": "image/png", ".html": "text/html; charset=utf-8", ".css": "text/css",
          ".txt": "text/plain", ".json": "application/json", ".yaml": "text/plain"}


def _server_main(root: Path) -> None:
    """Twisted's static server for ``root`` plus ``/u/KEY/…/NAME`` (a pool image with KEY's bytes)."""
    from twisted.internet import reactor as _reactor
    from twisted.web.resource import Resource
    from twisted.web.server import Site
    from twisted.web.static import File

    base = root / "img" / "base"
    cache: dict[str, bytes] = {}

    class Unique(Resource):
        isLeaf = True

        def render_GET(self, request: Any) -> bytes:
            parts = [p.decode() for p in request.postpath]
            if len(parts) < 3 or "/" in parts[-1] or parts[-1].startswith("."):
                request.setResponseCode(404)
                return b"not found"
            name = parts[-1]
            if name not in cache:
                path = base / name
                if not path.is_file():
                    request.setResponseCode(404)
                    return b"not found"
                cache[name] = path.read_bytes()
            request.setHeader(b"content-type", _TYPES.get(Path(name).suffix, "application/octet-stream").encode())
            return variant(cache[name], parts[0])

    reactor: Any = _reactor  # the module's reactor object is typed as the module
    files = File(str(root))
    files.contentTypes.update(_TYPES)
    unique: Any = Unique()
    files.putChild(b"u", unique)
    site = Site(files)
    site.log = lambda request: None  # type: ignore[method-assign]
    port = reactor.listenTCP(0, site, interface="127.0.0.1")
    print(port.getHost().port, flush=True)
    reactor.run()


def serve(root: Path) -> tuple[str, subprocess.Popen[str]]:
    """Serve ``root`` in a child process: ``(base URL, process)``."""
    proc = subprocess.Popen([sys.executable, __file__, "--serve", str(root)], stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    port = int(proc.stdout.readline().strip())
    return f"http://127.0.0.1:{port}", proc


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("root", type=Path)
    parser.add_argument("--listings", type=int, default=150)
    parser.add_argument("--seed", type=int, default=SEED)
    parser.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)  # the server child
    args = parser.parse_args()
    if args.serve:
        _server_main(args.root)
        return 0
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    platform = generate(args.root, args.listings, seed=args.seed)
    base, proc = serve(args.root)
    print(f"{platform.pages} pages ({len(platform.listings)} listings) at {base}/index.html "
          f"(profile: {args.root / 'realistic.yaml'}); generated in {platform.seconds:.1f} s; Ctrl-C to stop")
    from bigsite import serve_until_interrupted  # run as a script, benchmarks/ is sys.path[0]

    return serve_until_interrupted(proc)


if __name__ == "__main__":
    raise SystemExit(main())
