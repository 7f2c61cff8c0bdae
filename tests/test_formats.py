"""Listing formats the demo platform does not use: field labels in any markup, traditional-Chinese
pages, specification semantics. Each class is checked on at least three formats, through the
real extractor and the analyzer registry (pages as HTML, a registry snapshot as the context)."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from mdwatch.analyzers.extract import extract_page, label_fields
from mdwatch.analyzers.model import Context, Page, Registration, RegistrySnapshot
from mdwatch.analyzers.registry import analyze
from mdwatch.analyzers.registry_rules import model_matches, same_company

NOW = datetime(2026, 12, 5, tzinfo=UTC)
NUMBER = "苏械注准20172070123"
REC = Registration(
    number=NUMBER,
    product_name="电子血压计",
    registrant="无锡康瑞医疗科技有限公司",
    manufacturer="无锡康瑞医疗科技有限公司",
    model_specs=("KR-W5", "KR-B21"),
    structure="由主机、袖带组成",
    scope="用于测量人体血压",
    device_class=2,
    valid_until=date(2032, 5, 31),
    source="csv",
)
WARNING = "购买和使用前请仔细阅读产品说明书或者在医务人员的指导下购买和使用。"
CERT = '<img src="/img/zcz.png" alt="医疗器械注册证">'


def _ctx(*records: Registration) -> Context:
    snap = RegistrySnapshot(records={r.number: r for r in records}, looked_up=frozenset(r.number for r in records),
                            loaded=True, complete=True, description="测试注册库")
    return Context(now=NOW, registry=snap)


def _page(body: str, title: str = "康瑞 电子血压计 KR-W5") -> Page:
    html = f'<html><head><meta charset="utf-8"><title>{title}</title></head><body>{body}</body></html>'
    return extract_page("https://mall.example.cn/item/1.html", html.encode("utf-8"), kind="product")


def _rules(page: Page, *records: Registration) -> set[str]:
    return {f.rule for f in analyze(page, _ctx(*(records or (REC,))))}


DETAIL_RULES = {"PRODUCT_DETAIL_INCOMPLETE", "PRODUCT_INFO_MISMATCH", "PRODUCT_REGNO_MISSING"}

# --- 1. field labels ---------------------------------------------------------------------------

INSTRUCTION = f"""<div class="manual">
<p>【产品名称】电子血压计</p><p>【型号/规格】KR-W5</p><p>【注册人/备案人】无锡康瑞医疗科技有限公司</p>
<p>【医疗器械注册证编号】{NUMBER}</p><p>【性能结构及组成】由主机、袖带组成</p>
<p>【用途/适用范围】用于测量人体血压</p><p>【禁忌事项】严重心律不齐者不宜使用</p>{CERT}<p>{WARNING}</p></div>"""
SPEC_TABLE = f"""<table class="parameter">
<tr><th>品名</th><td>电子血压计</td><th>产品型号</th><td>KR-W5</td></tr>
<tr><th>注册/备案凭证编号</th><td>{NUMBER}</td><th>备案人名称</th><td>无锡康瑞医疗科技有限公司</td></tr>
<tr><th>组成成分</th><td>由主机、袖带组成</td><th>产品用途</th><td>用于测量人体血压</td></tr>
<tr><th>禁忌证</th><td>严重心律不齐者不宜使用</td><th>生产厂家</th><td>无锡康瑞医疗科技有限公司</td></tr>
</table>{CERT}<p>{WARNING}</p>"""
DEFINITION_LIST = f"""<dl class="attrs"><dt>型号、规格</dt><dd>KR-W5</dd><dt>注册证号</dt><dd>{NUMBER}</dd>
<dt>注册人</dt><dd>无锡康瑞医疗科技有限公司</dd><dt>结构与组成</dt><dd>由主机、袖带组成</dd>
<dt>适用范围</dt><dd>用于测量人体血压</dd><dt>禁忌症</dt><dd>严重心律不齐者不宜使用</dd></dl>{CERT}<p>{WARNING}</p>"""
H5_SPANS = f"""<section class="m-detail"><div class="row"><span class="k">型号</span><span class="v">KR-W5</span> |
<span class="k">注册证</span><span class="v">{NUMBER}</span></div>
<div class="row">注册人:无锡康瑞医疗科技有限公司 | 结构组成:由主机、袖带组成｜适用范围:用于测量人体血压</div>
<div class="row"><span>禁忌</span><span>严重心律不齐者不宜使用</span></div>{CERT}<p>{WARNING}</p></section>"""
ONE_RUN = f"""<p>产品名称：电子血压计 型号规格：KR-W5 注册证编号：{NUMBER}型号：KR-W5 注册人：无锡康瑞医疗科技有限公司
结构及组成：由主机、袖带组成；适用范围：用于测量人体血压；禁忌症：严重心律不齐者不宜使用</p>{CERT}<p>{WARNING}</p>"""


@pytest.mark.parametrize("body", [INSTRUCTION, SPEC_TABLE, DEFINITION_LIST, H5_SPANS, ONE_RUN],
                         ids=["instruction", "spec-table", "dl", "h5-spans", "one-run"])
def test_detail_fields_read_in_every_markup(body: str) -> None:
    page = _page(body)
    for key in ("model_spec", "registration_no", "registrant", "structure", "scope", "contraindications"):
        assert page.fields.get(key), (key, page.fields)
    assert page.fields["model_spec"] == "KR-W5"
    assert not (_rules(page) & DETAIL_RULES), analyze(page, _ctx(REC))


@pytest.mark.parametrize("template", [INSTRUCTION, SPEC_TABLE, DEFINITION_LIST, H5_SPANS],
                         ids=["instruction", "spec-table", "dl", "h5-spans"])
def test_registrant_mismatch_is_read_in_every_markup(template: str) -> None:
    page = _page(template.replace("无锡康瑞医疗科技有限公司", "深圳市仿冒医疗器械有限公司"))
    assert "PRODUCT_INFO_MISMATCH" in _rules(page)


def test_label_variants() -> None:
    assert label_fields("型号/规格") == ("model_spec",)
    assert label_fields("用途/适用范围") == ("scope",)
    assert label_fields("注册/备案凭证编号") == ("registration_no",)
    assert label_fields("注册人/生产企业") == ("registrant", "manufacturer")
    assert label_fields("禁忌證") == ("contraindications",)
    assert label_fields("结构与组成") == label_fields("结构及组成") == ("structure",)
    assert label_fields("规格参数") == ("package_spec",)  # shows a specification; never compared
    assert label_fields("生产企业地址") == ()
    page = _page("<p>本产品规格：大号，适用范围广</p>")
    assert "model_spec" not in page.fields  # a label is never read inside a sentence


# --- 2. traditional Chinese --------------------------------------------------------------------

TRAD_WARNING = "購買和使用前請仔細閱讀產品說明書或者在醫務人員的指導下購買和使用。"
TRAD_INSTRUCTION = f"""<p>【產品名稱】電子血壓計</p><p>【型號規格】KR-W5</p><p>【註冊人】無錫康瑞醫療科技有限公司</p>
<p>【醫療器械註冊證編號】{NUMBER}</p><p>【結構及組成】由主機、袖帶組成</p><p>【適用範圍】用於測量人體血壓</p>
<p>【禁忌症】嚴重心律不齊者不宜使用</p>{CERT}<p>{TRAD_WARNING}</p>"""
TRAD_TABLE = f"""<table><tr><td>型號</td><td>KR-W5</td></tr><tr><td>註冊證號</td><td>{NUMBER}</td></tr>
<tr><td>註冊人名稱</td><td>無錫康瑞醫療科技有限公司</td></tr><tr><td>結構組成</td><td>由主機、袖帶組成</td></tr>
<tr><td>適用範圍</td><td>用於測量人體血壓</td></tr><tr><td>禁忌證</td><td>嚴重心律不齊者不宜使用</td></tr></table>
{CERT}<p>{TRAD_WARNING}</p>"""
TRAD_PROSE = f"""<article><p>康瑞電子血壓計（型號：KR-W5）由無錫康瑞醫療科技有限公司生產。</p>
<p>註冊人：無錫康瑞醫療科技有限公司；註冊證編號：{NUMBER}；結構及組成：由主機、袖帶組成；
適用範圍：用於測量人體血壓；禁忌症：嚴重心律不齊者不宜使用。</p>{CERT}<p>{TRAD_WARNING}</p></article>"""


@pytest.mark.parametrize("body", [TRAD_INSTRUCTION, TRAD_TABLE, TRAD_PROSE], ids=["instruction", "table", "prose"])
def test_traditional_page_is_read_like_a_simplified_one(body: str) -> None:
    page = _page(body, title="康瑞 電子血壓計 KR-W5")
    assert page.original_text is not None and "註冊" in page.original_text
    rules = _rules(page)
    assert "PRODUCT_WARNING_RETAIL_MISSING" not in rules
    assert not (rules & DETAIL_RULES), analyze(page, _ctx(REC))


def test_traditional_evidence_quotes_the_page_as_shown() -> None:
    page = _page(TRAD_TABLE.replace(TRAD_WARNING, "本品療效最佳，根治高血壓。"), title="康瑞 電子血壓計")
    findings = analyze(page, _ctx(REC))
    claims = [e for f in findings if f.rule.startswith("CLAIM_") for e in f.evidence if e.source == "text"]
    assert claims
    quoted = " ".join(e.snippet + e.match for e in claims)
    assert "療效" in quoted and "高血壓" in quoted, quoted
    assert "疗效" not in quoted and "高血压" not in quoted, quoted


# --- 3. specification semantics ------------------------------------------------------------------


@pytest.mark.parametrize(("shown", "registered", "same"), [
    ("KR-B21", ["KR-W5、KR-B21、KR-B30"], True),
    ("KR-W5", ["KR-W5/KR-W6"], True),
    ("-3.50D", ["-1.00D至-6.00D，每0.25D一档"], True),
    ("-3.50D", ["-1.00D～-6.00D"], True),
    ("-3.50D", ["-1.00D~-6.00D"], True),
    ("-6.50D", ["-1.00D至-6.00D"], False),
    ("YE650C", ["YE650A～YE650D"], True),
    ("YE650F", ["YE650A～YE650D"], False),
    ("BP-100A", ["BP-100系列"], True),
    ("10cm×10cm", ["10*10cm"], True),
    ("10 X 10 cm", ["10cm×10cm"], True),
    ("10x12cm", ["10×10cm"], False),
    ("4贴/盒", ["4贴"], True),
    ("KR-W55", ["KR-W5"], False),
    # a range offered against registered ranges (steps may change part-way)
    ("后顶焦度 -0.50D～-6.00D", ["-0.50D～-8.00D（0.25D间隔）"], True),
    ("-0.50D～-10.00D", ["-0.50D～-6.00D（0.25D间隔），-6.50D～-10.00D（0.50D间隔）"], True),
    ("直径14.2mm，后顶焦度-0.50D～-10.00D", ["直径14.2mm；后顶焦度：-0.50D～-8.00D"], False),
    # every model code a SKU list names must be registered; a series prefix may be left out
    ("LS-A10/A12/A16", ["LS-A10、LS-A12、LS-A16"], True),
    ("LY-B1、LY-B5（耳背式）", ["LY-B1、LY-B2、LY-B3（耳背式）"], False),
])
def test_spec_semantics(shown: str, registered: list[str], same: bool) -> None:
    assert model_matches(shown, registered) is same


def test_company_name_notations() -> None:
    registered = ["康瑞（无锡）医疗科技有限公司"]
    assert same_company("康瑞(无锡)医疗科技有限公司", registered)
    assert same_company("康瑞 （无锡） 医疗科技 有限公司", registered)
    assert same_company("康瑞（無錫）醫療科技有限公司", registered)
    assert not same_company("康瑞（苏州）医疗科技有限公司", registered)


LENS = Registration(number="国械注进20193160123", product_name="软性亲水接触镜", registrant="海昌隐形眼镜有限公司",
                    manufacturer="海昌隐形眼镜有限公司", model_specs=("-0.50D至-8.00D，每0.25D一档",),
                    device_class=3, valid_until=date(2034, 1, 1), source="csv")


@pytest.mark.parametrize("body", [
    "<table><tr><th>度数</th><td>-3.25D</td></tr><tr><th>规格型号</th><td>-3.25D</td></tr></table>",
    "<p>【型号规格】-3.25D</p>",
    '<div class="sku"><span>规格</span><span>-3.25D</span></div>',
], ids=["table", "instruction", "h5"])
def test_model_in_registered_range_is_no_mismatch(body: str) -> None:
    page = _page(f"<p>注册证编号：{LENS.number}</p><p>注册人：海昌隐形眼镜有限公司</p>{body}", title="海昌 软性亲水接触镜")
    assert "PRODUCT_INFO_MISMATCH" not in _rules(page, LENS)
    out_of_range = _page(f"<p>注册证编号：{LENS.number}</p>{body.replace('-3.25D', '-9.50D')}", title="海昌 软性亲水接触镜")
    assert "PRODUCT_INFO_MISMATCH" in _rules(out_of_range, LENS)


# --- 4. claims in ordinary wording; a drug on a device page --------------------------------------

DEVICE_PAGE = f"""<p>【产品名称】电子血压计</p><p>【型号规格】KR-W5</p><p>【注册人】无锡康瑞医疗科技有限公司</p>
<p>【注册证编号】{NUMBER}</p><p>【结构及组成】由主机、袖带组成</p><p>【适用范围】用于测量人体血压</p>
<p>【禁忌症】严重心律不齐者不宜使用</p>{CERT}<p>{WARNING}</p>"""


def _claims(page: Page) -> set[str]:
    return {r for r in _rules(page) if r.startswith("CLAIM_")}


@pytest.mark.parametrize("extra", [
    "<p>【注意事项】最好在饭前或安静休息5分钟后测量。</p>",
    "<table><tr><th>测量建议</th><td>建议最好每天同一时间测量</td></tr></table>",
    '<div class="tips"><span>小贴士</span><span>最好坐着测，手臂与心脏同高</span></div>',
    "<p>外包装采用100%可回收纸盒。</p>",
    "<ul><li>袖带面料：100%棉质内衬</li></ul>",
    '<div class="offer">最低价 ¥ 189（3家商城比价）</div>',
], ids=["advice-instruction", "advice-table", "advice-h5", "fact-recyclable", "fact-cotton", "price-comparison"])
def test_absolute_words_as_advice_or_fact_are_no_claims(extra: str) -> None:
    assert not _claims(_page(DEVICE_PAGE + extra))


@pytest.mark.parametrize("extra", [
    "<p>测量精准，领先同类产品。</p>",
    "<table><tr><th>卖点</th><td>精度胜过进口货</td></tr></table>",
    '<div class="h5"><span>亮点</span><span>比别家的准多了</span></div>',
], ids=["prose", "table", "h5"])
def test_comparisons_without_a_named_competitor_are_claims(extra: str) -> None:
    assert "CLAIM_COMPARATIVE" in _claims(_page(DEVICE_PAGE + extra))


@pytest.mark.parametrize("extra", [
    "<p>买血压计送降压药？不，本店不销售也不赠送任何药品；降压药请凭处方到医院或药店购买。</p>",
    "<table><tr><th>套餐</th><td>血压计 + 电池 + 收纳包（不含药品）</td></tr><tr><th>搭配用药</th>"
    "<td>硝苯地平控释片须凭处方购买，国药准字H10910052，本店不销售</td></tr></table>",
    '<div class="h5"><span>温馨提示</span><span>雾化用的布地奈德混悬液需凭医生处方另购</span></div>',
], ids=["prose", "table", "h5"])
def test_a_drug_mentioned_on_a_device_page_keeps_it_a_device_listing(extra: str) -> None:
    rules = _rules(_page(DEVICE_PAGE + extra))
    assert not {r for r in rules if r.startswith("DRUG_")}, rules
    assert not (rules & DETAIL_RULES)


@pytest.mark.parametrize("extra", [
    "<p>活动：下单即赠吸入用布地奈德混悬液1盒。</p>",
    "<table><tr><th>赠品</th><td>加赠布洛芬缓释胶囊一盒</td></tr></table>",
    '<div class="h5"><span>福利</span><span>买就送硝苯地平控释片</span></div>',
], ids=["prose", "table", "h5"])
def test_a_drug_given_away_with_a_device_is_a_banned_promotion(extra: str) -> None:
    assert "DRUG_PROMOTION_BANNED" in _rules(_page(DEVICE_PAGE + extra))


# --- 6. qualification by content -----------------------------------------------------------------


def _shop(body: str, title: str = "康护医疗器械专营店") -> Page:
    products = "".join(f'<li><a href="/item/{i}.html">康泰分子筛制氧机 KT-{i}L</a> ¥{1900 + i}</li>' for i in range(6))
    html = (f'<html><head><meta charset="utf-8"><title>{title}</title></head><body><ul>{products}</ul>'
            f"{body}<p>售后服务电话：400-800-1234，投诉电话：0510-12345678</p></body></html>")
    return extract_page("https://mall.example.cn/shop/kanghu/", html.encode("utf-8"), kind="shop")


@pytest.mark.parametrize("body", [
    '<div class="license"><p>证照公示</p><img src="/img/yyzz.jpg" alt="营业执照"></div>',
    '<footer><a href="/lic/yyzz.html">营业执照</a> 统一社会信用代码：91320200MA1X2Y3Z4K</footer>',
    "<table><tr><th>资质信息</th><td><img src='/img/license.png' alt='营业执照（副本）'></td></tr></table>",
], ids=["panel", "footer-link", "table"])
def test_a_business_licence_alone_is_no_device_qualification(body: str) -> None:
    assert "SHOP_QUALIFICATION_MISSING" in _rules(_shop(body))


@pytest.mark.parametrize("body", [
    '<div class="license"><img src="/img/a.jpg" alt="营业执照"><img src="/img/b.jpg" alt="第二类医疗器械经营备案凭证"></div>',
    '<p><span>第二类医疗器械经营备案凭证</span>:<span>苏锡药监械经营备20210377号</span> '
    '<a href="/img/beian.jpg">[查看凭证]</a></p>',
    '<footer><a href="https://zz.example.gov.cn/e/123">医疗器械经营许可证电子证书</a></footer>',
], ids=["image-alt", "generic-link-in-labelled-block", "e-certificate"])
def test_a_device_licence_or_filing_is_recognised_in_any_markup(body: str) -> None:
    assert "SHOP_QUALIFICATION_MISSING" not in _rules(_shop(body))


# --- whose words: buyers' reviews, Q&A, carousels and menus are not the seller's claims -----------


@pytest.mark.parametrize("extra", [
    "<div class='rv'><h3>买家评价（8641）</h3><p>★★★★★ t**7：这是我用过最准的血压计，绝对第一！</p>"
    "<p>★★★★☆ 小**鹿：100%正品，根治了我的高血压</p></div>",
    "<div class='qa'><h3>问大家</h3><p>问：能降血压吗？</p><p>答（已购）：用了两年，最好用的一款</p></div>",
    "<section><h2>观众评论</h2><p>豆豆妈：我家老人用了血压就降下来了，医生推荐的！</p></section>",
    "<div class='reco'><p>为你推荐</p><p>降压神器 草本足贴 ¥25</p><p>根治失眠 助眠枕 ¥99</p></div>",
    "<aside><h4>商品分类</h4><ul><li>血压计</li><li>降压理疗</li><li>助眠</li></ul></aside>",
], ids=["reviews", "qa", "live-comments", "carousel", "category-menu"])
def test_words_the_seller_did_not_write_are_no_claims(extra: str) -> None:
    assert not _claims(_page(DEVICE_PAGE + extra))


@pytest.mark.parametrize("extra", [
    "<p>本品根治高血压，无副作用。</p>",
    "<div class='qa'><h3>问大家</h3><p>问：能降血压吗？</p><p>商家回复：坚持使用可以根治高血压。</p></div>",
    "<section><h2>主播讲解</h2><p>主播：这款是全网最好的血压计！</p></section><section><h2>观众评论</h2><p>用户_1：好</p></section>",
], ids=["copy", "seller-reply", "host-transcript"])
def test_the_sellers_own_words_are_still_read(extra: str) -> None:
    assert _claims(_page(DEVICE_PAGE + extra))


# --- an unmarked medicine that is prescription-only by law --------------------------------------


@pytest.mark.parametrize("body", [
    "<table><tr><th>通用名称</th><td>阿莫西林胶囊</td></tr><tr><th>批准文号</th><td>国药准字H44021351</td></tr>"
    "<tr><th>适应症</th><td>敏感菌所致的感染</td></tr></table>",
    "<p>【药品名称】头孢克肟分散片</p><p>【批准文号】国药准字H20051234</p><p>【用法用量】口服，一次0.1g</p>",
    '<div class="h5"><span>药品名称</span><span>阿奇霉素片</span> | <span>批准文号</span><span>国药准字H10960167</span></div>'
    "<p>功能主治：用于敏感菌引起的感染</p>",
], ids=["table", "instruction", "h5"])
def test_unmarked_prescription_only_medicine_is_judged_as_rx(body: str) -> None:
    html = f'<html><head><meta charset="utf-8"><title>药房</title></head><body>{body}</body></html>'
    page = extract_page("https://yaofang.example.cn/goods/1.html", html.encode("utf-8"), kind="product")
    rules = {f.rule for f in analyze(page, _ctx())}
    assert {"DRUG_RX_NOT_DISTINGUISHED", "DRUG_RX_WARNING_MISSING", "DRUG_RX_INFO_BEFORE_REVIEW"} <= rules, rules


# --- sellers' own wording of the detail items ----------------------------------------------------

SELLER_WORDED_H5 = f"""<div class="line"><span class="a">型号</span><span class="b">KR-W5</span> /
<span class="a">续航</span><span class="b">约7天</span></div>
<div class="line"><span class="a">证号</span><span class="b">{NUMBER}</span> /
<span class="a">注册方</span><span class="b">无锡康瑞医疗科技有限公司</span></div>
<div class="card-t">包装里有什么</div><div class="card-c">主机×1 袖带×1 电池×4</div>
<div class="card-t">能做什么</div><div class="card-c">用于测量人体血压</div>
<div class="card-t">使用限制</div><div class="card-c">严重心律不齐者请在医生指导下测量</div>{CERT}<p>{WARNING}</p>"""
SELLER_WORDED_BRACKETS = f"""<p>〖通用名〗电子血压计</p><p>〖包装规格〗KR-W5 1台/盒</p>
<p>〖三层构造〗主机、袖带、电源适配器</p><p>〖用途〗用于测量人体血压</p>
<p>〖哪些情况不能用〗严重心律不齐者</p><p>〖持证生产企业〗无锡康瑞医疗科技有限公司</p>
<p>〔注册证〕{NUMBER}</p>{CERT}<p>{WARNING}</p>"""
SELLER_WORDED_PROSE = f"""<p>康瑞这款血压计型号是KR-W5，主机、袖带、充电线和收纳包组成了一整套。</p>
<p>它用于测量人体血压。这台血压计由无锡康瑞 医疗科技有限公司注册并生产，注册证号{NUMBER}。</p>
<p>有几类人不适合：严重心律不齐的人士不得单独测量，须由家人陪同。</p>{CERT}<p>{WARNING}</p>"""


@pytest.mark.parametrize("body", [SELLER_WORDED_H5, SELLER_WORDED_BRACKETS, SELLER_WORDED_PROSE],
                         ids=["h5-pairs", "other-brackets", "prose"])
def test_items_in_the_sellers_own_words_show_the_detail(body: str) -> None:
    rules = _rules(_page(body))
    assert "PRODUCT_DETAIL_INCOMPLETE" not in rules, analyze(_page(body), _ctx(REC))


def test_pairs_set_apart_by_separators_skip_a_label_that_is_not_ours() -> None:
    page = _page(SELLER_WORDED_H5)
    assert page.fields.get("registrant_shown") == "无锡康瑞医疗科技有限公司"


@pytest.mark.parametrize("extra", [
    "<p>先说最重要的一句：血压计只是测量工具，用药请遵医嘱。</p>",
    "<table><tr><th>常见问题</th><td>家里人最常讨论的是什么时候测</td></tr></table>",
    '<div class="h5"><span>禁忌</span><span>无绝对禁忌证</span></div>',
], ids=["prose", "table", "h5"])
def test_ordinary_superlatives_are_no_claims(extra: str) -> None:
    assert not _claims(_page(DEVICE_PAGE + extra))


@pytest.mark.parametrize("extra", [
    "<p>如果医院已经确诊为高血压，医生可能会建议您每天在家测量。</p>",
    "<table><tr><th>不适用人群</th><td>未控制的高血压患者运动后</td></tr></table>",
    '<div class="h5"><span>小贴士</span><span>难以控制的高血压请及时就医</span></div>',
    "<p>降压是一件长期的事，每天同一时间测量才有参考价值。</p>",
], ids=["prose-diagnosed", "table-state", "h5-state", "prose-topic"])
def test_a_disease_described_not_treated_is_no_scope_claim(extra: str) -> None:
    assert "CLAIM_SCOPE_EXCEEDED" not in _claims(_page(DEVICE_PAGE + extra))


# --- content shown after a click ---------------------------------------------------------------

PARAMS = (f"<p>型号：KR-W5</p><p>注册证编号：{NUMBER}</p><p>注册人：无锡康瑞医疗科技有限公司</p>"
          "<p>结构及组成：由主机、袖带组成</p><p>适用范围：用于测量人体血压</p><p>禁忌症：严重心律不齐者不宜使用</p>")
TAB_PANEL = f"""<div role="tablist"><button role="tab" aria-controls="p1">详情</button>
<button role="tab" aria-controls="p2">注册证</button><button role="tab" aria-controls="p3">售后</button></div>
<div role="tabpanel" id="p1"><p>{WARNING}</p></div>
<div role="tabpanel" id="p2" hidden aria-hidden="true">{PARAMS}{CERT}</div>
<div role="tabpanel" id="p3" hidden>售后电话 400-800-1234</div>"""
POP_UP = f"""<p>{WARNING}</p><a href="javascript:;" onclick="document.getElementById('qual').classList.add('up')">资质 ›</a>
<div id="qual" aria-hidden="true">{PARAMS}{CERT}</div>"""
STYLED_PANE = f"""<ul class="tabs"><li>介绍</li><li>参数</li></ul><p>{WARNING}</p>
<div class="tab-pane" style="display:none">{PARAMS}{CERT}</div>"""


@pytest.mark.parametrize("body", [TAB_PANEL, POP_UP, STYLED_PANE], ids=["aria-tabs", "pop-up", "styled-pane"])
def test_information_in_a_pane_a_click_opens_is_on_the_page(body: str) -> None:
    page = _page(body)
    assert page.fields.get("registration_no") == NUMBER
    rules = _rules(page)
    assert not rules & {"PRODUCT_REGNO_MISSING", "PRODUCT_CERT_MISSING", "PRODUCT_DETAIL_INCOMPLETE"}, rules


@pytest.mark.parametrize("body", [
    f"{PARAMS}{CERT}<details><summary>购买须知</summary><p>{WARNING}</p></details>",
    f'{PARAMS}{CERT}<div role="tabpanel" hidden><p>{WARNING}</p></div>',
    f'{PARAMS}{CERT}<dialog id="tip"><p>{WARNING}</p></dialog><button onclick="tip.showModal()">须知</button>',
], ids=["closed-details", "hidden-tab", "closed-dialog"])
def test_a_warning_shown_only_after_a_click_is_not_shown_continuously(body: str) -> None:
    assert "PRODUCT_WARNING_RETAIL_MISSING" in _rules(_page(body))


def test_text_hidden_for_good_is_not_on_the_page() -> None:
    page = _page(f'<div class="seo" style="display:none">{NUMBER}</div><p>{WARNING}</p>{CERT}')
    assert "PRODUCT_REGNO_MISSING" in _rules(page)


# --- everyday goods and device kinds -----------------------------------------------------------

@pytest.mark.parametrize(("body", "title"), [
    ('<table><tr><th>类目</th><td>运动护具 / 护膝</td></tr><tr><th>材质</th><td>托玛琳弹力针织</td></tr></table>'
     "<p>专门针对膝关节炎，骨刺逐渐软化消失。</p>", "暖膝宝 自发热护膝"),
    ("<p>这款足贴用了竹醋液，贴一晚就能治疗失眠和关节炎。</p>", "竹醋足贴 30贴装"),
    ('<div class="kv"><span>卖点</span><span>坚持使用可以治疗颈椎病</span></div>', "颈部按摩披肩 加热款"),
], ids=["spec-table", "prose", "h5"])
def test_a_good_that_is_no_device_is_judged_for_its_claims_only(body: str, title: str) -> None:
    rules = _rules(_page(body, title=title))
    assert "CLAIM_NONDEVICE_MEDICAL" in rules
    assert not {r for r in rules if r.startswith("PRODUCT_")}, rules


@pytest.mark.parametrize("title", ["家用电子血压计 上臂式", "一次性使用口罩 50只", "月抛隐形眼镜 2片装"])
def test_a_device_kind_without_any_number_is_still_a_device_listing(title: str) -> None:
    rules = _rules(_page(f"<p>{WARNING}</p>", title=title))
    assert "PRODUCT_REGNO_MISSING" in rules


@pytest.mark.parametrize("img", [
    f'<img src="/img/a.jpg" alt="医疗器械注册证（注册证编号：{NUMBER}）">',
    f'<picture><source srcset="/img/b.webp"><img src="/img/b.jpg" alt="备案凭证 {NUMBER}"></picture>',
    f'<a href="/cert.html"><img src="/img/c.jpg" alt="注册证编号 {NUMBER}"></a>',
], ids=["alt", "picture", "linked"])
def test_a_number_given_only_with_an_image_is_not_text_rather_than_missing(img: str) -> None:
    body = (f"<p>型号：KR-W5</p><p>注册证编号：见下图</p><p>注册人：无锡康瑞医疗科技有限公司</p>{img}<p>{WARNING}</p>")
    rules = _rules(_page(body))
    assert "PRODUCT_REGNO_NOT_TEXT" in rules and "PRODUCT_REGNO_MISSING" not in rules, rules


@pytest.mark.parametrize("extra", [
    "<p>观众：这个能降血压吗？</p><p>主播：不能，血压计只用来测量。</p>",
    "<table><tr><th>问</th><td>能治疗高血压么</td></tr><tr><th>答</th><td>不能</td></tr></table>",
    '<div class="qa"><span>问</span><span>用了能降压吗?</span></div>',
], ids=["live", "table", "h5"])
def test_a_question_is_no_scope_claim(extra: str) -> None:
    assert "CLAIM_SCOPE_EXCEEDED" not in _claims(_page(DEVICE_PAGE + extra))


@pytest.mark.parametrize(("shown", "registered"), [
    ("60mm×120mm×4贴/盒", "60mm*120mm-4贴"),
    ("60mm×120mm 4贴", "60mm*120mm-4贴"),
    ("10ml×5支", "10ml-5支"),
])
def test_a_size_and_count_in_any_notation(shown: str, registered: str) -> None:
    assert model_matches(shown, [registered])
    assert not model_matches(shown.replace("4", "6").replace("5支", "8支"), [registered])


@pytest.mark.parametrize("extra", [
    "<p>来问得最多的是子女：老人能不能自己用？</p>",
    "<table><tr><th>使用</th><td>从最低一档开始逐级调高</td></tr></table>",
    '<div class="h5"><span>测量建议</span><span>早晨血压通常最高，数据最具参考价值</span></div>',
    "<p>【局限性】结果仅供参考，不能作为诊断的唯一依据。</p>",
], ids=["prose-asked", "table-level", "h5-physiology", "instruction-denied"])
def test_superlatives_about_questions_levels_and_physiology_are_no_claims(extra: str) -> None:
    assert not _claims(_page(DEVICE_PAGE + extra))


QUESTION_LABELS = f"""<ul><li>这是什么：电子血压计</li><li>型号有哪几种：KR-W5</li>
<li>一台由什么做成：主机、袖带</li><li>能用来做什么：用于测量人体血压</li>
<li>哪些人不能用：严重心律不齐者不宜使用</li><li>谁注册的、谁生产的：无锡康瑞医疗科技有限公司</li>
<li>注册证号码是多少：{NUMBER}</li></ul>{CERT}<p>{WARNING}</p>"""


@pytest.mark.parametrize("body", [
    QUESTION_LABELS,
    QUESTION_LABELS.replace("<ul>", "<dl>").replace("<li>", "<dd>").replace("</li>", "</dd>"),
    QUESTION_LABELS.replace("<li>", "<p>").replace("</li>", "</p>"),
], ids=["list", "dl", "paragraphs"])
def test_labels_asked_as_questions_show_the_items(body: str) -> None:
    assert "PRODUCT_DETAIL_INCOMPLETE" not in _rules(_page(body))


def test_a_short_form_of_the_registrant_with_its_region() -> None:
    assert same_company("恒康医疗（北京）", ["北京恒康医疗器械有限公司"])
    assert not same_company("恒康医疗（上海）", ["北京恒康医疗器械有限公司"])
    assert not same_company("康泰医疗（北京）", ["北京恒康医疗器械有限公司"])
    assert not same_company("恒康医疗器械有限公司", ["北京恒康医疗器械有限公司"])
