"""bytes → Page: decoding, visible text, fields in every label form, price, images, links, kinds."""

from __future__ import annotations

import pytest

from mdwatch.analyzers.extract import ExtractError, decode_body, extract_page, with_related
from mdwatch.analyzers.pagekind import detect_kind, kind_scores

PRODUCT_HTML = """<!DOCTYPE html>
<html lang="zh-CN"><head>
<meta charset="utf-8">
<title>鱼跃电子血压计YE660D 上臂式家用 - 鱼跃医疗旗舰店</title>
<script>var secret = "脚本里的文字";</script>
<style>.x{color:red}</style>
</head>
<body>
<div class="header"><a href="/shop/yuwell">进入店铺</a> <a href="javascript:void(0)">收藏</a> <a href="#top">顶部</a></div>
<h1>鱼跃电子血压计YE660D</h1>
<div class="summary">
  <div class="tm-price-panel"><span class="tm-price">¥<em>199.00</em></span></div>
  <p>促销价：¥ 169.00</p>
  <button>立即购买</button> <button>加入购物车</button>
</div>
<div class="gallery">
  <figure><img data-src="//img.example.cn/cert/zcz.jpg" src="data:image/gif;base64,R0lGOD" alt="注册证">
  <figcaption>医疗器械注册证</figcaption></figure>
  <a href="/img/big1.jpg"><img src="/img/main1.jpg" title="主图 正面"></a>
  <p><img src="img/side.jpg" alt="侧面">侧面图</p>
</div>
<table class="params">
  <tr><th>产品名称</th><td>电子血压计</td></tr>
  <tr><th>注册证编号：</th><td>苏械注准20172200531</td></tr>
  <tr><td>型号规格</td><td>YE660D</td><td>品牌</td><td>鱼跃</td></tr>
  <tr><td>注册人/备案人</td><td>江苏鱼跃医疗设备股份有限公司</td></tr>
</table>
<dl><dt>结构及组成</dt><dd>由主机、袖带和电源适配器组成。</dd></dl>
<ul><li>适用范围：供成人测量血压、脉率用。</li><li>生产企业: 江苏鱼跃医疗设备股份有限公司</li></ul>
<h3>禁忌症</h3><p>严重心律失常患者禁用。</p>
<div style="display:none">隐藏的促销文字</div>
<div hidden>hidden属性文字</div>
<span aria-hidden="true">读屏隐藏</span>
<p style="visibility: hidden">不可见</p>
<input type="hidden" name="token" value="abc">
<noscript>请启用脚本</noscript>
<template><p>模板文字</p></template>
<p>本产品规格齐全，欢迎选购。</p>
<p>第一行<br>第二行<br/>第三行</p>
<p>购买和使用前请仔细阅读产品说明书或者在医务人员的指导下购买和使用</p>
</body></html>
"""

SHOP_HTML = """<html><head><title>鱼跃医疗旗舰店-店铺首页</title></head><body>
<div class="shop-head"><h2>鱼跃医疗旗舰店</h2><a href="/shop/yuwell/follow">关注店铺</a>
<a href="/shop/yuwell/im">联系客服</a></div>
<ul class="nav"><li><a href="/shop/yuwell">店铺首页</a></li><li><a href="/shop/yuwell/all">全部商品</a></li>
<li><a href="/shop/yuwell/license">店铺资质</a></li></ul>
<div class="goods">
  <div class="card"><a href="/item/1001.html"><img src="/p/1001.jpg" alt="血压计">鱼跃血压计</a><span class="price">¥199</span></div>
  <div class="card"><a href="/item/1002.html">鱼跃血糖仪</a><span class="price">¥129</span></div>
  <div class="card"><a href="/item/1003.html">鱼跃制氧机</a><span class="price">¥2599</span></div>
  <div class="card"><a href="/item/1004.html">鱼跃雾化器</a><span class="price">¥299</span></div>
  <div class="card"><a href="/item/1005.html">鱼跃体温计</a><span class="price">¥39</span></div>
  <div class="card"><a href="/item/1006.html">鱼跃轮椅</a><span class="price">¥899</span></div>
</div>
<div class="footer">售后电话：400-828-9999 医疗器械经营许可证：苏宁食药监械经营许20150012号</div>
</body></html>
"""

