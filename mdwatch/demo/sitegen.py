"""Generate the bundled demo platform 「康护优选」 from ``spec.yaml``.

Writes static HTML (UTF-8, GBK or GB18030 bytes), placeholder PNGs, the generated certificate and
promotional images (``static/img/``, drawn by :mod:`mdwatch.demo.ocrimages` from the spec and the demo
registry, so the numbers and fields read by OCR match the page and the registry) and ``manifest.json`` into
``mdwatch/demo/site/`` and the labelled truth ``tests/corpus/pages.yaml`` (when the repository's
``tests/`` folder is present). Labels are written per page in the spec; :func:`check_labels`
cross-checks the structural ones (missing number, warning mode, omitted fields, Rx marking,
certificate image) against how the page is rendered, the registry ones (unregistered number,
registration status, shown fields vs the record) against ``registry/demo_registry.csv`` and
``registry/demo_udid.xml``, and the shop qualification ones (licence image, class III goods without
a 经营许可证, validity date) against the shop's spec, so labels, pages and registry cannot drift apart.
Licence dates may be ``{{today+N}}`` tokens: the demo server fills them in on the serving day.

Regenerate with ``python -m mdwatch.demo.sitegen``.
"""

from __future__ import annotations

import argparse
import csv
import html
import json
import re
import shutil
import sys
import unicodedata
import xml.etree.ElementTree as ET
import zlib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from functools import lru_cache
from io import BytesIO
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

from mdwatch.demo.images import png_for

if TYPE_CHECKING:
    from mdwatch.demo.ocrimages import GeneratedImage

HERE = Path(__file__).resolve().parent
SPEC_PATH = HERE / "spec.yaml"
SITE_DIR = HERE / "site"
REPO_ROOT = HERE.parent.parent
LABELS_PATH = REPO_ROOT / "tests" / "corpus" / "pages.yaml"
REGISTRY_DIR = HERE / "registry"
#: URL folder of the generated certificate and promotional images (``site/static/img/``)
GEN_IMG = "/static/img"

# The rule IDs the corpus labels (issue scope), in report order.
LABEL_RULES: tuple[str, ...] = (
    "PLATFORM_FILING_MISSING",
    "SHOP_LICENSE_NO_INVALID",
    "SHOP_LICENSE_NO_NOT_TEXT",
    "SHOP_CONTACT_MISSING",
    "SHOP_BUSINESS_LICENSE_MISSING",
    "PRODUCT_REGNO_MISSING",
    "PRODUCT_REGNO_INVALID",
    "PRODUCT_REGNO_NOT_TEXT",
    "PRODUCT_WARNING_RETAIL_MISSING",
    "PRODUCT_WARNING_FITTING_MISSING",
    "PRODUCT_DETAIL_INCOMPLETE",
    "CLAIM_ABSOLUTE",
    "CLAIM_GUARANTEE",
    "CLAIM_ENDORSEMENT",
    "CLAIM_COMPARATIVE",
    "DRUG_RX_WARNING_MISSING",
    "DRUG_RX_NOT_DISTINGUISHED",
    "DRUG_RX_INFO_BEFORE_REVIEW",
    "DRUG_PROMOTION_BANNED",
    "PRODUCT_UNREGISTERED",
    "PRODUCT_REG_INVALID_STATUS",
    "PRODUCT_INFO_MISMATCH",
    "PRODUCT_CERT_MISSING",
    "PRODUCT_RETAIL_BANNED",
    "SHOP_QUALIFICATION_MISSING",
    "SHOP_SCOPE_EXCEEDED",
    "SHOP_LICENSE_EXPIRED",
    "SHOP_LICENSE_EXPIRING",
    "CLAIM_SCOPE_EXCEEDED",
    "CLAIM_NONDEVICE_MEDICAL",
)

# encoding variant → (codec, <meta charset> in the page, charset in the HTTP Content-Type)
ENCODINGS: dict[str, tuple[str, bool, bool]] = {
    "utf8": ("utf-8", True, True),
    "utf8-meta": ("utf-8", True, False),
    "gbk-meta": ("gbk", True, True),
    "gbk-header": ("gbk", False, True),
    "gbk-meta-only": ("gbk", True, False),
    "gb18030-bare": ("gb18030", False, False),
}

RETAIL_TEXT = {
    "full": "购买和使用前请仔细阅读产品说明书或者在医务人员的指导下购买和使用。",
    "split": "购买和使用前请仔细阅读产品说明书，\n或者在医务人员的 指导下购买和使用。",
    "equivalent": "请仔细阅读产品说明书或者在医务人员的指导下购买和使用。",
    "truncated": "购买和使用前请仔细阅读产品说明书。",
    "short": "请仔细阅读说明书。",
    "none": "",
}
RETAIL_OK = {"full", "split", "equivalent"}

FITTING_TEXT = {
    "lens": {
        "full": "配戴本产品，应由眼视光专业人士进行验配。",
        "draft": "请按照经医学验配的参数选购或者调试使用。",
    },
    "hearing": {
        "full": "验配助听器前应经过专业的检查及听力测试，并在助听器验配师调试并试听试戴和验配师指导下使用。",
        "draft": "请按照经医学验配的参数选购或者调试使用。",
    },
}

RX_WARNING = "处方药须凭处方在药师指导下购买和使用"
RX_BADGES = {
    "rx": "处方药 Rx",
    "rx-symbol": "Rx",
    "otc-a": "甲类非处方药 OTC",
    "otc-b": "乙类非处方药 OTC",
    "none": "",
}

# canonical device field key → default label shown on the page
DEVICE_FIELDS: tuple[tuple[str, str], ...] = (
    ("name", "产品名称"),
    ("regno", "注册证编号"),
    ("model", "型号规格"),
    ("structure", "结构及组成"),
    ("scope", "适用范围"),
    ("contra", "禁忌症"),
    ("registrant", "注册人/备案人"),
    ("manufacturer", "生产企业"),
)
DETAIL_KEYS = ("model", "structure", "scope", "contra", "registrant")


def esc(text: str) -> str:
    return html.escape(text, quote=True)


def el(tag: str, inner: str = "", **attrs: str) -> str:
    """An element whose ``inner`` is already-escaped HTML; attribute values are escaped here."""
    parts = [tag]
    for key, value in attrs.items():
        parts.append(f'{key.rstrip("_").replace("_", "-")}="{esc(value)}"')
    return f"<{' '.join(parts)}>{inner}</{tag}>"


