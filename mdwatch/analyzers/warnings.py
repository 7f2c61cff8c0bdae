"""Mandated warnings on device listings (GSP-NET Art. 12(2)(3); draft Art. 27).

Wordings and the product words that call for a fitting warning are data:
``lexicons/warnings.yaml``.
"""

from __future__ import annotations

from mdwatch.analyzers.catalogue import finding
from mdwatch.analyzers.domain import is_device_listing
from mdwatch.analyzers.model import Context, Evidence, Finding, Page
from mdwatch.analyzers.textmatch import has_any_form, squash
from mdwatch.lexicons import load_yaml

RULES = ("PRODUCT_WARNING_RETAIL_MISSING", "PRODUCT_WARNING_FITTING_MISSING")
KINDS = ("product",)


def _product_name(page: Page) -> str:
    return " ".join(x for x in (page.title, page.fields.get("product_name", "")) if x)


def analyze(page: Page, ctx: Context) -> list[Finding]:
    if not is_device_listing(page):
        return []
    spec = load_yaml("warnings.yaml")
    text = squash(page.all_text())
    out: list[Finding] = []
    if ctx.enabled("PRODUCT_WARNING_RETAIL_MISSING") and not has_any_form(text, spec["retail"]["accepted"]):
        out.append(
            finding(
                "PRODUCT_WARNING_RETAIL_MISSING",
                [Evidence("structure", f"应展示：「{spec['retail']['text']}」", page_url=page.url)],
            )
        )
    if ctx.enabled("PRODUCT_WARNING_FITTING_MISSING"):
        name = _product_name(page)
        for kind, fit in spec["fitting"].items():
            word = next((w for w in fit["product_words"] if w in name), None)
            if word is None or has_any_form(text, fit["accepted"]):
                continue
            label = "角膜接触镜" if kind == "contact_lens" else "助听器"
            out.append(
                finding(
                    "PRODUCT_WARNING_FITTING_MISSING",
                    [Evidence("structure", f"{label}页面应展示：「{fit['text']}」", match=word, page_url=page.url)],
                    message=f"{label}页面缺少验配警示语。",
                )
            )
            break
    return out