PLATFORM_HTML = """<html><head><title>康健医械网 - 正品医疗器械网上商城</title></head><body>
<div class="top"><a href="/">平台首页</a> <a href="/join">商家入驻</a> <a href="/help">帮助中心</a></div>
<div class="shops"><h2>入驻商家</h2>
<a href="https://mall.kangjian.cn/shop/yuwell">鱼跃医疗旗舰店</a>
<a href="https://mall.kangjian.cn/shop/omron">欧姆龙官方旗舰店</a>
<a href="https://mall.kangjian.cn/shop/sanuo">三诺医疗专营店</a>
<a href="https://mall.kangjian.cn/shop/kfd">康复得大药房</a>
</div>
<div class="hot"><a href="/item/1001.html">血压计</a><span class="price">¥199</span></div>
<div class="footer">
<p>互联网药品信息服务资格证书编号：(京)-经营性-2023-0123</p>
<p>网械平台备字〔2019〕第00012号</p>
<p><a href="https://beian.miit.gov.cn/">京ICP备12345678号-1</a></p>
</div></body></html>
"""

DRUG_HTML = """<html><head><title>连花清瘟胶囊 0.35g*24粒</title></head><body>
<div class="info">
<p><span>药品名称</span><span>连花清瘟胶囊</span></p>
<div>批准文号：国药准字Z20040063</div>
<div>通用名称：连花清瘟胶囊　　规格：0.35g*24粒</div>
<p>【功能主治】清瘟解毒，宣肺泄热。</p>
<p>【用法用量】</p><p>口服。一次4粒，一日3次。</p>
<p>售价：<b>29.80元</b></p>
<a href="/cart/add?id=88">加入购物车</a>
</div></body></html>
"""

URL = "https://mall.kangjian.cn/item/1001.html"


@pytest.fixture(scope="module")
def product() -> object:
    return extract_page(URL, PRODUCT_HTML.encode("utf-8"), headers={"Content-Type": "text/html; charset=utf-8"})


def test_visible_text_only(product: object) -> None:
    from mdwatch.analyzers.model import Page

    assert isinstance(product, Page)
    text = product.text
    for hidden in ("脚本里的文字", "color:red", "隐藏的促销文字", "hidden属性文字", "读屏隐藏", "不可见", "abc",
                   "请启用脚本", "模板文字"):
        assert hidden not in text, hidden
    assert "本产品规格齐全，欢迎选购。" in text
    assert product.title == "鱼跃电子血压计YE660D 上臂式家用 - 鱼跃医疗旗舰店"
    # title not duplicated as a block; head dropped
    assert all(b.text != product.title for b in product.blocks)


def test_br_split_and_tags(product: object) -> None:
    from mdwatch.analyzers.model import Page

    assert isinstance(product, Page)
    texts = [b.text for b in product.blocks]
    i = texts.index("第一行")
    assert texts[i : i + 3] == ["第一行", "第二行", "第三行"]
    tags = {b.text: b.tag for b in product.blocks}
    assert tags["鱼跃电子血压计YE660D"] == "h1"
    assert tags["严重心律失常患者禁用。"] == "p"
    assert tags["适用范围：供成人测量血压、脉率用。"] == "li"
    assert tags["产品名称 电子血压计"] == "tr"


def test_fields_all_label_forms(product: object) -> None:
    from mdwatch.analyzers.model import Page

    assert isinstance(product, Page)
    f = product.fields
    assert f["product_name"] == "电子血压计"  # th/td
    assert f["registration_no"] == "苏械注准20172200531"  # label with colon in th
    assert f["model_spec"] == "YE660D"  # four-cell row
    assert f["brand"] == "鱼跃"
    assert f["registrant"] == "江苏鱼跃医疗设备股份有限公司"
    assert f["structure"] == "由主机、袖带和电源适配器组成。"  # dt/dd
    assert f["scope"] == "供成人测量血压、脉率用。"  # li label：value
    assert f["manufacturer"] == "江苏鱼跃医疗设备股份有限公司"  # ASCII colon
    assert f["contraindications"] == "严重心律失常患者禁用。"  # h3 + p


def test_label_not_matched_inside_sentence() -> None:
    page = extract_page(URL, "<p>本产品规格：大号，适用范围广</p><p>型号规格说明见下</p>")
    assert "model_spec" not in page.fields
    assert "scope" not in page.fields


def test_first_occurrence_wins() -> None:
    page = extract_page(URL, "<ul><li>型号：A-1</li><li>规格：10片/盒</li><li>型号：B-2</li></ul>")
    assert page.fields["model_spec"] == "A-1"


