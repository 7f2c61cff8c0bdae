"""PRODUCT_REGNO_MISSING / PRODUCT_REGNO_INVALID, SHOP_LICENSE_NO_INVALID, PLATFORM_FILING_MISSING."""

from __future__ import annotations

from datetime import UTC, datetime

from mdwatch.analyzers import platform, regno
from mdwatch.analyzers.model import Context, Finding, ImageText, Page, PageKind, TextBlock

CTX = Context(now=datetime(2026, 11, 25, tzinfo=UTC))


def page(kind: PageKind, *texts: str, title: str = "", **kw: object) -> Page:
    return Page(url=f"https://shop.example/{kind}", kind=kind, title=title,
                blocks=tuple(TextBlock(t) for t in texts), **kw)  # type: ignore[arg-type]


def rules_of(findings: list[Finding]) -> list[str]:
    return [f.rule for f in findings]


# --- product pages -----------------------------------------------------------------------


def test_device_with_valid_number_is_clean() -> None:
    p = page("product", "注册证编号：国械注准20243092361", "型号规格：A1", title="电子血压计")
    assert regno.analyze(p, CTX) == []


def test_device_with_filing_number_is_clean() -> None:
    p = page("product", "备案编号：苏锡械备20150012号", title="医用棉签")
    assert regno.analyze(p, CTX) == []


def test_device_without_number_fires_missing() -> None:
    p = page("product", "型号规格：A1", "适用范围：家用", title="电子血压计")
    findings = regno.analyze(p, CTX)
    assert rules_of(findings) == ["PRODUCT_REGNO_MISSING"]
    assert findings[0].evidence[0].source == "structure"
    assert findings[0].severity == "high"


def test_label_without_number_still_missing() -> None:
    p = page("product", "医疗器械注册证编号：详见图片", title="血糖仪")
    assert rules_of(regno.analyze(p, CTX)) == ["PRODUCT_REGNO_MISSING"]


def test_number_only_in_fields_counts() -> None:
    p = page("product", "型号规格：A1", title="体温计", fields={"注册证编号": "苏械注准20172070123"})
    assert regno.analyze(p, CTX) == []


def test_number_in_ocr_text_suppresses_missing() -> None:
    p = page("product", "型号规格：A1", title="体温计",
             image_texts=(ImageText("https://img.example/cert.jpg", "国械注准20243092361"),))
    assert "PRODUCT_REGNO_MISSING" not in rules_of(regno.analyze(p, CTX))


def test_invalid_number_fires_invalid_not_missing() -> None:
    p = page("product", "注册证编号：国械注准20242092361 型号：A1", title="理疗仪")
    findings = regno.analyze(p, CTX)
    assert rules_of(findings) == ["PRODUCT_REGNO_INVALID"]
    ev = findings[0].evidence[0]
    assert ev.source == "text"
    assert ev.match == "国械注准20242092361"
    assert "国械注准20242092361" in ev.snippet and "注册证编号" in ev.snippet
    assert "类别代码应为3" in ev.detail["problems"]
    assert "类别代码应为3" in findings[0].message


def test_one_invalid_finding_per_distinct_number() -> None:
    p = page(
        "product",
        "注册证编号：苏械注准20171220123",
        "再次说明：苏械注准 20171220123",
        "另一证：国械注准20353092361；有效证：国械注准20243092361",
        title="护具",
    )
    findings = regno.analyze(p, CTX)
    assert rules_of(findings) == ["PRODUCT_REGNO_INVALID", "PRODUCT_REGNO_INVALID"]
    assert [f.evidence[0].match for f in findings] == ["苏械注准20171220123", "国械注准20353092361"]
    assert "晚于当前年份" in findings[1].evidence[0].detail["problems"]


def test_year_judged_against_ctx_now() -> None:
    p = page("product", "注册证编号：国械注准20263092361", title="理疗仪")
    assert regno.analyze(p, CTX) == []
    early = Context(now=datetime(2025, 6, 1, tzinfo=UTC))
    assert rules_of(regno.analyze(p, early)) == ["PRODUCT_REGNO_INVALID"]


def test_drug_listing_not_judged_by_device_rules() -> None:
    p = page("product", "批准文号：国药准字H10960123", "功能主治：清热解毒", title="板蓝根颗粒")
    assert regno.analyze(p, CTX) == []