def txt(tag: str, text: object, **attrs: str) -> str:
    """An element holding plain ``text`` (escaped; newlines become <br>)."""
    return el(tag, "<br>\n".join(esc(line) for line in str(text).split("\n")), **attrs)


def img(src: str, alt: str) -> str:
    return f'<img src="{esc(src)}" alt="{esc(alt)}" width="120" height="90">'


def link(href: str, text: str, **attrs: str) -> str:
    return el("a", esc(text), href=href, **attrs)


@dataclass
class Rendered:
    path: str
    kind: str
    html: str
    variant: str
    rules: list[str]
    images: list[str] = field(default_factory=list)
    twin: str | None = None  # a JS-rendered page: the path of its static twin
    page: int = 1  # a paginated shop list: its page number

    @property
    def js(self) -> bool:
        return self.twin is not None

    @property
    def codec(self) -> str:
        return ENCODINGS[self.variant][0]


def document(title: str, body: str, variant: str, *, chrome: bool = True, footer_extra: Sequence[str] = ()) -> str:
    codec, meta, _ = ENCODINGS[variant]
    head = ['<meta name="viewport" content="width=device-width, initial-scale=1">']
    if meta:
        head.insert(0, f'<meta charset="{codec}">')
    head.append(txt("title", title))
    head.append('<link rel="stylesheet" href="/static/site.css">')
    parts = ["<!DOCTYPE html>", '<html lang="zh-CN">', el("head", "\n".join(head)), "<body>"]
    if chrome:
        nav = " ".join(
            link(href, label)
            for href, label in (
                ("/index.html", "首页"),
                ("/index.html#devices", "家用医疗器械"),
                ("/index.html#rehab", "康复护理"),
                ("/index.html#vision", "眼镜视光"),
                ("/index.html#drugs", "药品专区"),
            )
        )
        search = '<form class="search" action="/index.html"><input name="q" placeholder="搜索商品/店铺"><button>搜索</button></form>'
        parts.append(el("header", txt("div", "康护优选", class_="logo") + el("nav", nav) + search, class_="site-header"))
    parts.append(el("main", body))
    footer_lines = ["关于康护优选 | 帮助中心 | 隐私政策 | 规则中心", *footer_extra, "Copyright 2018-2026 康护优选 京ICP备18012345号-1"]
    parts.append(el("footer", "\n".join(txt("p", line) for line in footer_lines), class_="site-footer"))
    parts.append("</body>\n</html>\n")
    return "\n".join(parts)


def price_html(price: float, codec: str) -> str:
    sign = "¥" if codec == "utf-8" else "￥"
    return txt("span", f"{sign}{price:.2f}", class_="price")


# ---------------------------------------------------------------------------- platforms


def render_platform(
    p: dict[str, Any], shops: dict[str, dict[str, Any]], js_links: Sequence[tuple[str, str]] = ()
) -> Rendered:
    variant = p.get("encoding", "utf8")
    body = [txt("h1", p["name"]), txt("p", p["slogan"], class_="slogan")]
    cats = "".join(
        el("li", link(f"#{anchor}", label))
        for anchor, label in (("devices", "家用医疗器械"), ("rehab", "康复护理"), ("vision", "眼镜视光"), ("adult", "计生用品"), ("drugs", "药品专区"))
    )
    body.append(el("ul", cats, class_="categories"))
    items = "".join(
        el("li", link(f"/shops/{slug}/index.html", shops[slug]["name"]) + txt("span", shops[slug]["tagline"]))
        for slug in p["shops"]
    )
    body.append(el("section", txt("h2", "入驻店铺") + el("ul", items, class_="shop-list"), class_="shops"))
    if p.get("js_section") and js_links:
        items = "".join(el("li", link(href, text)) for href, text in js_links)
        body.append(el("section", txt("h2", "新版店铺与商品（体验版）") + el("ul", items, class_="js-list"), class_="js-pages"))
    for para in p.get("copy", []):
        body.append(txt("p", para, class_="notice"))
    html_text = document(p["name"], "\n".join(body), variant, footer_extra=p.get("footer", []))
    return Rendered(p["path"], "platform", html_text, variant, list(p.get("rules", [])))


# ---------------------------------------------------------------------------- shops


def list_path(slug: str, page: int) -> str:
    """Path of page ``page`` (1-based) of a shop's product list."""
    return f"/shops/{slug}/index.html" if page == 1 else f"/shops/{slug}/index-{page}.html"


def pager_html(slug: str, page: int, pages: int) -> str:
    parts = [txt("span", f"第{page}页 / 共{pages}页", class_="page-info")]
    if page > 1:
        parts.append(link(list_path(slug, page - 1), "上一页", rel="prev"))
    for n in range(1, pages + 1):
        parts.append(txt("span", str(n), class_="current") if n == page else link(list_path(slug, n), str(n)))
    if page < pages:
        parts.append(link(list_path(slug, page + 1), "下一页", rel="next"))
    return el("div", " ".join(parts), class_="pager")


def render_shop(s: dict[str, Any], products: list[dict[str, Any]], page_size: int = 0) -> list[Rendered]:
    """The shop's list page(s) (several when ``page_size`` is set and exceeded), then its qualification page."""
    chunks = [products[i : i + page_size] for i in range(0, len(products), page_size)] if page_size else [products]
    pages = [
        _render_shop_list(s, chunk, n, len(chunks)) for n, chunk in enumerate(chunks or [[]], start=1)
    ]
    return [*pages, _render_qualification(s)]


def _render_shop_list(s: dict[str, Any], products: list[dict[str, Any]], page: int, pages: int) -> Rendered:
    slug = s["slug"]
    variant = s.get("encoding", "utf8")
    codec = ENCODINGS[variant][0]
    qual = f"/shops/{slug}/qualification.html"
    body = [
        el(
            "div",
            txt("h1", s["name"]) + txt("p", s["tagline"]) + txt("span", "店铺评分 4.8 | 关注 12.6万", class_="score"),
            class_="shop-banner",
        ),
        el("nav", link("#all", "全部宝贝") + " " + link(qual, s["qual_link"]) + " " + link("#new", "新品上架"), class_="shop-nav"),
    ]
    for para in s.get("copy", []):
        body.append(txt("p", para, class_="shop-notice"))
    grid = []
    for prod in products:
        item = link(f"/products/{prod['id']}.html", prod["_short"]) + price_html(prod["price"], codec)
        grid.append(el("li", item))
    pager = pager_html(slug, page, pages) if pages > 1 else ""
    body.append(el("section", txt("h2", "全部宝贝") + el("ul", "".join(grid), class_="goods") + pager, id="all"))
    info = [txt("h2", "店铺信息"), txt("p", f"企业名称：{s['company']}"), txt("p", f"所在地：{s['city']}")]
    for line in s.get("contact", []):
        info.append(txt("p", line))
    for text, href in s.get("contact_links", []):
        info.append(el("p", link(href, text)))
    for line in s.get("info", []):
        info.append(txt("p", line))
    body.append(el("section", "\n".join(info), class_="shop-info", id="contact"))
    title = s["name"] if page == 1 else f"{s['name']} 第{page}页"
    path = list_path(slug, page)
    return Rendered(path, "shop", document(title, "\n".join(body), variant), variant, list(s.get("rules", [])), page=page)


