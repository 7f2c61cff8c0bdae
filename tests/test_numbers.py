"""Number extraction and validation (REGISTRY-NOTES §0–§1)."""

from __future__ import annotations

import pytest

from mdwatch.analyzers.numbers import NumberMatch, extract_numbers, uscc_valid

YEAR = 2026


def numbers(text: str) -> list[NumberMatch]:
    return extract_numbers(text, year_now=YEAR)


def one(text: str) -> NumberMatch:
    found = numbers(text)
    assert len(found) == 1, found
    return found[0]


VALID = [
    # 1.1 registration certificates
    ("国械注准20153210001", "registration", "国械注准20153210001"),
    ("苏械注准20172220123", "registration", "苏械注准20172220123"),
    ("国械注进20162705149", "registration", "国械注进20162705149"),
    ("国械注进20142225238", "registration", "国械注进20142225238"),
    ("国械注准20243131618", "registration", "国械注准20243131618"),
    ("国械注准20233130399", "registration", "国械注准20233130399"),
    ("国械注准20243092361", "registration", "国械注准20243092361"),
    ("国械注许20203400001", "registration", "国械注许20203400001"),
    # 1.2 legacy
    ("国食药监械(准)字2012第3210001号", "registration_legacy", "国食药监械(准)字2012第3210001号"),
    ("国食药监械(进)字2013第3461234号(更)", "registration_legacy", "国食药监械(进)字2013第3461234号(更)"),
    ("京药监械(准)字2005第2270123号", "registration_legacy", "京药监械(准)字2005第2270123号"),
    ("国(食)药监械(准)字2004第3150001号", "registration_legacy", "国食药监械(准)字2004第3150001号"),
    ("浙食药监械(准)字2013第240089号", "registration_legacy", "浙食药监械(准)字2013第240089号"),
    ("国药管械(准)字2001第3660001号", "registration_legacy", "国药管械(准)字2001第3660001号"),
    # 1.3 class I filing
    ("苏锡械备20150012号", "filing", "苏锡械备20150012号"),
    ("国械备20151134号", "filing", "国械备20151134号"),
    ("浙温械备20140027号", "filing", "浙温械备20140027号"),
    ("粤潮械备20140023", "filing", "粤潮械备20140023号"),
    ("沪浦械备202100123号", "filing", "沪浦械备202100123号"),
    # 1.4 business licence / filing
    ("苏锡食药监械经营许20150012号", "business_license", "苏锡食药监械经营许20150012号"),
    ("京海食药监械经营许20180099号", "business_license", "京海食药监械经营许20180099号"),
    ("沪嘉食药监械经营许20187006号", "business_license", "沪嘉食药监械经营许20187006号"),
    ("粤穗食药监械经营许20171161号", "business_license", "粤穗食药监械经营许20171161号"),
    ("苏锡药监械经营许20200001号", "business_license", "苏锡药监械经营许20200001号"),
    ("皖马食药监械经营备20140017号", "business_filing", "皖马食药监械经营备20140017号"),
    ("京经食药监械经营备20170029", "business_filing", "京经食药监械经营备20170029号"),
    ("浙杭食药监械经营备20171029号", "business_filing", "浙杭食药监械经营备20171029号"),
    ("鄂汉食药监械经营备2018H006号", "business_filing", "鄂汉食药监械经营备2018H006号"),
    ("浙杭市监械经营备20230011号", "business_filing", "浙杭市监械经营备20230011号"),
    # 1.5 production
    ("苏食药监械生产许20080046号", "production_license", "苏食药监械生产许20080046号"),
    ("粤食药监械生产许20132464号", "production_license", "粤食药监械生产许20132464号"),
    ("沪食药监械生产许20000240号", "production_license", "沪食药监械生产许20000240号"),
    ("苏药监械生产许20250003号", "production_license", "苏药监械生产许20250003号"),
    ("苏锡食药监械生产备20150001号", "production_filing", "苏锡食药监械生产备20150001号"),
    # 1.6 online sale
    ("（京）网械平台备字（2018）第00005号", "platform_filing", "(京)网械平台备字[2018]第00005号"),
    ("（京）网械平台备字（2020）第00002号", "platform_filing", "(京)网械平台备字[2020]第00002号"),
    ("（浙）网械平台备字[2018]第00002号", "platform_filing", "(浙)网械平台备字[2018]第00002号"),
    ("(沪)网械平台备字[2019]第00006号", "platform_filing", "(沪)网械平台备字[2019]第00006号"),
    ("（苏）网械平台备字（2018）第00052号", "platform_filing", "(苏)网械平台备字[2018]第00052号"),
    ("（粤）网械平台备字（2019）第00004号", "platform_filing", "(粤)网械平台备字[2019]第00004号"),
    ("(京)网械平台备字〔2018〕第00003号", "platform_filing", "(京)网械平台备字[2018]第00003号"),
    ("（浙杭）网械企备字[2019]第00119号", "seller_net_filing", "(浙杭)网械企备字[2019]第00119号"),
    ("(京)-非经营性-2016-0001", "internet_drug_info", "(京)-非经营性-2016-0001"),
    ("(沪)-经营性-2018-0011", "internet_drug_info", "(沪)-经营性-2018-0011"),
    ("（粤）-非经营性-2016-0023", "internet_drug_info", "(粤)-非经营性-2016-0023"),
    ("浙-（经营性）-2017-0005", "internet_drug_info", "(浙)-经营性-2017-0005"),
    ("（京）网药械信息备字（2021）第00159号", "internet_drug_info", "(京)网药械信息备字[2021]第00159号"),
    ("(京)网药械信息备字（2024）第00478号", "internet_drug_info", "(京)网药械信息备字[2024]第00478号"),
    # 1.7 USCC
    ("91310000607327827A", "uscc", "91310000607327827A"),
    ("9133020158396090XB", "uscc", "9133020158396090XB"),
]


