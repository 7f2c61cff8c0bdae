"""Detail-page completeness for device listings (GSP-NET-DRAFT Art. 27; GSP-NET Art. 13 ¶2)."""

from __future__ import annotations

from mdwatch.analyzers.catalogue import finding
from mdwatch.analyzers.domain import is_device_listing
from mdwatch.analyzers.model import Context, Evidence, Finding, Page

RULES = ("PRODUCT_DETAIL_INCOMPLETE",)
KINDS = ("product",)

# canonical field key → the item's name in the draft's wording
REQUIRED_ITEMS: dict[str, str] = {
    "model_spec": "型号规格",
    "structure": "结构及组成",
    "scope": "适用范围",
    "registrant": "注册人/备案人",
    "contraindications": "禁忌症",
}


def analyze(page: Page, ctx: Context) -> list[Finding]:
    if not is_device_listing(page):
        return []
    missing = [label for key, label in REQUIRED_ITEMS.items() if not page.fields.get(key, "").strip()]
    if not missing:
        return []
    listed = "、".join(missing)
    return [
        finding(
            "PRODUCT_DETAIL_INCOMPLETE",
            [Evidence("structure", f"缺少：{listed}", match=listed, page_url=page.url, detail={"missing": listed})],
            message=f"产品详情页缺少规定展示的信息项：{listed}。",
        )
    ]