def _render_qualification(s: dict[str, Any]) -> Rendered:
    slug = s["slug"]
    variant = s.get("encoding", "utf8")
    home = f"/shops/{slug}/index.html"
    qual = f"/shops/{slug}/qualification.html"
    lic = s.get("license") or {}
    q = [txt("h1", f"{s['name']} · {s['qual_link']}")]
    images: list[str] = []
    if lic and s.get("license_image", True):
        title = lic.get("title", "医疗器械经营许可证")
        src = license_image_path(s)
        q.append(el("figure", img(src, title) + txt("figcaption", title)))
        images.append(src)
    if lic:
        number_shown = s.get("license_number_text", True)  # False: the number only in the licence image
        rows = (
            ("企业名称", s["company"]),
            (lic.get("number_label", "许可证编号"), lic["number"] if number_shown else ""),
            ("住所", lic["address"]),
            ("经营范围", lic["scope"]),
            ("有效期至", str(lic.get("valid_until") or "")),
        )
        q.append(el("table", "".join(el("tr", txt("th", k) + txt("td", v)) for k, v in rows if v), class_="license"))
    biz = s.get("bizlic") or {}
    if biz.get("alt"):
        q.append(el("figure", img(f"/img/{slug}-bizlic.png", biz["alt"]) + txt("figcaption", biz.get("caption", ""))))
        images.append(f"/img/{slug}-bizlic.png")
    if biz.get("uscc"):
        q.append(txt("p", f"统一社会信用代码：{biz['uscc']}"))
    for line in s.get("qual_extra", []):
        q.append(txt("p", line))
    q.append(el("p", link(home, "返回店铺首页")))
    return Rendered(
        qual, "qualification", document(f"{s['name']} {s['qual_link']}", "\n".join(q), variant), variant, [], images
    )


# ---------------------------------------------------------------------------- products


def device_rows(prod: dict[str, Any], cat: dict[str, Any]) -> list[tuple[str, str]]:
    labels = {**dict(DEVICE_FIELDS), **cat.get("labels", {}), **prod.get("labels", {})}
    omit = set(prod.get("omit", []))
    if prod.get("regno_text", True) is False:  # the number only in the certificate image
        omit.add("regno")
    rows = []
    for key, _ in DEVICE_FIELDS:
        value = prod[key] if key in prod else cat.get(key)
        if key in omit or value is None:
            continue
        rows.append((labels[key], str(value)))
    return rows


def params_html(rows: Iterable[tuple[str, str]], layout: str) -> str:
    rows = list(rows)
    if layout == "dl":
        return el("dl", "".join(txt("dt", k) + txt("dd", v) for k, v in rows), class_="params")
    if layout == "p":
        return el("div", "".join(txt("p", f"{k}：{v}") for k, v in rows), class_="params")
    return el("table", "".join(el("tr", txt("th", k) + txt("td", v)) for k, v in rows), class_="params")


def render_product(prod: dict[str, Any], cat: dict[str, Any], shop: dict[str, Any]) -> Rendered:
    pid = prod["id"]
    variant = prod.get("encoding", "utf8")
    codec = ENCODINGS[variant][0]
    layout = prod.get("layout", "table")
    is_drug = cat.get("drug", False)
    name = prod.get("name", cat.get("name", ""))
    images = [f"/img/{pid}-main.png", f"/img/{pid}-detail.png"]
    gallery = [img(images[0], f"{name}主图"), img(images[1], f"{name}细节图")]
    regno = prod["regno"] if "regno" in prod else cat.get("regno")
    if not is_drug and regno and prod.get("cert_image", True):
        alt = cat.get("cert_alt", "医疗器械注册证")
        images.append(cert_image_path(prod, cat))
        gallery.append(img(images[-1], alt))
    for n, _ in enumerate(prod.get("promo_images", []), start=1):
        images.append(f"{GEN_IMG}/{pid}-promo{n}.png")
        gallery.append(img(images[-1], f"{name}活动图"))
    if is_drug:
        images.append(f"/img/{pid}-box.png")
        gallery.append(img(images[-1], "药品包装图"))

    body = [
        el(
            "div",
            link("/index.html", "首页") + " &gt; " + link(f"/shops/{shop['slug']}/index.html", shop["name"]) + " &gt; " + esc(name),
            class_="breadcrumb",
        ),
        el("div", "".join(gallery), class_="gallery"),
        txt("h1", prod["title"], class_="title"),
    ]
    if is_drug:
        badge = RX_BADGES[prod.get("rx", "none")]
        if badge:
            body.append(txt("span", badge, class_="rx-badge"))
    body.append(el("div", txt("span", "价格") + price_html(prod["price"], codec), class_="price-box"))
    if prod.get("promo"):
        body.append(txt("div", f"限时活动：{prod['promo']}", class_="promo"))
    body.append(
        el(
            "div",
            el("button", "立即购买", class_="buy") + el("button", "加入购物车", class_="cart"),
            class_="actions",
        )
    )
    if is_drug and prod.get("rx_warning"):
        body.append(txt("p", RX_WARNING, class_="rx-warning"))
    if is_drug and prod.get("review_note"):
        body.append(txt("p", prod["review_note"], class_="review-note"))

    if is_drug:
        rows = [
            ("通用名称", name),
            ("商品名称", prod.get("brand", "")),
            ("批准文号", prod["approval"]),
            ("规格", prod["spec"]),
            ("剂型", prod.get("form", cat.get("form", ""))),
            ("生产企业", prod["maker"]),
            *[(k, v) for k, v in prod.get("info_rows", {}).items()],
        ]
        body.append(txt("h2", "药品信息"))
        body.append(params_html([(k, v) for k, v in rows if v], layout))
        for heading, content in prod.get("info_sections", {}).items():
            body.append(el("section", txt("h3", heading) + txt("p", content), class_="drug-info"))
    else:
        body.append(txt("h2", "产品参数"))
        body.append(params_html(device_rows(prod, cat), layout))

    details = [txt("h2", "商品详情")]
    for para in prod.get("copy", []):
        details.append(txt("p", para, class_="copy"))
    for para in [*cat.get("desc", []), *prod.get("extra", [])]:
        details.append(txt("p", para))
    body.append(el("section", "\n".join(details), class_="detail"))

    notices = []
    if not is_drug:
        mode = prod.get("retail", "full")
        if RETAIL_TEXT[mode]:
            notices.append(txt("p", f"温馨提示：{RETAIL_TEXT[mode]}", class_="warning"))
        ftype = cat.get("fitting")
        if ftype:
            fmode = prod.get("fitting", "full")
            if fmode != "none":
                notices.append(txt("p", FITTING_TEXT[ftype][fmode], class_="warning"))
    notices.append(txt("p", "发货：48小时内发货 | 正品保障 | 支持开具发票"))
    body.append(el("section", "\n".join(notices), class_="notices"))
    if not is_drug and prod.get("cert_link"):
        body.append(el("p", link(f"/img/{pid}-cert.png", prod["cert_link"]), class_="cert-link"))
        images.append(f"/img/{pid}-cert.png")
    body.append(el("aside", link(f"/shops/{shop['slug']}/index.html", f"进入店铺：{shop['name']}"), class_="shop-card"))
    page = Rendered(f"/products/{pid}.html", "product", document(prod["title"], "\n".join(body), variant), variant, list(prod.get("rules", [])), images)
    return page


