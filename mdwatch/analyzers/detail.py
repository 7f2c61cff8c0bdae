"""Detail-page completeness for device listings (GSP-NET-DRAFT Art. 27; GSP-NET Art. 13 ¶2)."""

from __future__ import annotations

import re
from functools import cache
from typing import Any

from mdwatch.analyzers.catalogue import finding
from mdwatch.analyzers.domain import is_device_listing
from mdwatch.analyzers.model import Context, Evidence, Finding, Page
from mdwatch.analyzers.registry_rules import page_records, same_company
from mdwatch.lexicons import load_yaml

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


@cache
def _presence() -> dict[str, tuple[tuple[str, ...], re.Pattern[str]]]:
    """Item key → (other field keys that show it, pattern showing it in sentences)."""
    data: dict[str, Any] = load_yaml("detail_items.yaml")
    return {
        key: (tuple(spec.get("fields") or ()), re.compile("|".join(f"(?:{p})" for p in spec["text"])))
        for key, spec in data.items()
    }


def shows_item(page: Page, key: str) -> bool:
    """The page shows the detail item ``key``: as a read field, or written in its text."""
    if page.fields.get(key, "").strip():
        return True
    others, pattern = _presence().get(key, ((), None))
    if any(page.fields.get(k, "").strip() for k in others):
        return True
    return pattern is not None and pattern.search(page.text) is not None


def _registrant_as_manufacturer(page: Page, ctx: Context) -> bool:
    """A page that names only its 生产企业 shows the registrant when the two are one company (a
    registrant making its own products, GSP-NET 第十一条第（二）项): by the registry when it has the
    page's record, else unless the page says the product is made under contract (受托/委托生产)."""
    maker = page.fields.get("manufacturer", "").strip()
    if not maker:
        return False
    records = page_records(page, ctx)
    if records:
        return any(same_company(maker, [r.registrant]) for r in records if r.registrant.strip())
    return "受托" not in page.text and "委托生产" not in page.text


def analyze(page: Page, ctx: Context) -> list[Finding]:
    if not is_device_listing(page):
        return []
    missing = [
        label
        for key, label in REQUIRED_ITEMS.items()
        if not shows_item(page, key) and not (key == "registrant" and _registrant_as_manufacturer(page, ctx))
    ]
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
