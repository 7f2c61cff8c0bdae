"""Rules on text read from listing images (issue 4): hand-built Pages carrying ``image_texts``."""

from __future__ import annotations

from datetime import UTC, date, datetime

from mdwatch.analyzers import claims, qualification, registry_rules, regno
from mdwatch.analyzers.model import (
    Context,
    Finding,
    ImageText,
    Link,
    Page,
    Registration,
    RegistrySnapshot,
    TextBlock,
)

NOW = datetime(2026, 11, 25, tzinfo=UTC)
CTX = Context(now=NOW)
NUMBER = "国械注准20213162540"
CERT_URL = "https://shop.example/img/a1.jpg"  # a file name that names nothing
CERT_TEXT = f"""医疗器械注册证
注册证编号 {NUMBER}
注册人名称 北京华仁医疗设备有限公司
产品名称 电子血压计
型号、规格 YE660A、YE660B
有效期至 2029年09月09日
审批部门 国家药品监督管理局"""
LICENCE_URL = "https://shop.example/img/q1.jpg"


def _licence_text(until: str = "2029年12月18日") -> str:
    return f"""医疗器械经营许可证
许可证编号 苏锡食药监械经营许20214595号
企业名称 无锡康瑞药房有限公司
经营方式 零售
有效期限 至{until}
发证机关 无锡市市场监督管理局"""


def _product(*lines: str, images: tuple[ImageText, ...] = (), fields: dict[str, str] | None = None) -> Page:
    return Page(
        url="https://shop.example/item/1",
        kind="product",
        title="华仁电子血压计 家用上臂式",
        blocks=tuple(TextBlock(line) for line in lines),
        fields=fields or {},
        image_texts=images,
    )


def _shop(*lines: str, images: tuple[ImageText, ...] = ()) -> Page:
    return Page(
        url="https://shop.example/shops/a/index.html",
        kind="shop",
        title="某某医疗器械旗舰店",
        blocks=tuple(TextBlock(line) for line in lines),
        links=(Link("https://shop.example/products/p1.html", "医用雾化器 NE-C28"),),
        image_texts=images,
    )


def _by_rule(findings: list[Finding], rule: str) -> list[Finding]:
    return [f for f in findings if f.rule == rule]


# --- PRODUCT_REGNO_NOT_TEXT / MISSING ----------------------------------------------------------


def test_regno_only_in_image_fires_not_text_instead_of_missing() -> None:
    page = _product("家用上臂式电子血压计", images=(ImageText(CERT_URL, CERT_TEXT),))
    findings = regno.analyze(page, CTX)
    assert not _by_rule(findings, "PRODUCT_REGNO_MISSING")
    [f] = _by_rule(findings, "PRODUCT_REGNO_NOT_TEXT")
    [ev] = f.evidence
    assert ev.source == "ocr" and ev.image_url == CERT_URL
    assert ev.match == NUMBER and "注册证编号" in ev.snippet
    assert ev.detail["line"] == f"注册证编号 {NUMBER}"
    assert f.severity == "medium"


def test_regno_misread_in_image_is_repaired() -> None:
    page = _product("家用电子血压计", images=(ImageText(CERT_URL, "注冊证编号 国楲注淮2O2l3l6254O"),))
    [f] = _by_rule(regno.analyze(page, CTX), "PRODUCT_REGNO_NOT_TEXT")
    assert NUMBER in f.message
    assert f.evidence[0].match == "国楲注淮2O2l3l6254O"


def test_regno_in_text_and_image_fires_neither() -> None:
    page = _product(f"注册证编号：{NUMBER}", images=(ImageText(CERT_URL, CERT_TEXT),))
    rules = {f.rule for f in regno.analyze(page, CTX)}
    assert not rules & {"PRODUCT_REGNO_NOT_TEXT", "PRODUCT_REGNO_MISSING"}


def test_regno_nowhere_fires_missing() -> None:
    page = _product("家用电子血压计", images=(ImageText(CERT_URL, "限时特惠 正品保障"),))
    rules = {f.rule for f in regno.analyze(page, CTX)}
    assert "PRODUCT_REGNO_MISSING" in rules and "PRODUCT_REGNO_NOT_TEXT" not in rules


def test_page_numbers_marks_image_numbers() -> None:
    page = _product("型号 KR-W5", images=(ImageText(CERT_URL, CERT_TEXT),))
    [n] = [n for n in regno.page_numbers(page, 2026) if n.kind == "registration"]
    assert regno.is_ocr_number(n) and n.parts[regno.OCR_IMAGE_URL] == CERT_URL
    assert n.normalized == NUMBER and n.valid
    plain = _product(f"注册证编号：{NUMBER}")
    assert not any(regno.is_ocr_number(n) for n in regno.page_numbers(plain, 2026))