# ---------------------------------------------------------------------------- label checks


def expected_structural(prod: dict[str, Any], cat: dict[str, Any]) -> set[str]:
    """Structural rules implied by how the page is built (claims cannot be derived)."""
    out: set[str] = set()
    if cat.get("drug"):
        rx = prod.get("rx", "none")
        if rx == "none":
            out.add("DRUG_RX_NOT_DISTINGUISHED")
        if rx in ("rx", "rx-symbol"):
            if not prod.get("rx_warning"):
                out.add("DRUG_RX_WARNING_MISSING")
            if prod.get("info_rows") or prod.get("info_sections"):
                out.add("DRUG_RX_INFO_BEFORE_REVIEW")
        promo = prod.get("promo", "")
        if "盲盒" in promo or "盲盒" in prod["title"] or (promo and rx in ("rx", "rx-symbol", "otc-a")):
            out.add("DRUG_PROMOTION_BANNED")
        return out
    regno = prod["regno"] if "regno" in prod else cat.get("regno")
    if not regno or "regno" in prod.get("omit", []):
        out.add("PRODUCT_REGNO_MISSING")
    elif prod.get("regno_text", True) is False:  # not in the page text: only the certificate image shows it
        rendered = prod.get("cert_image", True) == "rendered"
        out.add("PRODUCT_REGNO_NOT_TEXT" if rendered else "PRODUCT_REGNO_MISSING")
    if prod.get("retail", "full") not in RETAIL_OK:
        out.add("PRODUCT_WARNING_RETAIL_MISSING")
    if cat.get("fitting") and prod.get("fitting", "full") == "none":
        out.add("PRODUCT_WARNING_FITTING_MISSING")
    missing = {k for k in DETAIL_KEYS if (prod[k] if k in prod else cat.get(k)) is None}
    if (set(prod.get("omit", [])) & set(DETAIL_KEYS)) or missing:
        out.add("PRODUCT_DETAIL_INCOMPLETE")
    has_cert_image = bool(regno) and prod.get("cert_image", True)
    if not has_cert_image and not prod.get("cert_link"):
        out.add("PRODUCT_CERT_MISSING")
    return out


STRUCTURAL = {
    "DRUG_RX_NOT_DISTINGUISHED",
    "DRUG_RX_WARNING_MISSING",
    "DRUG_RX_INFO_BEFORE_REVIEW",
    "DRUG_PROMOTION_BANNED",
    "PRODUCT_REGNO_MISSING",
    "PRODUCT_REGNO_NOT_TEXT",
    "PRODUCT_WARNING_RETAIL_MISSING",
    "PRODUCT_WARNING_FITTING_MISSING",
    "PRODUCT_DETAIL_INCOMPLETE",
    "PRODUCT_CERT_MISSING",
}

# ---------------------------------------------------------------------------- the demo registry

REGISTRY_RULES = {"PRODUCT_UNREGISTERED", "PRODUCT_REG_INVALID_STATUS", "PRODUCT_INFO_MISMATCH"}
SHOP_RULES = {
    "SHOP_QUALIFICATION_MISSING", "SHOP_SCOPE_EXCEEDED", "SHOP_LICENSE_EXPIRED", "SHOP_LICENSE_EXPIRING",
    "SHOP_LICENSE_NO_NOT_TEXT",
}
# class III product words a shop's product link texts are checked for (SHOP_SCOPE_EXCEEDED)
CLASS3_WORDS = ("隐形眼镜", "角膜接触镜", "接触镜", "美瞳", "玻尿酸", "透明质酸钠凝胶", "人工晶状体", "人工晶体", "起搏器", "支架")
_SPLIT_NUMBERS = re.compile(r"[,，;；、\s]+")
_SPLIT_MODELS = re.compile(r"[、;；,，]+")
_DATE = re.compile(r"(\d{4})[-年/.](\d{1,2})[-月/.](\d{1,2})日?")
_TODAY_TOKEN = re.compile(r"\{\{today([+-]\d+)?(\|cn)?\}\}")
EXPIRING_DAYS = 30


@dataclass(frozen=True)
class DemoRecord:
    """One registration as the demo registry files hold it (the fields the labels depend on)."""

    number: str
    product_name: str
    registrant: str
    manufacturer: str
    models: tuple[str, ...]
    status: str
    valid_until: date | None


def parse_day(value: object, today: date) -> date | None:
    """A date from the spec or the registry: ISO, 年月日, a YAML date, or a ``{{today±N}}`` token."""
    if isinstance(value, date):
        return value
    text = str(value or "").strip()
    token = _TODAY_TOKEN.fullmatch(text)
    if token:
        return today + timedelta(days=int(token.group(1) or 0))
    m = _DATE.fullmatch(text)
    return date(int(m.group(1)), int(m.group(2)), int(m.group(3))) if m else None


