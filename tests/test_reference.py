"""Reference look-ups: number parts, catalogue names, §4 lists (mdwatch/analyzers/reference.py)."""

from __future__ import annotations

import pytest

from mdwatch.analyzers.model import Registration
from mdwatch.analyzers.reference import (
    catalogue_class_hint,
    category_from_number,
    category_name,
    class_from_number,
    find_device_numbers,
    fitting_kind,
    has_device_number,
    is_filing_exempt_class2,
    retail_banned_reason,
)


@pytest.mark.parametrize(
    ("number", "cls", "cat"),
    [
        ("国械注准20153210001", 3, "21"),
        ("苏械注准20172220123", 2, "22"),
        ("冀械注准20192090277", 2, "09"),
        ("国械注进20162705149", 2, "70"),
        ("国械注准20243131618", 3, "13"),
        ("国械注准 2024 313 1618", 3, "13"),
        ("国械注准２０２４３１３１６１８", 3, "13"),
        ("国食药监械(准)字2012第3210001号", 3, "21"),
        ("国食药监械（进）字2013第3461234号（更）", 3, "46"),
        ("京药监械(准)字2005第2270123号", 2, "27"),
        ("浙食药监械(准)字2013第240089号", 2, "40"),
        ("苏锡械备20150012号", 1, None),
        ("国械备20151134号", 1, None),
        ("粤潮械备20140023", 1, None),
    ],
)
def test_class_and_category_from_number(number: str, cls: int, cat: str | None) -> None:
    assert class_from_number(number) == cls
    assert category_from_number(number) == cat


def test_unrecognised_numbers() -> None:
    assert class_from_number("国药准字H10900089") is None
    assert class_from_number("国械注准20154210001") is None  # class digit 4
    assert category_from_number("随便写的") is None


def test_category_name_resolves_catalogue_by_year() -> None:
    assert category_name("13", 2024) == "无源植入器械"
    assert category_name("13", 2012) == "计划生育手术器械"
    assert category_name("21", 2015) == "医用电子仪器设备"
    assert category_name("21", 2021) == "医用软件"
    assert category_name("46") == "植入材料和人工器官"  # 2002 set only
    assert category_name("70", 2016) == "软件"
    assert category_name("6846") == "植入材料和人工器官"
    assert category_name("13-09-02") == "整形用注射填充物"
    assert category_name("99") is None


def test_catalogue_class_hints() -> None:
    assert catalogue_class_hint("07-03-03") == 2
    assert catalogue_class_hint("07-03-04") == 2
    assert catalogue_class_hint("16-06-01") == 3
    assert catalogue_class_hint("19-01-07") == 2
    assert catalogue_class_hint("13-09-02") == 3
    assert catalogue_class_hint("12-01-01") == 3
    assert catalogue_class_hint("nonsense") is None


def test_find_numbers() -> None:
    text = "注册证编号：苏械注准20172220123；备案编号：苏锡械备20150012号"
    assert find_device_numbers(text) == ["苏械注准20172220123", "苏锡械备20150012号"]
    assert has_device_number("注册证号：粤械注准2019209XXXX")  # malformed still counts as shown
    assert not has_device_number("国药准字H10900089 布洛芬")


@pytest.mark.parametrize(
    ("name", "exempt"),
    [
        ("欧姆龙电子血压计 HEM-7136", True),
        ("鱼跃水银血压计", True),
        ("杜蕾斯避孕套", True),
        ("医用脱脂纱布块", True),
        ("手动轮椅车 折叠", True),
        ("三诺血糖仪家用", True),
        ("验孕棒 早孕试纸", True),
        ("排卵试纸 LH检测", True),
        ("动态血压记录仪", False),
        ("动态血糖仪 免扎针", False),
        ("医用外科口罩", False),
        ("家用制氧机", False),
    ],
)
def test_filing_exempt_class2(name: str, exempt: bool) -> None:
    assert is_filing_exempt_class2(name) is exempt


def test_fitting_kind() -> None:
    assert fitting_kind("博士伦 隐形眼镜 月抛") == "contact_lens"
    assert fitting_kind("美瞳 日抛 10片") == "contact_lens"
    assert fitting_kind("隐形眼镜护理液 500ml") == "contact_lens"
    assert fitting_kind("耳背式助听器") == "hearing_aid"
    assert fitting_kind("某产品", "16-06-02") == "contact_lens"
    assert fitting_kind("某产品", "19-01-07") == "hearing_aid"
    assert fitting_kind("皮鞋护理液") is None
    assert fitting_kind("电子血压计", "07-03-03") is None


@pytest.mark.parametrize(
    ("registration", "name", "scope"),
    [
        (None, "美敦力心脏起搏器", ""),
        (None, "玻尿酸填充 注射用交联透明质酸钠凝胶", ""),
        (None, "冠脉血管支架", ""),
        (Registration(number="国械注准20243131618", category_code="13-09-02"), "某填充物", ""),
        (Registration(number="国械注准20233130399"), "某产品", ""),  # code 13 from the number, 2017 set
        (Registration(number="国食药监械(准)字2012第3460001号"), "某产品", ""),  # 6846 植入材料
        (Registration(number="国械注准20183030001", category_code="03-13-16"), "导丝", ""),
        (Registration(number="国械注准20163160001", category_code="16-07-01"), "人工晶体", ""),
        (None, "一次性使用输液器", "供医疗机构静脉输液用"),
        (None, "某器械", "由医务人员操作，用于术中止血"),
    ],
)
def test_retail_banned(registration: Registration | None, name: str, scope: str) -> None:
    reason = retail_banned_reason(registration, name, scope)
    assert reason is not None and "不得网络零售" in reason


@pytest.mark.parametrize(
    ("registration", "name", "scope"),
    [
        (
            Registration(number="苏械注准20172070123", category_code="07-03-03"),
            "电子血压计",
            "用于测量人体血压",
        ),
        (None, "鱼跃家用制氧机", "供家庭氧疗使用"),
        (
            Registration(number="国械注进20193160001", category_code="16-06-01"),
            "隐形眼镜",
            "用于矫正屈光不正",
        ),
        (None, "胰岛素注射笔用针头", "供糖尿病患者个人注射胰岛素使用"),  # 个人 clears 注射
        (None, "起搏器患者专用电子血压计", "供家庭测量血压"),
        (
            Registration(number="国食药监械(准)字2012第2130001号"),
            "计生器械",
            "",
        ),  # 2012 → 6813, not 13 implants
        (None, "医用外科口罩", ""),
    ],
)
def test_not_retail_banned(registration: Registration | None, name: str, scope: str) -> None:
    assert retail_banned_reason(registration, name, scope) is None