# --- SHOP_LICENSE_NO_NOT_TEXT -------------------------------------------------------------------


def test_licence_only_in_image_fires_not_text() -> None:
    page = _shop("欢迎光临", images=(ImageText(LICENCE_URL, _licence_text()),))
    [f] = _by_rule(regno.analyze(page, CTX), "SHOP_LICENSE_NO_NOT_TEXT")
    assert f.evidence[0].source == "ocr" and f.evidence[0].image_url == LICENCE_URL
    assert "苏锡食药监械经营许20214595号" in f.message


def test_licence_in_text_too_does_not_fire() -> None:
    page = _shop(
        "经营许可证编号：苏锡食药监械经营许20214595号", images=(ImageText(LICENCE_URL, _licence_text()),)
    )
    assert not _by_rule(regno.analyze(page, CTX), "SHOP_LICENSE_NO_NOT_TEXT")


# --- SHOP_QUALIFICATION_MISSING, expiry, scope -------------------------------------------------


def test_licence_image_counts_as_qualification_display() -> None:
    bare = _shop("欢迎光临")
    assert _by_rule(qualification.analyze(bare, CTX), "SHOP_QUALIFICATION_MISSING")
    shown = _shop("欢迎光临", images=(ImageText(LICENCE_URL, _licence_text()),))
    assert not _by_rule(qualification.analyze(shown, CTX), "SHOP_QUALIFICATION_MISSING")
    promo = _shop("欢迎光临", images=(ImageText(LICENCE_URL, "本店已取得医疗器械经营许可证，放心购买"),))
    assert _by_rule(qualification.analyze(promo, CTX), "SHOP_QUALIFICATION_MISSING")


def test_licence_image_expired_and_expiring() -> None:
    expired = _shop("欢迎光临", images=(ImageText(LICENCE_URL, _licence_text("2026年01月10日")),))
    [f] = _by_rule(qualification.analyze(expired, CTX), "SHOP_LICENSE_EXPIRED")
    assert f.evidence[0].source == "ocr" and f.evidence[0].image_url == LICENCE_URL
    assert f.evidence[0].detail["valid_until"] == "2026-01-10"
    assert "有效期限" in f.evidence[0].snippet
    expiring = _shop("欢迎光临", images=(ImageText(LICENCE_URL, _licence_text("2026年12月10日")),))
    findings = qualification.analyze(expiring, CTX)
    assert _by_rule(findings, "SHOP_LICENSE_EXPIRING") and not _by_rule(findings, "SHOP_LICENSE_EXPIRED")


def test_business_filing_image_has_no_expiry() -> None:
    text = "第二类医疗器械经营备案凭证\n备案编号 浙杭药监械经营备20216922号\n备案日期 2020年03月01日"
    page = _shop("欢迎光临", images=(ImageText(LICENCE_URL, text),))
    findings = qualification.analyze(page, CTX)
    assert not _by_rule(findings, "SHOP_LICENSE_EXPIRED")
    assert not _by_rule(findings, "SHOP_QUALIFICATION_MISSING")


# --- PRODUCT_CERT_MISSING -----------------------------------------------------------------------


def test_certificate_image_content_counts_as_cert_display() -> None:
    bare = _product(f"注册证编号：{NUMBER}")
    assert _by_rule(registry_rules.analyze(bare, CTX), "PRODUCT_CERT_MISSING")
    shown = _product(f"注册证编号：{NUMBER}", images=(ImageText(CERT_URL, CERT_TEXT),))
    assert not _by_rule(registry_rules.analyze(shown, CTX), "PRODUCT_CERT_MISSING")
    licence_only = _product(f"注册证编号：{NUMBER}", images=(ImageText(LICENCE_URL, _licence_text()),))
    assert _by_rule(registry_rules.analyze(licence_only, CTX), "PRODUCT_CERT_MISSING")


# --- registry, status and mismatch from certificate images -------------------------------------

REC = Registration(
    number=NUMBER,
    product_name="电子血压计",
    registrant="北京华仁医疗设备有限公司",
    manufacturer="北京华仁医疗设备有限公司",
    model_specs=("YE660A", "YE660B"),
    valid_until=date(2029, 9, 9),
    source="csv",
)