def test_price_from_price_class(product: object) -> None:
    from mdwatch.analyzers.model import Page

    assert isinstance(product, Page)
    assert product.price == "¥199.00"


def test_price_near_label_word() -> None:
    page = extract_page(URL, DRUG_HTML)
    assert page.price == "29.80元"
    page2 = extract_page(URL, "<div>价格</div><div>￥ 58</div>")
    assert page2.price == "￥ 58"
    assert extract_page(URL, "<p>没有价格信息</p>").price is None


def test_images(product: object) -> None:
    from mdwatch.analyzers.model import Page

    assert isinstance(product, Page)
    imgs = {i.src: i for i in product.images}
    cert = imgs["https://img.example.cn/cert/zcz.jpg"]  # data-src, protocol-relative
    assert cert.alt == "注册证" and cert.caption == "医疗器械注册证"
    main = imgs["https://mall.kangjian.cn/img/main1.jpg"]
    assert main.caption == "主图 正面"  # title attribute
    side = imgs["https://mall.kangjian.cn/item/img/side.jpg"]  # relative to the page URL
    assert side.alt == "侧面" and side.caption == "侧面图"


def test_image_caption_from_card_not_from_far_away() -> None:
    html = """<div class="gallery"><img src="/a.png" alt="主图"><img src="/b.png" alt="细节"></div>
    <footer><p>关于我们 | 帮助中心</p></footer>
    <div class="card"><a href="/item/9.html"><img data-original="//img.x.cn/9.jpg"></a>
    <div class="info"><p>鱼跃血糖仪</p><p>¥129</p></div></div>"""
    page = extract_page(URL, html)
    assert [i.caption for i in page.images] == ["", "", "鱼跃血糖仪 ¥129"]
    assert page.images[2].src == "https://img.x.cn/9.jpg"


def test_links_absolute_and_filtered(product: object) -> None:
    from mdwatch.analyzers.model import Page

    assert isinstance(product, Page)
    hrefs = [link.href for link in product.links]
    assert "https://mall.kangjian.cn/shop/yuwell" in hrefs
    assert "https://mall.kangjian.cn/img/big1.jpg" in hrefs
    assert not any(h.startswith("javascript") for h in hrefs)
    # a scripted link (href="#" / javascript:) is kept by its text, pointing at the page itself
    assert all(h == product.url.split("#", 1)[0] + "#" for h in hrefs if "#" in h)
    texts = {link.href: link.text for link in product.links}
    assert texts["https://mall.kangjian.cn/shop/yuwell"] == "进入店铺"
    assert texts["https://mall.kangjian.cn/img/big1.jpg"] == ""  # image without alt


def test_base_href() -> None:
    page = extract_page(URL, '<head><base href="https://cdn.example.cn/d/"></head><a href="x.html">x</a>')
    assert page.links[0].href == "https://cdn.example.cn/d/x.html"


def test_gbk_bytes_with_meta_only() -> None:
    html = '<html><head><meta http-equiv="Content-Type" content="text/html; charset=gb2312"></head>' \
           "<body><p>产品名称：医用外科口罩</p><p>镕堃</p></body></html>"
    body = html.encode("gb18030")  # 镕/堃 are outside GB2312: pages labelled gb2312 often hold them
    page = extract_page("http://shop.example.cn/item/1.html", body)
    assert page.encoding == "gb18030"
    assert page.fields["product_name"] == "医用外科口罩"
    assert "镕堃" in page.text


def test_gbk_undeclared_falls_back_to_gb18030() -> None:
    text, enc = decode_body("<p>医疗器械注册证</p>".encode("gbk"))
    assert enc == "gb18030" and "医疗器械注册证" in text


def test_decode_header_and_declared() -> None:
    body = "<p>血压计</p>".encode("gbk")
    assert decode_body(body, {"content-type": "text/html; charset=GBK"}) == ("<p>血压计</p>", "gb18030")
    assert decode_body(body, None, "gb2312")[1] == "gb18030"
    assert decode_body("<p>血压计</p>".encode())[1] == "utf-8"


def test_drug_fields() -> None:
    page = extract_page("https://yao.example.cn/goods/88", DRUG_HTML)
    f = page.fields
    assert f["drug_name"] == "连花清瘟胶囊"  # span label run
    assert f["approval_no"] == "国药准字Z20040063"
    assert f["model_spec"] == "0.35g*24粒"  # second label on one line
    assert f["indications"] == "清瘟解毒，宣肺泄热。"  # 【】 form
    assert f["dosage"] == "口服。一次4粒，一日3次。"  # 【】 label alone, value in next block
    assert page.kind == "product"


