"""Mandated warnings on device listings (GSP-NET Art. 12(2)(3); draft Art. 27).

Wordings and the product words that call for a fitting warning are data:
``lexicons/warnings.yaml``.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

from mdwatch.analyzers.catalogue import finding
from mdwatch.analyzers.domain import is_device_listing, is_retail_listing
from mdwatch.analyzers.model import Context, Evidence, Finding, Page
from mdwatch.analyzers.textmatch import Forms, LazySquash, compile_forms
from mdwatch.lexicons import load_yaml

RULES = ("PRODUCT_WARNING_RETAIL_MISSING", "PRODUCT_WARNING_FITTING_MISSING")
KINDS = ("product",)


@dataclass(frozen=True, slots=True)
class _Fitting:
    kind: str
    label: str
    product_words: tuple[str, ...]
    text: str
    forms: Forms
    not_products: tuple[str, ...] = ()  # accessories named after the device (隐形眼镜护理液)


@dataclass(frozen=True, slots=True)
class _Spec:
    retail_text: str
    retail_forms: Forms
    fittings: tuple[_Fitting, ...]


@cache
def _spec() -> _Spec:
    data = load_yaml("warnings.yaml")
    labels = {"contact_lens": "角膜接触镜", "hearing_aid": "助听器"}
    return _Spec(
        retail_text=data["retail"]["text"],
        retail_forms=compile_forms(data["retail"]["accepted"]),
        fittings=tuple(
            _Fitting(kind, labels.get(kind, kind), tuple(fit["product_words"]), fit["text"],
                     compile_forms(fit["accepted"]), tuple(fit.get("not_products") or ()))
            for kind, fit in data["fitting"].items()
        ),
    )


def _product_name(page: Page) -> str:
    return " ".join(x for x in (page.title, page.fields.get("product_name", "")) if x)


def analyze(page: Page, ctx: Context) -> list[Finding]:
    if not is_device_listing(page):
        return []
    spec = _spec()
    # 第十二条: shown 显著位置 and 持续: a warning inside a closed fold or an inactive tab is not
    text = LazySquash(page.shown_text())
    out: list[Finding] = []
    # GSP-NET 第十二条第（三）项: the warning is for retail (以零售方式) listings only
    if (ctx.enabled("PRODUCT_WARNING_RETAIL_MISSING") and is_retail_listing(page)
            and not text.has_any_form(spec.retail_forms)):
        out.append(
            finding(
                "PRODUCT_WARNING_RETAIL_MISSING",
                [Evidence("structure", f"应展示：「{spec.retail_text}」", page_url=page.url)],
            )
        )
    if ctx.enabled("PRODUCT_WARNING_FITTING_MISSING"):
        name = _product_name(page)
        for fit in spec.fittings:
            word = next((w for w in fit.product_words if w in name), None)
            if word is None or any(x in name for x in fit.not_products) or text.has_any_form(fit.forms):
                continue
            out.append(
                finding(
                    "PRODUCT_WARNING_FITTING_MISSING",
                    [Evidence("structure", f"{fit.label}页面应展示：「{fit.text}」", match=word, page_url=page.url)],
                    message=f"{fit.label}页面缺少验配警示语。",
                )
            )
            break
    return out