def _registry_ctx(*records: Registration) -> Context:
    snap = RegistrySnapshot(
        records={r.number: r for r in records},
        looked_up=frozenset({NUMBER}),
        loaded=True,
        complete=True,
        description="测试注册库",
    )
    return Context(now=NOW, registry=snap)


def test_image_number_is_looked_up_with_ocr_evidence() -> None:
    page = _product("家用电子血压计", images=(ImageText(CERT_URL, CERT_TEXT),))
    [f] = _by_rule(registry_rules.analyze(page, _registry_ctx()), "PRODUCT_UNREGISTERED")
    assert f.evidence[0].source == "ocr" and f.evidence[0].image_url == CERT_URL
    assert "识别自图片" in f.message
    assert not _by_rule(registry_rules.analyze(page, _registry_ctx(REC)), "PRODUCT_UNREGISTERED")


def test_certificate_image_expiry_fires_invalid_status() -> None:
    text = CERT_TEXT.replace("2029年09月09日", "2025年09月09日")
    page = _product(f"注册证编号：{NUMBER}", images=(ImageText(CERT_URL, text),))
    [f] = _by_rule(registry_rules.analyze(page, CTX), "PRODUCT_REG_INVALID_STATUS")
    assert "2025-09-09" in f.message
    ocr = [e for e in f.evidence if e.source == "ocr"]
    assert ocr and ocr[0].image_url == CERT_URL and "有效期至" in ocr[0].snippet
    current = _product(f"注册证编号：{NUMBER}", images=(ImageText(CERT_URL, CERT_TEXT),))
    assert not _by_rule(registry_rules.analyze(current, CTX), "PRODUCT_REG_INVALID_STATUS")


def test_page_product_differs_from_certificate_image() -> None:
    page = _product(
        "产品名称：电子体温计",
        fields={"product_name": "电子体温计", "registrant": "北京华仁医疗设备有限公司"},
        images=(ImageText(CERT_URL, CERT_TEXT),),
    )
    [f] = _by_rule(registry_rules.analyze(page, CTX), "PRODUCT_INFO_MISMATCH")
    [ev] = f.evidence
    assert ev.detail["field"] == "产品名称" and ev.detail["registered"] == "电子血压计"
    assert ev.detail["against"] == "证书图片" and ev.detail["image_url"] == CERT_URL
    same = _product(
        "产品名称：华仁电子血压计",
        fields={"product_name": "华仁电子血压计"},
        images=(ImageText(CERT_URL, CERT_TEXT),),
    )
    assert not _by_rule(registry_rules.analyze(same, CTX), "PRODUCT_INFO_MISMATCH")


def test_certificate_image_differs_from_registry_record() -> None:
    forged = CERT_TEXT.replace("注册人名称 北京华仁医疗设备有限公司", "注册人名称 深圳某某贸易有限公司")
    page = _product("家用电子血压计", images=(ImageText(CERT_URL, forged),))
    [f] = _by_rule(registry_rules.analyze(page, _registry_ctx(REC)), "PRODUCT_INFO_MISMATCH")
    [ev] = f.evidence
    assert ev.source == "ocr" and ev.image_url == CERT_URL
    assert ev.detail["shown"] == "深圳某某贸易有限公司"
    assert ev.detail["registered"] == "北京华仁医疗设备有限公司"
    faithful = _product("家用电子血压计", images=(ImageText(CERT_URL, CERT_TEXT),))
    assert not _by_rule(registry_rules.analyze(faithful, _registry_ctx(REC)), "PRODUCT_INFO_MISMATCH")


# --- claims on image text -----------------------------------------------------------------------


def test_claims_in_images_have_ocr_evidence() -> None:
    promo = "家用电子血压计\n专家推荐 根治高血压 无副作用"
    page = _product("家用电子血压计 精准测量", images=(ImageText("https://shop.example/img/p1.jpg", promo),))
    findings = claims.analyze(page, CTX)
    rules = {f.rule for f in findings}
    assert {"CLAIM_ENDORSEMENT", "CLAIM_GUARANTEE"} <= rules
    for f in findings:
        for ev in f.evidence:
            assert ev.source == "ocr" and ev.image_url == "https://shop.example/img/p1.jpg"
            assert ev.match and ev.match in ev.snippet.replace("…", "")


def test_claims_text_and_image_both_reported() -> None:
    page = _product("全网第一的血压计", images=(ImageText("https://shop.example/img/p2.jpg", "销量第一"),))
    [f] = _by_rule(claims.analyze(page, CTX), "CLAIM_ABSOLUTE")
    assert {e.source for e in f.evidence} == {"text", "ocr"}