@pytest.mark.parametrize(("text", "kind", "normalized"), VALID)
def test_valid_formats(text: str, kind: str, normalized: str) -> None:
    n = one(f"编号：{text}，详见页面")
    assert (n.kind, n.normalized, n.valid, n.problems) == (kind, normalized, True, ())
    assert n.raw == text


def test_registration_parts_and_class() -> None:
    n = one("国械注准20243092361")
    assert dict(n.parts) == {"issuer": "国", "origin": "准", "year": "2024", "cls": "3", "cat": "09", "serial": "2361"}
    assert n.device_class == 3
    assert one("苏械注准20172220123").device_class == 2
    assert one("苏锡械备20150012号").device_class == 1
    assert one("苏锡食药监械经营许20150012号").device_class is None


def test_business_filing_parts() -> None:
    n = one("京海食药监械经营许20180099号")
    assert dict(n.parts) == {"issuer": "京", "city": "海", "agency": "食药监", "year": "2018", "serial": "0099"}


@pytest.mark.parametrize(
    ("text", "normalized"),
    [
        ("国械注准 20243092361", "国械注准20243092361"),
        ("国械注准2015 3 13 0001", "国械注准20153130001"),
        ("国械注准２０２４３０９２３６１", "国械注准20243092361"),
        ("沪药监械生产许 20242792 号", "沪药监械生产许20242792号"),
        ("（京）网械平台备字 （2018） 第 00005 号", "(京)网械平台备字[2018]第00005号"),
        ("国食药监械（准）字２０１２第３２１０００１号", "国食药监械(准)字2012第3210001号"),
        ("苏锡械备\u300020150012号", "苏锡械备20150012号"),
    ],
)
def test_whitespace_and_full_width(text: str, normalized: str) -> None:
    page = f"注册证编号：{text}\n型号：A1"
    n = one(page)
    assert n.normalized == normalized and n.valid
    assert page[n.start : n.end] == n.raw == text


def test_offsets_point_into_original_text() -> None:
    text = "【产品】电子血压计　注册证：粤械注准 20172070123。备案：粤潮械备２０１４００２３号；经营：（京）网械平台备字〔2018〕第00003号"
    found = numbers(text)
    assert [n.kind for n in found] == ["registration", "filing", "platform_filing"]
    for n in found:
        assert text[n.start : n.end] == n.raw
    assert found[1].raw == "粤潮械备２０１４００２３号"


def test_trailing_number_after_space_not_swallowed() -> None:
    n = one("国械注准20243092361 2支/盒")
    assert n.valid and n.raw == "国械注准20243092361"


def test_several_numbers_separated_by_commas() -> None:
    found = numbers("国械注准20243131618,国械注准20233130399，国械注进20142225238")
    assert [n.normalized for n in found] == ["国械注准20243131618", "国械注准20233130399", "国械注进20142225238"]
    assert all(n.valid for n in found)


@pytest.mark.parametrize(
    "text",
    [
        "国药准字H10960123",
        "京ICP证110507号",
        "国食药监械〔2007〕345号",
        "国食药监械[2007]345号",
        "卫消证字(2015)第0012号",
        "国妆特字G20190123",
        "国妆备进字J20190001",
        "正品械字号面膜，械字号敷料",
        "医疗器械注册证编号：见图",
        "第一类医疗器械备案凭证",
        "医疗器械经营许可证 第二类医疗器械经营备案凭证",
        "京公网安备11010502030143号",
        "订单号 202611250000123456",
        "身份证 110105199001011234",
    ],
)
def test_false_friends_rejected(text: str) -> None:
    assert numbers(text) == []


