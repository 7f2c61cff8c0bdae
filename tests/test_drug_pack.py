"""Drug pack on home pages: DRUG_SHOP_LICENSE_MISSING (YUNNAN-DRUG 15) and DRUG_RX_ON_HOMEPAGE
(YUNNAN-DRUG 17 ¶2), on HTML in several layouts run through extract_page and the analyzers."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime

import pytest

from mdwatch.analyzers import drug, drug_shop
from mdwatch.analyzers.extract import extract_page, with_related
from mdwatch.analyzers.model import Context, ImageText, Page
from mdwatch.analyzers.registry import analyze, implemented_rules

CTX = Context(now=datetime(2026, 11, 27, tzinfo=UTC))
LICENCE = "DRUG_SHOP_LICENSE_MISSING"
RX_HOME = "DRUG_RX_ON_HOMEPAGE"

# the platform frame every page below sits in: category links named 处方药 / 药品专区 and a footer
# naming the platform's 互联网药品信息服务 certificate (none of it makes a shop a drug seller)
HEAD = """<html><head><meta charset="utf-8"><title>{title}</title></head><body>
<header><nav><a href="/">首页</a> <a href="/cat/rx">处方药</a> <a href="/cat/otc">非处方药</a>
<a href="/cat/drugs">药品专区</a> <a href="/cat/devices">医疗器械</a></nav></header>"""
FOOT = """<footer><p>互联网药品信息服务资格证书编号：(京)-经营性-2018-0011</p></footer></body></html>"""


def html(title: str, body: str) -> str:
    return HEAD.format(title=title) + body + FOOT


def shop(url: str, body: str, title: str = "店铺首页", qualification: str | None = None) -> Page:
    page = extract_page(url, html(title, body), kind="shop")
    if qualification is not None:
        qual = extract_page(url.rsplit("/", 1)[0] + "/qualification.html", html("店铺资质", qualification), kind="shop")
        page = with_related(page, [qual])
    return page


def rules(page: Page) -> set[str]:
    return {f.rule for f in analyze(page, CTX)} & {LICENCE, RX_HOME}


# --- DRUG_SHOP_LICENSE_MISSING ---------------------------------------------------------------------

# Taobao-style list: product links to medicines; the qualification page shows only a business
# licence and a device licence
TAOBAO_DRUG_SHOP = """<main><h1>春城大药房旗舰店</h1>
<ul class="goods"><li><a href="/item/1001.htm">阿莫西林胶囊 0.25g*24粒</a><span>¥12.00</span></li>
<li><a href="/item/1002.htm">布洛芬缓释胶囊 0.3g*20粒</a><span>¥18.50</span></li></ul>
<p><a href="/shop/cc/qualification.html">店铺资质</a></p></main>"""
DEVICE_AND_BIZ_ONLY = """<main><h1>店铺资质</h1><figure><img src="/img/biz.png" alt="营业执照"><figcaption>营业执照</figcaption></figure>
<table><tr><th>许可证编号</th><td>滇昆食药监械经营许20190012号</td></tr><tr><th>经营范围</th><td>第二类、第三类医疗器械</td></tr></table></main>"""

# JD-style grid: OTC tags on div tiles; the shop says it holds a drug licence but gives no number
JD_GRID_SHOP = """<main><div class="banner"><h1>滇南医药专营店</h1></div>
<div class="grid"><div class="tile"><img src="/p/1.jpg" alt="感冒灵颗粒"><span class="tag">OTC</span>
<p class="name">感冒灵颗粒 10g*9袋</p><em>¥15.80</em></div>
<div class="tile"><img src="/p/2.jpg" alt="维C银翘片"><span class="tag">OTC</span><p class="name">维C银翘片 24片</p><em>¥9.90</em></div></div>
<p>本店已取得药品经营许可证，依法经营。</p>
<p>执业药师：张敏（执业药师注册证编号：530120210001234）</p></main>"""

# mobile H5 page: span runs, the licence number shown, no pharmacist at all
H5_SHOP = """<main><div class="m-shop"><span class="shop-name">彩云药店</span><span>|</span><span>家庭常用药品 送药上门</span></div>
<div class="m-list"><div class="m-item"><span>健胃消食片</span><span>OTC</span><span>¥13.50</span></div></div>
<div class="m-lic"><span>药品经营许可证：</span><span>滇CA8710001</span></div></main>"""

# pharmacy named shop, no product links, a table that names the licence without its number
TABLE_SHOP = """<main><h1>金马大药房</h1><p>中西成药 家庭常备药品 处方药 请咨询药师</p>
<table><tr><th>证照名称</th><th>内容</th></tr><tr><td>药品经营许可证</td><td>详见门店公示</td></tr>
<tr><td>执业药师</td><td>李华</td></tr></table></main>"""


@pytest.mark.parametrize(
    ("url", "body", "qualification", "missing"),
    [
        ("https://shop.tb.example/shop/cc/index.html", TAOBAO_DRUG_SHOP, DEVICE_AND_BIZ_ONLY, ("许可证", "药师")),
        ("https://mall.jd.example/shop/dn/index.html", JD_GRID_SHOP, None, ("许可证",)),
        ("https://m.h5.example/shop/cy/index.html", H5_SHOP, None, ("药师",)),
        ("https://yao.example.cn/store/jm/index.html", TABLE_SHOP, None, ("许可证", "药师")),
    ],
    ids=["taobao-list", "jd-grid", "h5-spans", "pharmacy-table"],
)
def test_licence_missing_fires(url: str, body: str, qualification: str | None, missing: tuple[str, ...]) -> None:
    page = shop(url, body, qualification=qualification)
    found = [f for f in analyze(page, CTX) if f.rule == LICENCE]
    assert len(found) == 1
    ev = found[0].evidence[0]
    for word in missing:
        assert word in ev.detail["missing"]
    assert ev.detail["basis"]
    if missing == ("药师",):
        assert "许可证" not in ev.detail["missing"]


# compliant: the qualification page one link away carries the licence table and the pharmacist
QUAL_TABLE = """<main><h1>店铺资质</h1><table class="license">
<tr><th>企业名称</th><td>昆明春城大药房连锁有限公司</td></tr>
<tr><th>许可证编号</th><td>滇AA8710001</td></tr><tr><th>注册地址</th><td>昆明市五华区某路1号</td></tr>
<tr><th>经营范围</th><td>中成药、化学药制剂、抗生素制剂、生化药品</td></tr><tr><th>有效期至</th><td>2029年12月31日</td></tr></table>
<p>执业药师：王静（注册证编号：53012345）</p></main>"""

# compliant: photos of the licence and of the pharmacist's certificate (read by a person, or OCR)
PHOTO_SHOP = """<main><h1>滇池药房</h1><ul><li><a href="/goods/88">板蓝根颗粒 10g*20袋</a> ¥16.00</li></ul>
<div class="cert"><img src="/img/lic-1.jpg" alt="药品经营许可证"><img src="/img/ph-1.jpg" alt="执业药师注册证"></div></main>"""

# compliant: a definition list with the 2024 numbering (five-digit serial) and a store pharmacist
DL_SHOP = """<main><h1>椰城大药房</h1><div><a href="/detail?id=7">藿香正气水 10ml*10支</a><a href="/detail?id=8">六味地黄丸</a></div>
<dl><dt>药品经营许可证编号</dt><dd>琼CA898510001</dd><dt>驻店药师</dt><dd>陈一（证书编号 ZY46001234）</dd></dl></main>"""

# compliant: the older all-digit number, trusted because it follows the licence name
DIGITS_SHOP = """<main><h1>燕赵药店</h1><p>热销：<a href="/item/3">复方甘草片</a></p>
<p>药品经营许可证：冀3010123</p><p>执业药师 赵强 注册证号 13012345678</p></main>"""

# device-only shops never fire, whatever the platform frame says about medicines
DEVICE_SHOP = """<main><h1>康瑞医疗器械旗舰店</h1><ul class="goods">
<li><a href="/item/1">电子血压计 KR-B1</a>¥199</li><li><a href="/item/2">血糖试纸 50片</a>¥89</li>
<li><a href="/item/3">医用退热贴片 4片装</a>¥19</li><li><a href="/item/4">美瞳彩片 月抛 2片</a>¥59</li></ul>
<p>本店不销售药品，所售商品均为医疗器械。</p></main>"""
DEVICE_SHOP_H5 = """<main><div class="m-shop"><span>优品生活馆</span><span>体温计 理疗仪 家庭护理</span></div>
<div class="m-item"><span>康瑞 RX-3 电子体温计</span><span>¥32</span></div></main>"""


@pytest.mark.parametrize(
    ("url", "body", "qualification"),
    [
        ("https://shop.tb.example/shop/cc/index.html", TAOBAO_DRUG_SHOP, QUAL_TABLE),
        ("https://mall.jd.example/shop/dc/index.html", PHOTO_SHOP, None),
        ("https://m.h5.example/shop/yc/index.html", DL_SHOP, None),
        ("https://yao.example.cn/store/yz/index.html", DIGITS_SHOP, None),
        ("https://shop.tb.example/shop/kr/index.html", DEVICE_SHOP, None),
        ("https://m.h5.example/shop/yp/index.html", DEVICE_SHOP_H5, None),
    ],
    ids=["qualification-table", "licence-photos", "dl-2024-number", "all-digit-number", "device-list", "device-h5"],
)
def test_licence_shown_or_no_drugs_does_not_fire(url: str, body: str, qualification: str | None) -> None:
    page = shop(url, body, qualification=qualification)
    assert LICENCE not in rules(page)


def test_device_shop_is_not_a_drug_seller() -> None:
    assert drug_shop.drug_sales_basis(shop("https://s.example/shop/kr/index.html", DEVICE_SHOP)) is None
    assert drug_shop.drug_sales_basis(shop("https://s.example/shop/yp/index.html", DEVICE_SHOP_H5)) is None


def test_licence_number_in_an_image_counts() -> None:
    body = """<main><h1>春城大药房</h1><ul><li><a href="/item/1">阿莫西林胶囊</a></li></ul>
