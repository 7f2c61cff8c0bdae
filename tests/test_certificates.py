"""Certificate reading from OCR text (analyzers/certificates.py): clean text, OCR-like noise, real RapidOCR."""

from __future__ import annotations

from functools import cache

import pytest

from mdwatch.analyzers.certificates import read_certificate, repair_ocr

YEAR = 2026

REGISTRATION = """医疗器械注册证
注册证编号 国械注准20213162540
注册人名称 北京华仁医疗设备有限公司
注册人住所 上海市高新区科技路370号
产品名称 电子血压计
型号、规格 YE660A、YE660B
结构及组成 由主机、袖带、充气管组成。
适用范围 供家庭或医疗机构测量成人血压用。
批准日期 2024年09月10日
有效期至 2029年09月09日
审批部门 国家药品监督管理局"""

FILING = """第一类医疗器械备案信息表
备案编号 苏州械备20191421号
备案人名称 江苏康泰医疗器械有限公司
产品名称 医用棉签
产品描述 由棉头和杆组成，非无菌提供。
预期用途 用于皮肤表面的清洁。
备案日期 2022年05月03日"""

BUSINESS_LICENSE = """医疗器械经营许可证
许可证编号 苏锡食药监械经营许20214595号
企业名称 深圳瑞康生物医疗药房有限公司
统一社会信用代码 91110108887G6Q7DUU
经营方式 零售
经营范围 第三类医疗器械：6815注射穿刺器械，6866医用
高分子材料及制品
有效期限 至2027年12月18日
发证日期 2022年12月19日
发证机关 上海市嘉定区市场监督管理局"""

BUSINESS_FILING = """第二类医疗器械经营备案凭证
备案编号 浙杭药监械经营备20216922号
企业名称 合肥中正医疗器械药房有限公司
经营范围 第二类医疗器械：07医用诊察和监护器械
备案日期 2024年03月01日"""

PRODUCTION_LICENSE = """医疗器械生产许可证
许可证编号 桂药监械生产许20110973号
企业名称 苏州同心医疗科技有限公司
生产范围 Ⅱ类：07-03医用诊察和监护器械
有效期限 至2024年01月23日"""

COMPANY_LICENSE = """营 业 执 照
统一社会信用代码 91110108887G6Q7DUU
名 称 北京华仁医疗设备有限公司
类型 有限责任公司
成立日期 2006年06月19日
营业期限 长期
登记机关 深圳市市场监督管理局"""


@pytest.mark.parametrize(
    ("text", "doc_type", "number"),
    [
        (REGISTRATION, "registration", "国械注准20213162540"),
        (FILING, "class1_filing", "苏州械备20191421号"),
        (BUSINESS_LICENSE, "business_license", "苏锡食药监械经营许20214595号"),
        (BUSINESS_FILING, "business_filing", "浙杭药监械经营备20216922号"),
        (PRODUCTION_LICENSE, "production_license", "桂药监械生产许20110973号"),
        (COMPANY_LICENSE, "company_license", "91110108887G6Q7DUU"),
    ],
)
def test_doc_type_and_number_of_each_kind(text: str, doc_type: str, number: str) -> None:
    cert = read_certificate(text, year_now=YEAR)
    assert cert is not None
    assert cert.doc_type == doc_type
    assert cert.number == number
    assert cert.number_valid
    assert cert.title_read


def test_registration_fields_and_class_from_number() -> None:
    cert = read_certificate(REGISTRATION, year_now=YEAR)
    assert cert is not None
    f = cert.fields
    assert f["product_name"] == "电子血压计"
    assert f["registrant"] == "北京华仁医疗设备有限公司"
    assert f["model_spec"] == "YE660A、YE660B"
    assert f["scope"] == "供家庭或医疗机构测量成人血压用。"
    assert f["valid_until"] == "2029-09-09"
    assert f["approved_on"] == "2024-09-10"
    assert f["authority"] == "国家药品监督管理局"
    assert cert.device_class == 3 and cert.category_code == "16"
    assert cert.is_product_certificate and not cert.is_shop_qualification


def test_licence_fields_wrapped_value_and_validity() -> None:
    cert = read_certificate(BUSINESS_LICENSE, year_now=YEAR)
    assert cert is not None
    assert cert.fields["enterprise_name"] == "深圳瑞康生物医疗药房有限公司"
    assert cert.fields["uscc"] == "91110108887G6Q7DUU"
    assert cert.fields["business_scope"] == "第三类医疗器械：6815注射穿刺器械，6866医用高分子材料及制品"
    assert cert.valid_until is not None and cert.valid_until.isoformat() == "2027-12-18"
    assert cert.is_shop_qualification


def test_company_licence_spaced_labels_and_term() -> None:
    cert = read_certificate(COMPANY_LICENSE, year_now=YEAR)
    assert cert is not None
    assert cert.fields["enterprise_name"] == "北京华仁医疗设备有限公司"
    assert cert.fields["established"] == "2006-06-19"
    assert cert.fields["valid_until_raw"] == "长期"
    assert cert.valid_until is None