def test_kinds() -> None:
    prod = extract_page(URL, PRODUCT_HTML)
    shop = extract_page("https://mall.kangjian.cn/shop/yuwell", SHOP_HTML)
    plat = extract_page("https://mall.kangjian.cn/", PLATFORM_HTML)
    assert prod.kind == "product", kind_scores(prod)
    assert shop.kind == "shop", kind_scores(shop)
    assert plat.kind == "platform", kind_scores(plat)
    assert detect_kind(shop) == "shop"
    # shop and platform detected without URL hints too
    assert extract_page("https://x.example.cn/a", SHOP_HTML).kind == "shop"
    assert extract_page("https://x.example.cn/a", PLATFORM_HTML).kind == "platform"


def test_kind_override() -> None:
    assert extract_page(URL, SHOP_HTML, kind="product").kind == "product"


def test_broken_html() -> None:
    html = "<div><p>产品名称：制氧机<p>注册证编号：粤械注准20192080123<table><tr><td>型号<td>8F-5W<tr><td>适用范围<td>家用氧疗"
    page = extract_page(URL, html)
    assert page.fields["product_name"] == "制氧机"
    assert page.fields["registration_no"] == "粤械注准20192080123"
    assert page.fields["model_spec"] == "8F-5W"
    assert page.fields["scope"] == "家用氧疗"


def test_nested_tables() -> None:
    html = """<table><tr><td>外层
      <table><tr><th>产品名称</th><td>轮椅</td></tr><tr><th>规格型号</th><td>H050</td></tr></table>
    </td></tr></table>"""
    page = extract_page(URL, html)
    assert page.fields["product_name"] == "轮椅"
    assert page.fields["model_spec"] == "H050"
    assert "外层" in page.text


def test_label_row_then_value_row() -> None:
    html = "<table><tr><th>适用范围</th></tr><tr><td>用于测量人体血压</td></tr><tr><td>禁忌证</td><td>无</td></tr></table>"
    page = extract_page(URL, html)
    assert page.fields["scope"] == "用于测量人体血压"
    assert page.fields["contraindications"] == "无"


def test_inline_label_runs() -> None:
    html = """<div class="attr"><span class="k">品牌</span><span class="v">欧姆龙</span></div>
    <p><b>型号</b> HEM-7136</p><p><a href="/brand">品牌</a><a href="/x">店铺</a></p>"""
    page = extract_page(URL, html)
    assert page.fields["brand"] == "欧姆龙"
    assert page.fields["model_spec"] == "HEM-7136"


def test_comments_keep_tail() -> None:
    page = extract_page(URL, "<p>前<!-- 注释 -->后</p>")
    assert [b.text for b in page.blocks] == ["前后"]


@pytest.mark.parametrize("body", [b"", b"   \n ", ""])
def test_empty_body_raises(body: bytes | str) -> None:
    with pytest.raises(ExtractError, match="为空"):
        extract_page(URL, body)


def test_invisible_only_raises() -> None:
    with pytest.raises(ExtractError):
        extract_page(URL, "<script>x()</script>")


def test_with_related() -> None:
    shop = extract_page("https://mall.kangjian.cn/shop/yuwell", SHOP_HTML)
    lic = extract_page("https://mall.kangjian.cn/shop/yuwell/license", "<img src='/l.jpg' alt='营业执照'>", kind="shop")
    both = with_related(shop, [lic])
    assert both.related == (lic,)
    assert any(i.alt == "营业执照" for i in both.all_images())


def test_large_product_page_extracts_all_fields_and_blocks() -> None:
    """A 25 KB page extracts whole (its speed is measured by ``make bench``, not here)."""
    rows = "".join(f"<tr><th>参数{i}</th><td>值{i} 详细说明文字</td></tr>" for i in range(150))
    paras = "".join(f"<p>产品说明第{i}段，<span>用于家庭</span>测量血压。</p>" for i in range(200))
    body = PRODUCT_HTML.replace("<table class=\"params\">", f"<table class=\"params\">{rows}").replace(
        "</body>", paras + "</body>"
    ).encode("utf-8")
    assert len(body) > 25_000
    page = extract_page(URL, body)
    assert page.kind == "product"
    assert "产品说明第199段" in page.text