<img src="https://s.example/img/a.png" alt="资质"><p>执业药师：王静（注册证编号：53012345）</p></main>"""
    page = shop("https://s.example/shop/cc/index.html", body)
    assert LICENCE in rules(page)
    read = dataclasses.replace(page, image_texts=(ImageText("https://s.example/img/a.png", "药品经营许可证 证号：滇AA8710001"),))
    assert LICENCE not in rules(read)


# --- DRUG_RX_ON_HOMEPAGE -----------------------------------------------------------------------------

# platform home page, div tiles: a picture of the box, an Rx tag in its own span
PLATFORM_TILES = """<main><h1>健康云药城</h1><div class="floor"><h2>慢病用药</h2>
<div class="tile"><img src="/p/11.jpg" alt="阿莫西林胶囊 盒装实拍"><div><span class="tag">Rx</span></div>
<div><p class="name">阿莫西林胶囊 0.25g*24粒</p></div><em>¥12.00</em></div></div></main>"""

# shop home page, list items whose link text carries the 处方药 label
SHOP_LIST = """<main><h1>春城大药房旗舰店</h1><ul class="goods">
<li><a href="/item/1">【处方药】头孢克肟分散片 0.1g*6片</a> ¥28.00</li>
<li><a href="/item/2">【OTC】布洛芬缓释胶囊</a> ¥18.50</li></ul></main>"""

# mobile category home page: the product image's alt names the Rx packaging
H5_CATEGORY = """<main><div class="m-cat"><span>心脑血管</span></div>
<div class="m-item"><img src="/p/21.jpg" alt="处方药 苯磺酸氨氯地平片 包装正面"><span>¥32</span></div></main>"""

# section heading 处方药 (not a link) above medicine tiles
SECTION = """<main><h1>滇池药房</h1><section><h2>处方药</h2><ul>
<li><span>盐酸二甲双胍片 0.5g*48片</span><span>¥22.00</span></li></ul></section></main>"""


@pytest.mark.parametrize(
    ("kind", "url", "body"),
    [
        ("platform", "https://www.yaocheng.example/index.html", PLATFORM_TILES),
        ("shop", "https://shop.tb.example/shop/cc/index.html", SHOP_LIST),
        ("platform", "https://m.h5.example/cat/heart.html", H5_CATEGORY),
        ("shop", "https://yao.example.cn/store/dc/index.html", SECTION),
    ],
    ids=["platform-tiles", "shop-list-label", "h5-image-alt", "rx-section"],
)
def test_rx_on_homepage_fires(kind: str, url: str, body: str) -> None:
    page = extract_page(url, html("首页", body), kind=kind)  # type: ignore[arg-type]
    found = [f for f in analyze(page, CTX) if f.rule == RX_HOME]
    assert len(found) == 1
    assert all(e.match for e in found[0].evidence)


def test_rx_packaging_read_from_a_home_page_image() -> None:
    body = """<main><h1>健康云药城</h1><div class="banner"><img src="https://y.example/b/1.jpg" alt="年中大促"></div></main>"""
    page = extract_page("https://y.example/index.html", html("首页", body), kind="platform")
    assert RX_HOME not in rules(page)
    shot = ImageText("https://y.example/b/1.jpg", "Rx 缬沙坦胶囊 80mg*7粒 国药准字H20040000")
    found = [f for f in analyze(dataclasses.replace(page, image_texts=(shot,)), CTX) if f.rule == RX_HOME]
    assert found and found[0].evidence[0].source == "ocr"


# OTC-only platform floor, with category links named 处方药 in the navigation and a sidebar
OTC_ONLY = """<main><h1>健康云药城</h1><aside><ul><li><a href="/cat/rx">处方药</a></li><li><a href="/cat/cold">感冒用药</a></li></ul></aside>
<div class="tile"><img src="/p/31.jpg" alt="布洛芬缓释胶囊"><span>OTC</span><p>布洛芬缓释胶囊 0.3g*20粒</p></div>
<div class="tile"><span>甲类非处方药</span><p>感冒灵颗粒</p></div></main>"""

# device-only shop home page (an RX model number, 片 as a count)
DEVICE_HOME = """<main><h1>康瑞医疗器械旗舰店</h1><ul><li><a href="/item/1">康瑞 RX-3 电子血压计</a> ¥199</li>
<li><a href="/item/2">血糖试纸 50片</a> ¥89</li></ul></main>"""

# a pharmacy home page that talks about prescriptions but shows no Rx tile: the Rx warning, a notice,
# an Rx-section banner and names of medicines without any Rx marker (as the demo shop renhe)
NOTICE_ONLY = """<main><h1>仁和堂大药房旗舰店</h1><p>处方药 慢病用药 药师服务</p>
<p>处方药须凭处方在药师指导下购买和使用</p><p class="notice">处方药需上传处方，经执业药师审核后发货</p>
<a href="/cat/rx"><img src="/b/rx.jpg" alt="处方药专区"></a>
<ul><li><a href="/item/1">阿莫西林胶囊</a> ¥12.00</li><li><a href="/item/2">缬沙坦胶囊</a> ¥36.00</li></ul></main>"""

# Rx placeholder pictures only (the picture is withheld until the prescription is reviewed)
PLACEHOLDER = """<main><h1>滇池药房</h1><div class="tile"><img src="/p/ph.png" alt="处方药图片审核后展示"><p>慢病专区</p></div></main>"""


@pytest.mark.parametrize(
    ("kind", "body"),
    [("platform", OTC_ONLY), ("shop", DEVICE_HOME), ("shop", NOTICE_ONLY), ("shop", PLACEHOLDER)],
    ids=["otc-only-with-rx-links", "device-home", "notices-and-names", "placeholder-image"],
)
def test_rx_on_homepage_does_not_fire(kind: str, body: str) -> None:
    page = extract_page("https://y.example/index.html", html("首页", body), kind=kind)  # type: ignore[arg-type]
    assert RX_HOME not in rules(page)


def test_product_pages_are_not_home_pages() -> None:
    body = """<main><h1>头孢克肟分散片</h1><p>【处方药】头孢克肟分散片 0.1g*6片</p><p>批准文号：国药准字H20000001</p>
<p>处方药须凭处方在药师指导下购买和使用</p></main>"""
    page = extract_page("https://y.example/item/9.htm", html("头孢克肟分散片", body), kind="product")
    assert {f.rule for f in drug.analyze(page, CTX)} & {LICENCE, RX_HOME} == set()


def test_registered_and_switchable() -> None:
    assert {LICENCE, RX_HOME} <= implemented_rules()
    page = extract_page("https://shop.tb.example/shop/cc/index.html", html("店铺", SHOP_LIST), kind="shop")
    only = Context(now=CTX.now, enabled_rules=frozenset({"DRUG_RX_WARNING_MISSING"}))
    assert analyze(page, only) == []


def test_rx_warning_next_to_the_licence_number_is_no_pharmacist() -> None:
    body = """<main><h1>春城大药房</h1><ul><li><a href="/item/1">阿莫西林胶囊</a></li></ul>
<p>处方药须凭处方在药师指导下购买和使用</p><p>药品经营许可证编号：滇AA8710001</p></main>"""
    found = [f for f in analyze(shop("https://s.example/shop/cc/index.html", body), CTX) if f.rule == LICENCE]
    assert len(found) == 1
    assert found[0].evidence[0].detail["missing"].startswith("执业药师")