def load_demo_registry(directory: Path = REGISTRY_DIR, today: date | None = None) -> dict[str, DemoRecord]:
    """Number → record, from ``demo_registry.csv`` and ``demo_udid.xml`` (UDI records add models)."""
    today = today or date.today()
    out: dict[str, DemoRecord] = {}
    with (directory / "demo_registry.csv").open(encoding="utf-8", newline="") as fh:
        for row in csv.DictReader(fh):
            for number in _SPLIT_NUMBERS.split(row["registration_no"].strip()):
                if number:
                    out[number] = DemoRecord(
                        number,
                        row["product_name"],
                        row["registrant"],
                        row["manufacturer"],
                        tuple(m.strip() for m in _SPLIT_MODELS.split(row["model_spec"]) if m.strip()),
                        row["status"].strip() or "有效",
                        parse_day(row["valid_until"], today),
                    )
    csv_numbers = set(out)
    for device in ET.parse(directory / "demo_udid.xml").getroot().iter("device"):
        numbers = [n for n in _SPLIT_NUMBERS.split(device.findtext("zczbhhzbapzbh", "").strip()) if n]
        model = device.findtext("ggxh", "").strip()
        for number in numbers:
            if number in csv_numbers:  # the CSV export is authoritative where both hold a number
                continue
            old = out.get(number)
            models = (*old.models, model) if old is not None else (model,)
            name = device.findtext("cpmctymc", "").strip()
            registrant = device.findtext("ylqxzcrbarmc", "").strip()
            out[number] = DemoRecord(number, name, registrant, "", tuple(m for m in models if m), "有效", None)
    return out


def norm(text: str) -> str:
    """Compare key: NFKC, case-folded, without spaces and punctuation."""
    folded = unicodedata.normalize("NFKC", text).casefold()
    return "".join(ch for ch in folded if ch.isalnum())


def _field(prod: dict[str, Any], cat: dict[str, Any], key: str) -> str | None:
    if key in prod.get("omit", []):
        return None
    value = prod[key] if key in prod else cat.get(key)
    return None if value is None else str(value)


def mismatched_fields(prod: dict[str, Any], cat: dict[str, Any], rec: DemoRecord) -> list[str]:
    """Fields the page shows that differ from the registration (the PRODUCT_INFO_MISMATCH semantics)."""
    out = []
    name = _field(prod, cat, "name")
    if name and rec.product_name and not norm(name).endswith(norm(rec.product_name)):
        out.append("product_name")
    registrant = _field(prod, cat, "registrant")
    if registrant and rec.registrant and norm(registrant) != norm(rec.registrant):
        out.append("registrant")
    maker = _field(prod, cat, "manufacturer")
    registered_makers = {norm(m) for m in (rec.manufacturer, rec.registrant) if m}
    if maker and registered_makers and norm(maker) not in registered_makers:
        out.append("manufacturer")
    model = _field(prod, cat, "model")
    if model and rec.models and not any(norm(m) in norm(model) for m in rec.models):
        out.append("model_spec")
    return out


def expected_registry(prod: dict[str, Any], cat: dict[str, Any], registry: dict[str, DemoRecord], today: date) -> set[str]:
    """Registry rules implied by the page's number and the demo registry."""
    out: set[str] = set()
    regno = _field(prod, cat, "regno")
    if cat.get("drug") or not regno or "PRODUCT_REGNO_INVALID" in prod.get("rules", []):
        return out
    if "药监械(" in regno or "药管械(" in regno:
        out.add("PRODUCT_REG_INVALID_STATUS")
    rec = registry.get(regno)
    if rec is None:
        out.add("PRODUCT_UNREGISTERED")
        return out
    if rec.status not in ("有效", "valid") or (rec.valid_until is not None and rec.valid_until < today):
        out.add("PRODUCT_REG_INVALID_STATUS")
    if mismatched_fields(prod, cat, rec):
        out.add("PRODUCT_INFO_MISMATCH")
    return out


def expected_shop(shop: dict[str, Any], link_texts: Sequence[str], today: date) -> set[str]:
    """Qualification rules implied by how the shop and its qualification page are built."""
    out: set[str] = set()
    lic = shop.get("license") or {}
    if not (lic and shop.get("license_image", True)) and not shop.get("qual_exempt"):
        out.add("SHOP_QUALIFICATION_MISSING")
    if any(w in t for t in link_texts for w in CLASS3_WORDS) and "经营许" not in lic.get("number", ""):
        out.add("SHOP_SCOPE_EXCEEDED")
    until = parse_day(lic.get("valid_until"), today) if lic.get("valid_until") else None
    if until is not None and "经营许" in lic.get("number", ""):
        if until < today:
            out.add("SHOP_LICENSE_EXPIRED")
        elif (until - today).days <= EXPIRING_DAYS:
            out.add("SHOP_LICENSE_EXPIRING")
    if lic and shop.get("license_image") == "rendered" and shop.get("license_number_text", True) is False:
        out.add("SHOP_LICENSE_NO_NOT_TEXT")
    return out