def test_noisy_registration_confusions_repaired() -> None:
    text = (
        "医疗器楲注冊证\n"
        "注冊证编号：国楲注淮2O2l3l6254O\n"
        "注册人名称\n"  # the value on the next line
        "北京华仁医疗设备有限公司\n"
        "产品名称 电子血压计  型号、规格 YE660A\n"  # two columns on one line
        "有效期至 2O2l年O3月l5日"
    )
    cert = read_certificate(text, year_now=YEAR)
    assert cert is not None
    assert cert.doc_type == "registration"
    assert cert.number == "国械注准20213162540" and cert.number_valid
    assert cert.number_raw == "国楲注淮2O2l3l6254O"
    assert cert.fields["registrant"] == "北京华仁医疗设备有限公司"
    assert cert.fields["product_name"] == "电子血压计"
    assert cert.fields["model_spec"] == "YE660A"
    assert cert.fields["valid_until"] == "2021-03-15"
    assert any("OCR纠错" in n for n in cert.notes)


def test_noisy_business_filing_prefix_and_digits() -> None:
    text = (
        "第二类医疗器楲经营各案凭证\n各案编号 奥穗食药监楲经营各2Ol7ll6l号\n企业名称 广州一心医疗器械有限公司"
    )
    cert = read_certificate(text, year_now=YEAR)
    assert cert is not None
    assert cert.doc_type == "business_filing"
    assert cert.number == "粤穗食药监械经营备20171161号"


def test_noisy_filing_and_uscc() -> None:
    cert = read_certificate(
        "第一类医疗器械各案信息表\n各案编号 苏锡棫各2O15OOl2号\n产品名称 医用棉签", year_now=YEAR
    )
    assert cert is not None and cert.doc_type == "class1_filing"
    assert cert.number == "苏锡械备20150012号" and cert.device_class == 1
    lic = read_certificate(
        "营业执照\n统一社会信用代码 9l11O1O8887G6Q7DUU\n名称 北京华仁医疗设备有限公司", year_now=YEAR
    )
    assert lic is not None and lic.number == "91110108887G6Q7DUU"


def test_type_without_title_from_number_and_labels() -> None:
    text = "（图片上方被裁切）\n注册证编号 粤械注准20222215162\n注册人名称 苏州同心医疗科技有限公司\n适用范围 供雾化吸入用。"
    cert = read_certificate(text, year_now=YEAR)
    assert cert is not None and cert.doc_type == "registration"
    assert cert.device_class == 2 and not cert.title_read


def test_merged_columns_assigned_by_type() -> None:
    text = "营业执照\n统一社会信用代码 91110108887G6Q7DUU\n住所 成立日期 营业期限 长期 2010年03月19日 深圳市光谷大道335号 仅供网店展"
    cert = read_certificate(text, year_now=YEAR)
    assert cert is not None
    assert cert.fields["established"] == "2010-03-19"
    assert cert.fields["valid_until_raw"] == "长期"
    assert cert.fields["address"] == "深圳市光谷大道335号"


@pytest.mark.parametrize(
    "text",
    [
        "",
        "限时特惠 正品保障 国械注准20153210001",
        "本店已取得医疗器械经营许可证，放心购买",
        "家用电子血压计\n精准测量",
    ],
)
def test_not_a_certificate(text: str) -> None:
    assert read_certificate(text, year_now=YEAR) is None


def test_repair_keeps_length_and_leaves_other_text() -> None:
    text = "各位顾客 国楲注淮2O153Z1OOOl 型号 SB-20 奥利奥"
    fixed = repair_ocr(text)
    assert len(fixed) == len(text)
    assert "国械注准20153210001" in fixed
    assert fixed.startswith("各位顾客") and "SB-20" in fixed and fixed.endswith("奥利奥")


# --- real RapidOCR reads of generated certificates (a handful, cached per session) ------------

_DOC_TYPES = {"filing": "class1_filing", "uscc": "company_license"}


@cache
def _ocr_reads() -> list[tuple[str, str, str]]:
    """(generated doc type, true number, RapidOCR text) for 6 certificates: 3 clean, 3 degraded."""
    from mdwatch.analyzers.ocr import get_engine
    from mdwatch.demo.ocrimages import degrade, generate_certificates

    engine = get_engine("rapidocr")
    out: list[tuple[str, str, str]] = []
    certs = generate_certificates(6, seed=4)
    for i, gen in enumerate(certs):
        image = gen.image if i % 2 == 0 else degrade(gen.image, ("blur", "jpeg30", "rotate3")[i // 2], seed=i)
        out.append((gen.doc_type, str(gen.truth["number"]), engine.read(image).text))
    return out


@pytest.mark.ocr
def test_rapidocr_generated_certificates_read() -> None:
    for doc_type, number, text in _ocr_reads():
        cert = read_certificate(text, year_now=YEAR)
        assert cert is not None, text
        assert cert.doc_type == _DOC_TYPES.get(doc_type, doc_type), text
        assert cert.number == number, text