INVALID = [
    ("国械注准20242092361", "registration", "国械注准编号的类别代码应为3"),
    ("苏械注准20173220123", "registration", "类别代码应为2"),
    ("苏械注准20171220123", "registration", "类别代码1不适用于注册证（第一类实行备案）"),
    ("国械注准20244092361", "registration", "类别代码4无效"),
    ("国械注准20353092361", "registration", "年份2035晚于当前年份"),
    ("国械注准20273092361", "registration", "年份2027晚于当前年份"),
    ("国械注准20123092361", "registration", "早于2014年"),
    ("国械注准20243992361", "registration", "分类编码99不在"),
    ("国械注准20243292361", "registration", "分类编码29不在"),
    ("国械注准2024309236", "registration", "应为11位"),
    ("国械注准202430923610", "registration", "应为11位"),
    ("苏械注进20162705149", "registration", "应由国家局核发"),
    ("中械注准20243092361", "registration", "不是国或省份简称"),
    ("械注准20243092361", "registration", "缺少发证机关简称"),
    ("国械注20243092361", "registration", "缺少“准/进/许”字"),
    ("苏锡械注准20172220123", "registration", "不应带市级简称"),
    ("国食药监械(准)字2012第2210001号", "registration_legacy", "类别代码应为3"),
    ("国食药监械(准)字2016第3210001号", "registration_legacy", "晚于2014年"),
    ("国食药监械(准)字2012第32100号", "registration_legacy", "应为6至7位"),
    ("国食药监械(准)字2012第3990001号", "registration_legacy", "分类编码99"),
    ("苏锡械备20120012号", "filing", "早于2014年"),
    ("苏锡械备2015001号", "filing", "应为8至9位"),
    ("苏锡械备20300012号", "filing", "晚于当前年份"),
    ("华械备20150012号", "filing", "不是国或省份简称"),
    ("苏锡食药监械经营许2015001号", "business_license", "流水号"),
    ("苏锡食药监械经营许20990012号", "business_license", "晚于当前年份"),
    ("苏锡食药监械经营备2018HH06号", "business_filing", "流水号"),
    ("国食药监械经营许20150012号", "business_license", "不应为“国”"),
    ("苏锡械经营许20150012号", "business_license", "缺少发证部门"),
    ("苏食药监械生产许2008046号", "production_license", "流水号"),
    ("苏食药监械生产许19800046号", "production_license", "早于1995年"),
    ("X网械平台备字[2018]第00003号", "platform_filing", "省份简称"),
    ("网械平台备字[2018]第00003号", "platform_filing", "缺少省份简称"),
    ("(京)网械平台备字[2030]第00003号", "platform_filing", "晚于当前年份"),
    ("(京)网械平台备字[18]第00003号", "platform_filing", "不是4位数字"),
    ("(京)网械平台备字[2018]第号", "platform_filing", "缺少备案序号"),
    ("(京)网械平台备字", "platform_filing", "缺少备案年份"),
    ("(京)网械平台备字[2018]第12号", "platform_filing", "位数不符"),
    ("(京)-非经营性-2016-001", "internet_drug_info", "应为4位数字"),
    ("统一社会信用代码：91110105MA01ABCD2X", "uscc", "校验位错误"),
]


@pytest.mark.parametrize(("text", "kind", "reason"), INVALID)
def test_malformed_numbers_found_with_reason(text: str, kind: str, reason: str) -> None:
    n = one(text)
    assert n.kind == kind
    assert not n.valid
    assert any(reason in p for p in n.problems), n.problems


def test_year_now_bounds_registration_year() -> None:
    assert not extract_numbers("国械注准20263092361", year_now=2025)[0].valid
    assert extract_numbers("国械注准20263092361", year_now=2026)[0].valid


@pytest.mark.parametrize(
    ("code", "ok"),
    [
        ("91310000607327827A", True),
        ("9133020158396090XB", True),
        ("91341222087574401G", True),
        ("91450200MA5QFK3G6Y", True),
        ("91110105MA01ABCD2X", False),
        ("91310000607327827B", False),
        ("9131000060732782", False),
        ("91310000607327827I", False),
    ],
)
def test_uscc_valid(code: str, ok: bool) -> None:
    assert uscc_valid(code) is ok


def test_uscc_in_text() -> None:
    found = numbers("营业执照 统一社会信用代码 91341222087574401G；旧码 91450200MA5QFK3G6Y")
    assert [(n.kind, n.valid) for n in found] == [("uscc", True), ("uscc", True)]