def check_labels(spec: dict[str, Any], today: date | None = None, registry_dir: Path = REGISTRY_DIR) -> list[str]:
    """Problems where declared labels disagree with how a page is rendered or with the demo registry."""
    today = today or date.today()
    registry = load_demo_registry(registry_dir, today)
    problems = []
    cats = spec["categories"]
    links: dict[str, list[str]] = {}
    for prod in spec["products"]:
        cat = cats[prod["cat"]]
        declared = set(prod.get("rules", []))
        unknown = declared - set(LABEL_RULES)
        if unknown:
            problems.append(f"{prod['id']}: unknown rules {sorted(unknown)}")
        want = expected_structural(prod, cat)
        have = declared & STRUCTURAL
        if want != have:
            problems.append(f"{prod['id']}: structural labels {sorted(have)} but page implies {sorted(want)}")
        want = expected_registry(prod, cat, registry, today)
        have = declared & REGISTRY_RULES
        if want != have:
            problems.append(f"{prod['id']}: registry labels {sorted(have)} but number and registry imply {sorted(want)}")
        regno = _field(prod, cat, "regno")
        if "CLAIM_NONDEVICE_MEDICAL" in declared and regno:
            problems.append(f"{prod['id']}: CLAIM_NONDEVICE_MEDICAL on a page with a device number")
        if "CLAIM_SCOPE_EXCEEDED" in declared and (not regno or regno not in registry):
            problems.append(f"{prod['id']}: CLAIM_SCOPE_EXCEEDED needs a registered number")
        name = prod.get("name", cat.get("name", ""))
        model = prod.get("model", cat.get("model", "")) or ""
        links.setdefault(prod["shop"], []).append(
            prod.get("short") or (f"{name} {model.split()[0]}" if model and not cat.get("drug") else name)
        )
    for shop in spec["shops"]:
        want = expected_shop(shop, links.get(shop["slug"], []), today)
        have = set(shop.get("rules", [])) & SHOP_RULES
        if want != have:
            problems.append(f"{shop['slug']}: shop labels {sorted(have)} but the shop implies {sorted(want)}")
    slugs = {shop["slug"] for shop in spec["shops"]}
    ids = {prod["id"] for prod in spec["products"]}
    twins = spec.get("js_twins") or {}
    problems += [f"js_twins: unknown shop {slug}" for slug in twins.get("shops", []) if slug not in slugs]
    problems += [f"js_twins: unknown product {pid}" for pid in twins.get("products", []) if pid not in ids]
    paginate = spec.get("pagination") or {}
    for slug in paginate.get("shops", []):
        shop = next((s for s in spec["shops"] if s["slug"] == slug), None)
        if shop is None:
            problems.append(f"pagination: unknown shop {slug}")
        elif "SHOP_SCOPE_EXCEEDED" in shop.get("rules", []):  # it depends on which products a page lists
            problems.append(f"pagination: {slug} is labelled SHOP_SCOPE_EXCEEDED, which pages cannot share")
    for entry in [*spec["platforms"], *spec["shops"]]:
        unknown = set(entry.get("rules", [])) - set(LABEL_RULES)
        if unknown:
            problems.append(f"{entry.get('slug', entry.get('path'))}: unknown rules {sorted(unknown)}")
    return problems + check_images(spec)


# ---------------------------------------------------------------------------- generated images
#
# Products with ``cert_image: rendered`` show a real 注册证 / 备案信息表 drawn from the demo registry's
# record of their number (one image per number, shared by every page that shows it); ``regno_text:
# false`` keeps the number out of the page text (PRODUCT_REGNO_NOT_TEXT). Shops with ``license_image:
# rendered`` show their 经营许可证 / 经营备案凭证 drawn from the shop's spec; ``license_number_text:
# false`` keeps its number out of the qualification page text (SHOP_LICENSE_NO_NOT_TEXT).
# ``promo_images: [{headline, sub}]`` adds promotional banners (claims in them count, with OCR).

_AUTHORITIES = {
    "国": "国家药品监督管理局", "京": "北京市药品监督管理局", "沪": "上海市药品监督管理局", "津": "天津市药品监督管理局",
    "苏": "江苏省药品监督管理局", "浙": "浙江省药品监督管理局", "粤": "广东省药品监督管理局", "皖": "安徽省药品监督管理局",
    "豫": "河南省药品监督管理局", "鄂": "湖北省药品监督管理局", "辽": "辽宁省药品监督管理局", "鲁": "山东省药品监督管理局",
}
_MUNICIPALITIES = ("北京", "上海", "天津", "重庆")


def cert_image_path(prod: dict[str, Any], cat: dict[str, Any]) -> str:
    """URL of a product's certificate image: generated and shared per number, or a placeholder."""
    regno = prod["regno"] if "regno" in prod else cat.get("regno")
    if prod.get("cert_image", True) == "rendered" and regno:
        return f"{GEN_IMG}/cert-{re.sub(r'[^0-9]', '', str(regno))}.png"
    return f"/img/{prod['id']}-cert.png"


def license_image_path(shop: dict[str, Any]) -> str:
    if shop.get("license_image") == "rendered":
        return f"{GEN_IMG}/{shop['slug']}-license.png"
    return f"/img/{shop['slug']}-license.png"


def _cn_day(day: date) -> str:
    return f"{day.year}年{day.month:02d}月{day.day:02d}日"


@lru_cache(maxsize=1)
def registry_rows(directory: Path = REGISTRY_DIR) -> dict[str, dict[str, str]]:
    """Number → the full row of ``demo_registry.csv`` (what a certificate image shows)."""
    out: dict[str, dict[str, str]] = {}
    with (directory / "demo_registry.csv").open(encoding="utf-8", newline="") as fh:
        for row in csv.DictReader(fh):
            for number in _SPLIT_NUMBERS.split(row["registration_no"].strip()):
                if number:
                    out[number] = dict(row)
    return out


def _seed(name: str) -> int:
    return zlib.crc32(name.encode("utf-8"))


def _png(image: GeneratedImage) -> bytes:
    """Compact, deterministic PNG bytes (64-colour palette: text and seal survive, the file stays small)."""
    buf = BytesIO()
    image.image.convert("RGB").quantize(64).save(buf, "PNG")
    return buf.getvalue()


def certificate_for(number: str, today: date | None = None) -> GeneratedImage:
    """The 注册证 / 第一类备案信息表 of a demo-registry number, with the registry's fields."""
    from mdwatch.demo.ocrimages import render_certificate

    row = registry_rows()[number]
    today = today or date(2026, 1, 1)
    approved = parse_day(row["approved_on"], today)
    until = parse_day(row["valid_until"], today)
    name = f"cert-{re.sub(r'[^0-9]', '', number)}"
    if "备" in number:
        prefix = number[:2]
        city = {"皖马": "马鞍山市", "苏锡": "无锡市", "浙温": "温州市", "京经": "北京经济技术开发区"}.get(prefix, "")
        fields = [("备案编号", number), ("备案人名称", row["registrant"]), ("产品名称", row["product_name"]),
                  ("型号/规格", row["model_spec"]), ("产品描述", row["structure"]), ("预期用途", row["scope"])]
        if approved is not None:
            fields.append(("备案日期", _cn_day(approved)))
        authority = f"{city}市场监督管理局" if city else ""
        return render_certificate(name, "filing", fields, authority=authority, seed=_seed(number))
    fields = [("注册证编号", number), ("注册人名称", row["registrant"]), ("产品名称", row["product_name"]),
              ("型号、规格", row["model_spec"]), ("结构及组成", row["structure"]), ("适用范围", row["scope"])]
    if approved is not None:
        fields.append(("批准日期", _cn_day(approved)))
    if until is not None:
        fields.append(("有效期至", _cn_day(until)))
    authority = _AUTHORITIES.get(number[0], "")
    return render_certificate(name, "registration", fields, authority=authority, seed=_seed(number))


