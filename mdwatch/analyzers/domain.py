"""What a product page sells: drug or device. Shared by the device and drug rule packs."""

from __future__ import annotations

import re

from mdwatch.analyzers.model import Page

_DRUG_APPROVAL = re.compile(r"国药准字\s*[HZSJBTF]\s*\d{8}")
_DRUG_LABELS = ("批准文号",)


def is_drug_listing(page: Page) -> bool:
    """A product page that sells a medicine (docs/rule-semantics.md)."""
    if page.kind != "product":
        return False
    text = page.text
    if _DRUG_APPROVAL.search(text) or any(label in page.fields for label in ("approval_no",)):
        return True
    if any(label in text for label in _DRUG_LABELS):
        return True
    has_name = "药品名称" in text or "通用名称" in text
    return has_name and ("功能主治" in text or "适应症" in text)


def is_device_listing(page: Page) -> bool:
    return page.kind == "product" and not is_drug_listing(page)
