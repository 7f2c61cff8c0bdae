"""Shop display, warnings, detail completeness and the drug pack, on hand-built Pages."""

from __future__ import annotations

from datetime import UTC, datetime

from mdwatch.analyzers import detail, drug, shop, warnings
from mdwatch.analyzers.model import Context, ImageRef, Link, Page, TextBlock

CTX = Context(now=datetime(2026, 11, 25, tzinfo=UTC))
RETAIL = "购买和使用前请仔细阅读产品说明书或者在医务人员的指导下购买和使用"
FULL_FIELDS = {
    "product_name": "电子血压计", "registration_no": "苏械注准20172220123", "model_spec": "BP-100",
    "structure": "主机、袖带", "scope": "用于测量人体血压", "registrant": "某某医疗科技有限公司",
    "contraindications": "无",
}


def page(kind: str, *texts: str, **kw: object) -> Page:
    return Page(url="http://x/p", kind=kind, blocks=tuple(TextBlock(t) for t in texts), **kw)  # type: ignore[arg-type]


def rules_of(mod: object, p: Page) -> set[str]:
    return {f.rule for f in mod.analyze(p, CTX)}  # type: ignore[attr-defined]


def test_shop_contact_and_license() -> None:
    ok = page("shop", "售后服务电话：400-123-4567", "营业执照", images=(ImageRef("/l.png", "营业执照"),))
    assert rules_of(shop, ok) == set()
    bare = page("shop", "欢迎光临本店")
    assert rules_of(shop, bare) == {"SHOP_CONTACT_MISSING", "SHOP_BUSINESS_LICENSE_MISSING"}
    via_link = page("shop", "欢迎", links=(Link("/complain", "投诉建议"),))
    assert "SHOP_CONTACT_MISSING" not in rules_of(shop, via_link)
    related = page("shop", "售后：0512-88886666")
    with_qual = page("shop", "欢迎", related=(page("shop", "营业执照 统一社会信用代码 91310000607327827A"),))
    assert "SHOP_BUSINESS_LICENSE_MISSING" not in rules_of(shop, with_qual)
    assert "SHOP_CONTACT_MISSING" not in rules_of(shop, related)


def test_retail_and_fitting_warnings() -> None:
    p = page("product", "电子血压计", RETAIL, fields=FULL_FIELDS)
    assert rules_of(warnings, p) == set()
    truncated = page("product", "电子血压计", "请仔细阅读说明书", fields=FULL_FIELDS)
    assert rules_of(warnings, truncated) == {"PRODUCT_WARNING_RETAIL_MISSING"}
    lens = page("product", RETAIL, title="美瞳月抛 彩色隐形眼镜", fields=FULL_FIELDS)
    assert rules_of(warnings, lens) == {"PRODUCT_WARNING_FITTING_MISSING"}
    lens_ok = page("product", RETAIL, "配戴本产品，应由眼视光专业人士进行验配", title="美瞳月抛", fields=FULL_FIELDS)
    assert rules_of(warnings, lens_ok) == set()
    aid = page("product", RETAIL, title="助听器 老人专用", fields=FULL_FIELDS)
    assert rules_of(warnings, aid) == {"PRODUCT_WARNING_FITTING_MISSING"}


def test_detail_incomplete_names_missing_items() -> None:
    fields = {k: v for k, v in FULL_FIELDS.items() if k != "contraindications"}
    findings = detail.analyze(page("product", "x", fields=fields), CTX)
    assert [f.rule for f in findings] == ["PRODUCT_DETAIL_INCOMPLETE"]
    assert "禁忌症" in findings[0].message
    assert detail.analyze(page("product", "x", fields=FULL_FIELDS), CTX) == []


def test_drug_pack() -> None:
    rx_ok = page("product", "处方药", "批准文号：国药准字H20003263", "处方药须凭处方在药师指导下购买和使用")
    assert rules_of(drug, rx_ok) == set()
    unmarked = page("product", "批准文号：国药准字H20003263", "阿莫西林胶囊")
    assert rules_of(drug, unmarked) == {"DRUG_RX_NOT_DISTINGUISHED"}
    rx_bad = page("product", "处方药 Rx", "国药准字H20003263", "功能主治：用于敏感菌所致的感染", "买二送一")
    assert rules_of(drug, rx_bad) == {"DRUG_RX_WARNING_MISSING", "DRUG_RX_INFO_BEFORE_REVIEW", "DRUG_PROMOTION_BANNED"}
    otc_b = page("product", "乙类OTC 非处方药", "国药准字H20003263", "买二送一")
    assert rules_of(drug, otc_b) == set()
    box = page("product", "非处方药", "国药准字Z20003263", "感冒药盲盒")
    assert rules_of(drug, box) == {"DRUG_PROMOTION_BANNED"}
    device = page("product", "电子血压计", fields=FULL_FIELDS)
    assert rules_of(drug, device) == set()