def licence_for(shop: dict[str, Any], today: date | None = None) -> GeneratedImage:
    """The shop's 经营许可证 or 第二类经营备案凭证 as an image, with the spec's fields."""
    from mdwatch.demo.ocrimages import render_certificate

    lic = shop["license"]
    number = str(lic["number"])
    permit = "经营许" in number
    province, _, city = str(shop["city"]).partition(" ")
    authority = f"{province}市{city}区市场监督管理局" if province in _MUNICIPALITIES else f"{city}市市场监督管理局"
    fields = [("许可证编号" if permit else "备案编号", number), ("企业名称", shop["company"]),
              ("住所", lic["address"]), ("经营场所", lic["address"]), ("经营方式", "零售"), ("经营范围", lic["scope"])]
    year = re.search(r"(20\d\d)\d{4}号", number)
    issued = date(int(year.group(1)) if year else 2020, 3, 16)
    if permit:
        until = parse_day(lic.get("valid_until"), today or date.today())
        if until is not None:
            fields.append(("有效期限", f"至{_cn_day(until)}"))
        fields.append(("发证日期", _cn_day(issued)))
    else:
        fields.append(("备案日期", _cn_day(issued)))
    doc_type = "business_license" if permit else "business_filing"
    return render_certificate(f"{shop['slug']}-license", doc_type, fields, authority=authority, seed=_seed(number))


def promo_for(pid: str, n: int, banner: dict[str, Any]) -> GeneratedImage:
    from mdwatch.demo.ocrimages import render_promo

    name = f"{pid}-promo{n}"
    return render_promo(name, str(banner["headline"]), str(banner["sub"]), seed=_seed(name))


def generated_images(spec: dict[str, Any]) -> dict[str, GeneratedImage]:
    """URL → generated image, for every rendered certificate, licence and promotional banner of the spec."""
    out: dict[str, GeneratedImage] = {}
    cats = spec["categories"]
    for prod in spec["products"]:
        cat = cats[prod["cat"]]
        src = cert_image_path(prod, cat)
        if src.startswith(GEN_IMG) and src not in out:
            out[src] = certificate_for(str(prod["regno"] if "regno" in prod else cat["regno"]))
        for n, banner in enumerate(prod.get("promo_images", []), start=1):
            out[f"{GEN_IMG}/{prod['id']}-promo{n}.png"] = promo_for(prod["id"], n, banner)
    for shop in spec["shops"]:
        if shop.get("license") and shop.get("license_image") == "rendered":
            out[license_image_path(shop)] = licence_for(shop)
    return out


def check_images(spec: dict[str, Any]) -> list[str]:
    """Problems with the generated images' inputs, and claim labels the banners imply but pages lack."""
    from mdwatch.analyzers.claims import sentence_rules

    problems = []
    cats = spec["categories"]
    rows = registry_rows()
    for prod in spec["products"]:
        cat = cats[prod["cat"]]
        regno = prod["regno"] if "regno" in prod else cat.get("regno")
        if prod.get("cert_image", True) == "rendered" and (not regno or str(regno) not in rows):
            problems.append(f"{prod['id']}: cert_image: rendered needs a number held by demo_registry.csv")
        if prod.get("regno_text", True) is False and prod.get("cert_image", True) != "rendered":
            problems.append(f"{prod['id']}: regno_text: false without a rendered certificate shows the number nowhere")
        for banner in prod.get("promo_images", []):
            implied = sentence_rules(str(banner["headline"])) | sentence_rules(str(banner["sub"]))
            missing = implied - set(prod.get("rules", []))
            if missing:
                problems.append(f"{prod['id']}: its banner implies {sorted(missing)}, not labelled")
    for shop in spec["shops"]:
        lic = shop.get("license") or {}
        if shop.get("license_image") == "rendered" and _TODAY_TOKEN.search(str(lic.get("valid_until", ""))):
            problems.append(f"{shop['slug']}: a rendered licence needs a fixed valid_until (images are static)")
        if shop.get("license_number_text", True) is False and shop.get("license_image") != "rendered":
            problems.append(f"{shop['slug']}: license_number_text: false without a rendered licence image")
    return problems


# ---------------------------------------------------------------------------- build


def load_spec(path: Path = SPEC_PATH) -> dict[str, Any]:
    with path.open(encoding="utf-8") as fh:
        data: dict[str, Any] = yaml.safe_load(fh)
    return data


JS_APP = """(function () {
  var state = JSON.parse(document.getElementById("__STATE__").textContent);
  var view = document.createElement("template");
  view.innerHTML = state.body;
  document.title = state.title;
  document.body.replaceChildren(view.content);
})();"""


def _json_for_script(data: object) -> str:
    """JSON safe inside <script> (no ``<``, ``>``, ``&``; non-ASCII as \\u escapes)."""
    text = json.dumps(data, ensure_ascii=True, separators=(",", ":"))
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def js_path(path: str) -> str:
    return "/js" + path


def render_js_twin(twin: Rendered, links: dict[str, str]) -> Rendered:
    """A JS-rendered twin of a static page: an empty app shell, inline JSON, a script that builds the twin.

    ``links`` maps static hrefs to their JS twins' (links to twinned pages stay in the JS world).
    """
    title = re.search(r"<title>(.*?)</title>", twin.html, re.S)
    start = twin.html.index("<body>") + len("<body>")
    end = twin.html.rindex("</body>")
    body = twin.html[start:end]
    for old, new in links.items():
        body = body.replace(f'href="{old}"', f'href="{new}"')
    state = {"title": html.unescape(title.group(1)) if title else "", "body": body}
    shell = "\n".join(
        [
            "<!DOCTYPE html>",
            '<html lang="zh-CN">',
            "<head>",
            '<meta charset="utf-8">',
            '<meta name="viewport" content="width=device-width, initial-scale=1">',
            "<title>康护优选</title>",
            '<link rel="stylesheet" href="/static/site.css">',
            "</head>",
            "<body>",
            '<div id="app"></div>',
            "<noscript>康护优选：请启用 JavaScript 后浏览本页面。</noscript>",
            f'<script type="application/json" id="__STATE__">{_json_for_script(state)}</script>',
            f"<script>\n{JS_APP}\n</script>",
            "</body>",
            "</html>",
            "",
        ]
    )
    return Rendered(js_path(twin.path), twin.kind, shell, "utf8", list(twin.rules), [], twin=twin.path)


