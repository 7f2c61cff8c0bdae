"""Shop home-page displays: after-sales/complaint contact (GSP-NET Art. 20) and the business
licence (GSP-NET-DRAFT Art. 24). A shop is judged on its home page together with its
qualification page one link away (``Page.related``). Cues: ``lexicons/shop.yaml``.
"""

from __future__ import annotations

import re

from mdwatch.analyzers.catalogue import finding
from mdwatch.analyzers.model import Context, Evidence, Finding, Page
from mdwatch.analyzers.normalize import fold
from mdwatch.analyzers.numbers import uscc_valid
from mdwatch.lexicons import load_yaml

RULES = ("SHOP_CONTACT_MISSING", "SHOP_BUSINESS_LICENSE_MISSING")
KINDS = ("shop",)

# numbers as shops write them: 400-657-3320, 0512-6878 2230, (0512) 68782230, 138 1234 5678
_PHONE = re.compile(
    r"(?<!\d)(?:[48]00[- ]?\d{3}[- ]?\d{4}|[(（]?0\d{2,3}[)）]?[- ]?\d{3,4}[- ]?\d{4}|1[3-9]\d[- ]?\d{4}[- ]?\d{4})(?!\d)"
)
_EMAIL = re.compile(r"[\w.+-]+@[\w-]+\.[\w.-]+")
_USCC = re.compile(r"(?<![0-9A-Z])[0-9A-HJ-NPQRTUWXY]{2}\d{6}[0-9A-HJ-NPQRTUWXY]{10}(?![0-9A-Z])")


def has_contact(page: Page) -> bool:
    cues = load_yaml("shop.yaml")["contact"]
    text = fold(page.all_text())
    window = int(cues["window"])
    for kw in cues["keywords"]:
        start = text.find(kw)
        while start != -1:
            tail = text[start : start + len(kw) + window]
            if _PHONE.search(tail) or _EMAIL.search(tail):
                return True
            start = text.find(kw, start + 1)
    return any(
        link.href.startswith(("tel:", "mailto:")) or any(w in link.text for w in cues["link_words"])
        for link in page.all_links()
    )


def shows_business_license(page: Page) -> bool:
    cues = load_yaml("shop.yaml")["business_license"]
    words = cues["words"]
    if any(w in page.all_text() for w in words):
        return True
    for img in page.all_images():
        if any(w in img.alt or w in img.caption for w in words):
            return True
        if any(w in img.src.lower() for w in cues["image_file_words"]):
            return True
    if any(any(w in link.text for w in words) for link in page.all_links()):
        return True
    return any(uscc_valid(m.group()) for m in _USCC.finditer(fold(page.all_text()).upper()))


def analyze(page: Page, ctx: Context) -> list[Finding]:
    out: list[Finding] = []
    if ctx.enabled("SHOP_CONTACT_MISSING") and not has_contact(page):
        out.append(
            finding(
                "SHOP_CONTACT_MISSING",
                [Evidence("structure", "店铺首页及资质页均未找到售后服务或投诉电话、邮箱或链接。", page_url=page.url)],
            )
        )
    if ctx.enabled("SHOP_BUSINESS_LICENSE_MISSING") and not shows_business_license(page):
        out.append(
            finding(
                "SHOP_BUSINESS_LICENSE_MISSING",
                [Evidence("structure", "店铺首页及资质页均未找到营业执照（文字、图片或链接）。", page_url=page.url)],
            )
        )
    return out