def test_false_friend_does_not_count_as_number() -> None:
    p = page("product", "正品械字号面膜 国食药监械〔2007〕345号 京ICP证110507号", title="医用敷料")
    assert rules_of(regno.analyze(p, CTX)) == ["PRODUCT_REGNO_MISSING"]


def test_licence_on_product_page_is_not_a_registration() -> None:
    p = page("product", "生产许可证：苏食药监械生产许20080046号", title="医用口罩")
    assert rules_of(regno.analyze(p, CTX)) == ["PRODUCT_REGNO_MISSING"]


def test_enabled_rules_respected() -> None:
    p = page("product", "型号：A1", title="血压计")
    ctx = Context(now=CTX.now, enabled_rules=frozenset({"PRODUCT_REGNO_INVALID"}))
    assert regno.analyze(p, ctx) == []


# --- shop pages ----------------------------------------------------------------------------


def test_shop_with_valid_licences_is_clean() -> None:
    p = page("shop", "经营许可证：沪嘉食药监械经营许20187006号", "备案凭证：鄂汉食药监械经营备2018H006号")
    assert regno.analyze(p, CTX) == []


def test_shop_invalid_licence_fires_once_per_number() -> None:
    qual = page("shop", "医疗器械经营许可证：苏锡食药监械经营许2015001号", "苏锡食药监械经营许 2015001 号")
    qual = Page(url="https://shop.example/licence", kind="shop", blocks=qual.blocks)
    p = page("shop", "欢迎光临", "生产许可：苏食药监械生产许19800046号", related=(qual,))
    findings = regno.analyze(p, CTX)
    assert rules_of(findings) == ["SHOP_LICENSE_NO_INVALID", "SHOP_LICENSE_NO_INVALID"]
    by_match = {f.evidence[0].match: f for f in findings}
    assert by_match["苏食药监械生产许19800046号"].evidence[0].page_url == "https://shop.example/shop"
    assert by_match["苏锡食药监械经营许2015001号"].evidence[0].page_url == "https://shop.example/licence"
    assert "流水号" in by_match["苏锡食药监械经营许2015001号"].evidence[0].detail["problems"]


def test_shop_without_licence_number_is_not_invalid() -> None:
    p = page("shop", "欢迎光临本店", "营业执照：见图片")
    assert regno.analyze(p, CTX) == []


def test_shop_page_does_not_judge_registration_numbers() -> None:
    p = page("shop", "热销：国械注准20242092361")
    assert regno.analyze(p, CTX) == []


def test_page_numbers_lists_everything() -> None:
    p = page("shop", "苏锡食药监械经营许20150012号", "统一社会信用代码 91341222087574401G",
             fields={"注册证": "国械注准20243092361"})
    found = regno.page_numbers(p, 2026)
    assert [n.kind for n in found] == ["business_license", "uscc", "registration"]
    text = regno.page_text(p)
    assert all(text[n.start : n.end] == n.raw for n in found)


# --- platform pages ------------------------------------------------------------------------


def test_platform_with_filing_is_clean() -> None:
    p = page("platform", "关于我们 | 隐私政策", "（京）网械平台备字（2018）第00005号 京ICP证110507号")
    assert platform.analyze(p, CTX) == []


def test_platform_without_filing_fires() -> None:
    p = page("platform", "关于我们 | 隐私政策", "京ICP证110507号 (京)-非经营性-2016-0001")
    findings = platform.analyze(p, CTX)
    assert rules_of(findings) == ["PLATFORM_FILING_MISSING"]
    assert findings[0].evidence[0].source == "structure"


def test_platform_with_malformed_filing_fires_with_evidence() -> None:
    p = page("platform", "网械平台备字[2018]第00003号")
    findings = platform.analyze(p, CTX)
    assert rules_of(findings) == ["PLATFORM_FILING_MISSING"]
    ev = findings[0].evidence[0]
    assert ev.source == "text" and ev.match == "网械平台备字[2018]第00003号"
    assert "缺少省份简称" in findings[0].message


def test_seller_filing_is_not_a_platform_filing() -> None:
    p = page("platform", "（浙杭）网械企备字[2019]第00119号")
    assert rules_of(platform.analyze(p, CTX)) == ["PLATFORM_FILING_MISSING"]


def test_platform_rule_ignores_other_kinds() -> None:
    assert platform.analyze(page("shop", "无"), CTX) == []