def js_twin_paths(spec: dict[str, Any]) -> list[str]:
    """Static paths that get a JS twin: twinned shops' homes and products, then the extra products."""
    twins = spec.get("js_twins") or {}
    shop_slugs = list(twins.get("shops", []))
    paths = [f"/shops/{slug}/index.html" for slug in shop_slugs]
    paths += [f"/products/{p['id']}.html" for p in spec["products"] if p["shop"] in shop_slugs]
    paths += [f"/products/{pid}.html" for pid in twins.get("products", []) if f"/products/{pid}.html" not in paths]
    return paths


def build(spec: dict[str, Any]) -> list[Rendered]:
    cats: dict[str, dict[str, Any]] = spec["categories"]
    shops = {s["slug"]: s for s in spec["shops"]}
    by_shop: dict[str, list[dict[str, Any]]] = {slug: [] for slug in shops}
    for prod in spec["products"]:
        cat = cats[prod["cat"]]
        name = prod.get("name", cat.get("name", ""))
        model = prod.get("model", cat.get("model", "")) or ""
        prod["_short"] = prod.get("short") or (f"{name} {model.split()[0]}" if model and not cat.get("drug") else name)
        by_shop[prod["shop"]].append(prod)
    twinned = js_twin_paths(spec)
    twin_shops = list((spec.get("js_twins") or {}).get("shops", []))
    by_id = {p["id"]: p for p in spec["products"]}
    js_links = [(js_path(f"/shops/{slug}/index.html"), shops[slug]["name"]) for slug in twin_shops]
    js_links += [
        (js_path(path), by_id[path.rsplit("/", 1)[1].removesuffix(".html")]["_short"])
        for path in twinned
        if path.startswith("/products/") and by_id[path.rsplit("/", 1)[1].removesuffix(".html")]["shop"] not in twin_shops
    ]
    pages: list[Rendered] = [render_platform(p, shops, js_links) for p in spec["platforms"]]
    paginate = spec.get("pagination") or {}
    for slug, shop in shops.items():
        size = int(paginate.get("page_size", 0)) if slug in paginate.get("shops", []) else 0
        pages.extend(render_shop(shop, by_shop[slug], size))
    for prod in spec["products"]:
        pages.append(render_product(prod, cats[prod["cat"]], shops[prod["shop"]]))
    static = {page.path: page for page in pages}
    links = {path: js_path(path) for path in twinned}
    pages.extend(render_js_twin(static[path], links) for path in twinned)
    return pages


def _label_order(rules: Iterable[str]) -> list[str]:
    return sorted(set(rules), key=LABEL_RULES.index)


def labels_yaml(pages: Sequence[Rendered]) -> str:
    lines = [
        "# Labelled truth for the bundled demo platform (mdwatch/demo/site/).",
        "# GENERATED by `python -m mdwatch.demo.sitegen` from mdwatch/demo/spec.yaml: edit the spec, not this file.",
        "# Labels follow docs/rule-semantics.md. A shop's labels cover its home page plus its qualification page;",
        "# qualification pages are not judged on their own. Only the issue-scope rule IDs are labelled.",
        "# `js: true`: a JS-rendered twin (/js/...), labelled like its static twin; only a browser sees its content.",
    ]
    for page in sorted(pages, key=lambda p: (p.js, p.path)):  # static pages first, then the JS twins
        rules = ", ".join(_label_order(page.rules))
        js = ", js: true" if page.js else ""
        lines.append(f"{page.path}: {{kind: {page.kind}, rules: [{rules}]{js}}}")
    return "\n".join(lines) + "\n"


SITE_CSS = """body{font-family:"PingFang SC","Microsoft YaHei",sans-serif;margin:0;color:#333}
.site-header{display:flex;gap:2em;align-items:center;background:#e4393c;color:#fff;padding:.5em 1em}
.site-header a{color:#fff;margin-right:1em}.logo{font-size:1.5em;font-weight:bold}
main{max-width:1000px;margin:1em auto}.price{color:#e4393c;font-size:1.4em}
.params th{text-align:left;background:#f5f5f5;padding:.2em .6em}.warning{color:#c00}
.site-footer{border-top:1px solid #ddd;color:#888;font-size:.8em;text-align:center}
"""


def write_site(
    pages: Sequence[Rendered], site_dir: Path = SITE_DIR, generated: Mapping[str, GeneratedImage] | None = None
) -> None:
    """Pages, placeholder images, the ``generated`` images (by URL; default: the bundled spec's) and the manifest."""
    if generated is None:
        generated = generated_images(load_spec())
    if site_dir.exists():
        shutil.rmtree(site_dir)
    manifest = []
    images: set[str] = set()
    for page in sorted(pages, key=lambda p: p.path):
        target = site_dir / page.path.lstrip("/")
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(page.html.encode(page.codec))  # strict: fail on any unencodable character
        codec, meta, header = ENCODINGS[page.variant]
        entry: dict[str, Any] = {
            "path": page.path, "kind": page.kind, "encoding": codec, "charset_in_header": header, "meta_charset": meta,
            "js": page.js,
        }  # fmt: skip
        if page.twin is not None:
            entry["twin"] = page.twin
        if page.page > 1:
            entry["page"] = page.page
        manifest.append(entry)
        images.update(page.images)
    for src in sorted(images):
        target = site_dir / src.lstrip("/")
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(_png(generated[src]) if src.startswith(GEN_IMG) else png_for(src))
    (site_dir / "static").mkdir(parents=True, exist_ok=True)
    (site_dir / "static" / "site.css").write_text(SITE_CSS, encoding="utf-8")
    (site_dir / "manifest.json").write_text(json.dumps(manifest, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m mdwatch.demo.sitegen", description=__doc__.splitlines()[0])
    parser.add_argument("--spec", type=Path, default=SPEC_PATH)
    parser.add_argument("--site", type=Path, default=SITE_DIR)
    parser.add_argument("--labels", type=Path, default=LABELS_PATH if (REPO_ROOT / "tests").is_dir() else None)
    args = parser.parse_args(argv)
    spec = load_spec(args.spec)
    problems = check_labels(spec)
    if problems:
        for line in problems:
            print(line, file=sys.stderr)
        return 1
    pages = build(spec)
    write_site(pages, args.site, generated_images(spec))
    if args.labels is not None:
        args.labels.parent.mkdir(parents=True, exist_ok=True)
        args.labels.write_text(labels_yaml(pages), encoding="utf-8")
    counts: dict[str, int] = {}
    for page in pages:
        counts[page.kind] = counts.get(page.kind, 0) + 1
    print(f"wrote {len(pages)} pages to {args.site}: {counts}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
