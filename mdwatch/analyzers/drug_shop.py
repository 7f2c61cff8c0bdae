"""The drug pack on shop and platform home pages: the seller's licence and no Rx on home pages.

DRUG_SHOP_LICENSE_MISSING (YUNNAN-DRUG 第十五条): a shop that sells medicines shows, on its home
  page or its qualification page one link away (``Page.related``, and the text read from both
  pages' images), its 药品经营许可证 with the licence number and its pharmacists' certificate
  (执业药师注册证 or another 药学技术人员 registration with its number). A photo of the licence
  (an image named as the licence) counts as showing it. A shop that sells no medicine is not judged.
DRUG_RX_ON_HOMEPAGE (YUNNAN-DRUG 第十七条第二款): a platform, category or shop home page shows a
  prescription drug: a product tile with an Rx marker and a medicine name, an image whose alt /
  caption names an Rx medicine or its packaging, or a home-page image whose text reads so. A
  navigation or category link named 处方药, a notice about prescriptions, OTC-only and device-only
  tiles and Rx placeholder images (处方药图片审核后展示) do not fire it; a tile that names an Rx
  medicine with its Rx marker fires whatever picture it shows.

Source: 《云南省药品网络销售监督管理办法实施细则（试行）》(shared/seeds/004_…). Cues and the real-page
facts behind them: ``lexicons/drug.yaml`` (``shop_license``, ``shop_drug_signals``, ``homepage``).
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cache
from typing import Any
from urllib.parse import unquote

from mdwatch.analyzers.catalogue import finding
from mdwatch.analyzers.model import Context, Evidence, Finding, ImageRef, ImageText, Page, TextBlock
from mdwatch.analyzers.normalize import fold, snippet
from mdwatch.analyzers.qualification import is_drug_name, product_names
from mdwatch.lexicons import load_yaml

RULES = ("DRUG_SHOP_LICENSE_MISSING", "DRUG_RX_ON_HOMEPAGE")
KINDS = ("platform", "shop")

_MAX_EVIDENCE = 5
_NAV_TAGS = frozenset({"nav", "header", "footer", "button", "menu", "select", "option"})
_APPROVAL = re.compile(r"国药准字\s*[HZSJBTF]\s*\d{8}")
_WORD = re.compile(r"\w")
_NAME_HEAD = re.compile(r"([\u3400-\u9fff]{1,12})(?:[A-Za-z]\d{0,2})?$")
_IMAGE_FILE = re.compile(r"\.(?:jpe?g|png|gif|webp|bmp)(?:[?#].*)?$", re.I)
_PHARMACIST_NO = re.compile(r"[A-Za-z0-9]{6,}")


def _alt(words: list[str]) -> str:
    return "|".join(re.escape(w) for w in sorted(words, key=len, reverse=True))


def _markers(words: list[str], *, negate: str = "") -> re.Pattern[str]:
    """Markers as a regex: ASCII markers stand alone (not inside a model number: RX200, RX-3)."""
    parts = []
    for w in sorted(words, key=len, reverse=True):
        if w.isascii():
            parts.append(rf"(?<![A-Za-z0-9]){re.escape(w)}(?![A-Za-z0-9]|-\d)")
        else:
            parts.append(rf"(?<!{negate}){re.escape(w)}" if negate else re.escape(w))
    return re.compile("|".join(parts))


@dataclass(frozen=True, slots=True)
class _Cues:
    rx: re.Pattern[str]
    otc: re.Pattern[str]
    licence_words: tuple[str, ...]
    licence_file_words: tuple[str, ...]
    licence_no: re.Pattern[str]  # 滇AA8710001, 琼CA898510001: counts anywhere
    licence_no_digits: re.Pattern[str]  # 冀3XXXXXX: counts only after a cue
    number_cues: re.Pattern[str]
    window: int
    pharmacist: re.Pattern[str]
    pharmacist_cert: re.Pattern[str]
    pharmacist_window: int
    pharmacist_image_words: tuple[str, ...]
    other_documents: tuple[str, ...]
    pharmacy_words: tuple[str, ...]
    drug_words: tuple[str, ...]
    negations: tuple[str, ...]
    drug_suffix: re.Pattern[str]
    quantity_chars: str
    not_drug_names: tuple[str, ...]
    packaging_words: tuple[str, ...]
    placeholder_words: tuple[str, ...]
    tile_max: int
    tag_max: int
    tag_reach: int


@cache
def _cues() -> _Cues:
    spec: dict[str, Any] = load_yaml("drug.yaml")
    lic = spec["shop_license"]
    sig = spec["shop_drug_signals"]
    home = spec["homepage"]
    prov = f"[{lic['provinces']}]"
    return _Cues(
        rx=_markers(spec["rx_markers"], negate="非"),
        otc=_markers(spec["otc_markers"]),
        licence_words=tuple(lic["licence_words"]),
        licence_file_words=tuple(lic["image_file_words"]),
        licence_no=re.compile(rf"{prov}\s?[A-C][AB]\s?\d{{7,9}}(?:-\d{{2,3}})?(?!\d)", re.I),
        licence_no_digits=re.compile(rf"{prov}\s?[1-4]\d{{6}}(?:-\d{{2,3}})?(?!\d)"),
        number_cues=re.compile(_alt(lic["number_cues"])),
        window=int(lic["window"]),
        pharmacist=re.compile(_alt(lic["pharmacist_words"])),
        pharmacist_cert=re.compile(_alt(lic["pharmacist_cert_words"])),
        pharmacist_window=int(lic["pharmacist_window"]),
        pharmacist_image_words=tuple(lic["pharmacist_image_words"]),
        other_documents=tuple(lic["other_documents"]),
        pharmacy_words=tuple(sig["pharmacy_words"]),
        drug_words=tuple(sig["drug_words"]),
        negations=tuple(sig["negations"]),
        drug_suffix=re.compile(_alt(home["drug_name_suffixes"])),
        quantity_chars=str(home["quantity_chars"]),
        not_drug_names=tuple(home["not_drug_names"]),
        packaging_words=tuple(home["packaging_words"]),
        placeholder_words=tuple(home["placeholder_words"]),
        tile_max=int(home["tile_max_chars"]),
        tag_max=int(home["tag_max_chars"]),
        tag_reach=int(home["tag_reach"]),
    )


# --- medicine names and navigation ----------------------------------------------------------------


def drug_name_in(text: str) -> str | None:
    """The first medicine name in ``text``: Chinese characters, optionally a letter and digits
    (维生素B6片), then a medicine suffix (阿莫西林胶囊, 头孢克肟分散片); quantities (30片, 每盒一片)
    and look-alikes (图片, 镜片) are not names."""
    cues = _cues()
    for m in cues.drug_suffix.finditer(text):
        head = _NAME_HEAD.search(text, max(0, m.start() - 15), m.start())
        if head is None or head.group(1)[-1] in cues.quantity_chars:
            continue
        if any(text[: m.end()].endswith(w) for w in cues.not_drug_names):
            continue
        return text[head.start() : m.end()]
    return None


def _nav_blocks(page: Page) -> frozenset[int]:
    """Indexes of blocks that are navigation: a nav-like tag, or nothing but links that name no
    medicine (category links such as 处方药 / 药品专区 lead elsewhere and show no product).

    Blocks are not tied to their links in a Page, so each link is given to one block only: nav-tag
    blocks first, then the blocks made of the most links (a menu before a lone heading that
    happens to read like one of its links)."""
    available = Counter(lk.text.strip() for lk in page.links if lk.text.strip() and drug_name_in(lk.text) is None)
    if not available:
        return frozenset(i for i, b in enumerate(page.blocks) if b.tag in _NAV_TAGS)
    texts = sorted(available, key=len, reverse=True)
    pieces = [[t for t in texts if t in b.text] for b in page.blocks]
    order = sorted(
        range(len(page.blocks)), key=lambda i: (page.blocks[i].tag not in _NAV_TAGS, -len(pieces[i]), i)
    )
    out = set()
    for i in order:
        block = page.blocks[i]
        if not pieces[i]:
            if block.tag in _NAV_TAGS:
                out.add(i)
            continue
        rest, used = block.text, Counter[str]()
        for t in pieces[i]:
            while t in rest and available[t] - used[t] > 0:
                rest = rest.replace(t, "", 1)
                used[t] += 1
        if block.tag in _NAV_TAGS or not _WORD.search(rest):
            out.add(i)
            available -= used
    return frozenset(out)


def _strip_negations(text: str) -> str:
    for phrase in _cues().negations:
        text = text.replace(phrase, "")
    return text


# --- DRUG_SHOP_LICENSE_MISSING --------------------------------------------------------------------


def drug_sales_basis(page: Page) -> str | None:
    """Why the shop counts as selling medicines (one short Chinese phrase), or None."""
    cues = _cues()
    for name in product_names(page):
        if is_drug_name(name) and drug_name_in(fold(name)) is not None:
            return f"在售药品「{name}」"
    nav = _nav_blocks(page)
    own = [fold(b.text) for i, b in enumerate(page.blocks) if i not in nav]
    body = _strip_negations("\n".join(own))
    m = _APPROVAL.search(body)
    if m:
        return f"页面含药品批准文号「{m.group()}」"
    for text in own:
        shown = drug_name_in(text)
        if shown and len(text) <= cues.tile_max and is_drug_name(shown):
            return f"页面展示药品「{shown}」"
    for pattern in (cues.rx, cues.otc):
        m = pattern.search(body)
        if m:
            return f"页面标示「{m.group()}」"
    heading = fold(" ".join([page.title, *(b.text for b in page.blocks if b.tag == "h1")]))
    pharmacy = next((w for w in cues.pharmacy_words if w in heading), None)
    word = next((w for w in cues.drug_words if w in body), None)
    if pharmacy and word:
        return f"店铺为「{pharmacy}」且页面提及「{word}」"
    return None


def _shop_texts(page: Page) -> str:
    """Page and related texts plus the text read from their images, folded."""
    return fold("\n".join([page.all_text(), *(i.text for i in page.image_texts if i.text)]))


def _licence_shown(page: Page, text: str) -> bool:
    cues = _cues()
    if cues.licence_no.search(text):
        return True
    for m in cues.number_cues.finditer(text):
        if cues.licence_no_digits.search(text, m.end(), m.end() + cues.window):
            return True
    for img in page.all_images():
        if any(w in img.alt or w in img.caption for w in cues.licence_words):
            return True  # a photo of the licence shows its number and details
        name = unquote(img.src.rsplit("/", 1)[-1]).lower()
        if any(w in name for w in cues.licence_words) or any(w in name for w in cues.licence_file_words):
            return True
    if any(any(w in i.text for w in cues.licence_words) for i in page.image_texts):
        return True
    return any(
        _IMAGE_FILE.search(lk.href) and any(w in lk.text for w in cues.licence_words) for lk in page.all_links()
    )


def _pharmacist_shown(page: Page, text: str) -> bool:
    cues = _cues()
    for m in cues.pharmacist.finditer(text):
        window_end = m.end() + cues.pharmacist_window
        cert = cues.pharmacist_cert.search(text, m.start(), window_end)
        if cert is None or any(w in text[m.start() : cert.end()] for w in cues.other_documents):
            continue  # "在药师指导下购买和使用 / 药品经营许可证编号：…" names another document's number
        if _PHARMACIST_NO.search(text, cert.end(), cert.end() + cues.pharmacist_window):
            return True
    return any(
        any(w in img.alt or w in img.caption for w in cues.pharmacist_image_words) for img in page.all_images()
    )


def _licence_missing(page: Page) -> Finding | None:
    if page.kind != "shop":
        return None
    basis = drug_sales_basis(page)
    if basis is None:
        return None
    text = _shop_texts(page)
    missing = []
    if not _licence_shown(page, text):
        missing.append("药品经营许可证（含许可证编号）")
    if not _pharmacist_shown(page, text):
        missing.append("执业药师或其他药学技术人员的注册证书信息")
    if not missing:
        return None
    what = "、".join(missing)
    return finding(
        "DRUG_SHOP_LICENSE_MISSING",
        [
            Evidence(
                "structure",
                f"店铺销售药品（{basis}），但店铺首页及资质页均未展示：{what}。",
                page_url=page.url,
                detail={"basis": basis, "missing": what},
            )
        ],
        message=f"店铺销售药品，但未展示{what}。",
    )


# --- DRUG_RX_ON_HOMEPAGE ----------------------------------------------------------------------------


def _rx_label(text: str) -> re.Match[str] | None:
    """An Rx marker used as a label (not inside 非处方药), in folded text."""
    return _cues().rx.search(text)


def _placeholder(text: str) -> bool:
    return any(w in text for w in _cues().placeholder_words)


def _tile_evidence(page: Page) -> Iterator[Evidence]:
    cues = _cues()
    blocks: tuple[TextBlock, ...] = page.blocks
    nav = _nav_blocks(page)
    folded = [fold(b.text) for b in blocks]
    for i, text in enumerate(folded):
        if i in nav or len(text) > cues.tile_max:
            continue
        m = _rx_label(text)
        if m is None:
            continue
        name = drug_name_in(text)
        if name:
            yield Evidence("text", blocks[i].text, match=f"{m.group()} {name}", page_url=page.url)
            continue
        if len(text) > cues.tag_max:
            continue  # a sentence about prescriptions, not a tag on a tile
        # a tag ("Rx", "【处方药】") in its own block: the tile it belongs to is next to it
        for j in range(max(0, i - cues.tag_reach), min(len(blocks), i + cues.tag_reach + 1)):
            other = folded[j]
            if j == i or j in nav or len(other) > cues.tile_max or cues.otc.search(other):
                continue
            name = drug_name_in(other)
            if name:
                yield Evidence("text", f"{blocks[i].text} {blocks[j].text}", match=f"{m.group()} {name}", page_url=page.url)
                break


def _image_evidence(page: Page) -> Iterator[Evidence]:
    cues = _cues()
    img: ImageRef
    for img in page.images:
        # alt and caption each on its own: a caption may be text next to the picture, not about it
        for label in (fold(img.alt), fold(img.caption)):
            if not label or _placeholder(label):
                continue
            m = _rx_label(label)
            if m is None:
                continue
            name = drug_name_in(label)
            packaging = next((w for w in cues.packaging_words if w in label), None)
            if name or packaging:
                yield Evidence(
                    "text", label, match=f"{m.group()} {name or packaging}", image_url=img.src, page_url=page.url
                )
                break
    own = {img.src for img in page.images}
    shot: ImageText
    for shot in page.image_texts:
        if page.related and shot.image_url not in own:
            continue  # an image of the qualification page, not of this home page
        text = fold(shot.text)
        if _placeholder(text):
            continue
        m = _rx_label(text)
        if m is None:
            continue
        name = drug_name_in(text)
        approval = _APPROVAL.search(text)
        if name or approval:
            what = name or (approval.group() if approval else "")
            yield Evidence(
                "ocr", snippet(shot.text, m.start(), m.end()), match=f"{m.group()} {what}",
                image_url=shot.image_url, page_url=page.url,
            )


def _rx_on_homepage(page: Page) -> Finding | None:
    evidence: list[Evidence] = []
    seen: set[str] = set()
    for ev in (*_tile_evidence(page), *_image_evidence(page)):
        if ev.match in seen:
            continue  # one tile seen as text and as its picture's caption
        seen.add(ev.match)
        evidence.append(ev)
        if len(evidence) >= _MAX_EVIDENCE:
            break
    return finding("DRUG_RX_ON_HOMEPAGE", evidence) if evidence else None


def analyze(page: Page, ctx: Context) -> list[Finding]:
    out: list[Finding] = []
    if ctx.enabled("DRUG_SHOP_LICENSE_MISSING"):
        f = _licence_missing(page)
        if f:
            out.append(f)
    if ctx.enabled("DRUG_RX_ON_HOMEPAGE"):
        f = _rx_on_homepage(page)
        if f:
            out.append(f)
    return out
