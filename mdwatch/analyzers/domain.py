"""What a product page sells, and to whom: drug or device, retail or not. Shared by the device and
drug rule packs. Cues: ``lexicons/listing_scope.yaml``."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from typing import Any

from mdwatch.analyzers.model import Page
from mdwatch.lexicons import load_yaml

_DRUG_APPROVAL = re.compile(r"国药准字\s*[HZSJBTF]\s*\d{8}")
_DRUG_LABELS = ("批准文号",)
_DEVICE_NUMBER = re.compile(r"械(?:注[准进许]|备)|国械注|械注准")


@dataclass(frozen=True, slots=True)
class _Cue:
    """Regular expressions run only on a text holding one of ``words`` (a cheap first filter)."""

    words: re.Pattern[str]  # the words, as one alternation of literals (one C-level pass)
    pattern: re.Pattern[str]

    def search(self, text: str) -> bool:
        return self.words.search(text) is not None and self.pattern.search(text) is not None


@dataclass(frozen=True, slots=True)
class _Cues:
    non_retail: _Cue
    retail: _Cue
    non_device: _Cue
    drug_title_words: tuple[str, ...]
    device_title_words: tuple[str, ...]
    device_signal: re.Pattern[str]  # words of the device regime, anywhere on the page
    device_product: re.Pattern[str]  # kinds of product that are devices, in the product's name


def _cue(data: dict[str, Any], name: str) -> _Cue:
    pattern = re.compile("|".join(f"(?:{p})" for p in data[name]))
    words = re.compile("|".join(re.escape(w) for w in data[f"{name}_words"]))
    return _Cue(words, pattern)


@cache
def _cues() -> _Cues:
    data: dict[str, Any] = load_yaml("listing_scope.yaml")
    return _Cues(
        non_retail=_cue(data, "non_retail"),
        retail=_cue(data, "retail"),
        non_device=_cue(data, "non_device"),
        drug_title_words=tuple(data["drug_title_words"]),
        device_title_words=tuple(data["device_title_words"]),
        device_signal=re.compile("|".join(re.escape(w) for w in data["device_signal_words"])),
        device_product=re.compile("|".join(re.escape(w) for w in data["device_product_words"])),
    )


def _drug_signals(page: Page, text: str) -> bool:
    if _DRUG_APPROVAL.search(text) or "approval_no" in page.fields:
        return True
    if any(label in text for label in _DRUG_LABELS):
        return True
    has_name = "药品名称" in text or "通用名称" in text
    return has_name and ("功能主治" in text or "适应症" in text)


def _title_names_drug(page: Page) -> bool:
    cues = _cues()
    title = page.fields.get("product_name") or page.title
    if any(w in title for w in cues.device_title_words):
        return False
    return any(w in title for w in cues.drug_title_words)


def shows_device_number(page: Page) -> bool:
    """The page shows a device registration / filing number (as text or as a read field)."""
    return bool(page.fields.get("registration_no")) or _DEVICE_NUMBER.search(page.text) is not None


def _memo(page: Page, name: str, compute: Callable[[Page], bool]) -> bool:
    """``compute(page)``, once per page: several analyzers ask what a page sells."""
    key = ("domain", name)
    found = page._memo.get(key)
    if found is None:
        found = page._memo[key] = compute(page)
    return bool(found)


def is_drug_listing(page: Page) -> bool:
    return _memo(page, "drug", _is_drug_listing)


def _is_drug_listing(page: Page) -> bool:
    """A product page that sells a medicine (docs/rule-semantics.md).

    A drug mentioned on a device page (a gift, the drug a nebuliser is used with) does not make it
    a drug listing: when the page also shows a device number, its title decides.
    """
    if page.kind != "product":
        return False
    text = page.text
    if not _drug_signals(page, text):
        return False
    return not shows_device_number(page) or _title_names_drug(page)


def declares_non_device(page: Page) -> bool:
    """The page says its product is not a medical device, and shows no device number."""
    return _cues().non_device.search(page.text) and not shows_device_number(page)


def shows_device_signal(page: Page) -> bool:
    """Something on the page says it sells a medical device: a device number, a word of the device
    regime (医疗器械, 注册证, 医用 … in its text or its images' descriptions), or a product name
    of a kind that is a device (血压计, 口罩, 隐形眼镜 …)."""
    cues = _cues()
    if shows_device_number(page) or cues.device_signal.search(page.text):
        return True
    name = " ".join((page.title, page.fields.get("product_name", "")))
    if cues.device_product.search(name):
        return True
    if any(cues.device_signal.search(f"{img.alt} {img.caption}") for img in page.images):
        return True
    # a listing that shows everything in its images (the certificate, the parameters): what OCR read
    return any(cues.device_signal.search(t.text) or _DEVICE_NUMBER.search(t.text) for t in page.image_texts)


def is_device_listing(page: Page) -> bool:
    return _memo(page, "device", _is_device_listing)


def _is_device_listing(page: Page) -> bool:
    return (page.kind == "product" and not is_drug_listing(page) and not declares_non_device(page)
            and shows_device_signal(page))


def is_retail_listing(page: Page) -> bool:
    return _memo(page, "retail", _is_retail_listing)


def _is_retail_listing(page: Page) -> bool:
    """False for a listing offered only to medical institutions and licensed traders (B2B)."""
    cues = _cues()
    text = page.text
    if cues.retail.search(text):
        return True
    return not cues.non_retail.search(text)
