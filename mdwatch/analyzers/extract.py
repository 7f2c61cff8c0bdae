"""Captured bytes → Page: decoding, visible text blocks, title, price, images, links, labelled fields.

Pure and offline: stdlib, lxml and w3lib only. One pass over the tree with ``lxml.etree.iterwalk``
collects text runs per block-level element (hidden subtrees skipped), table rows as cells, images,
links and price candidates; labelled fields are read from the same runs. The page kind comes from
``mdwatch.analyzers.pagekind`` unless the caller names it.
"""

from __future__ import annotations

import dataclasses
import re
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import cache, lru_cache
from typing import Any
from urllib.parse import urljoin

from lxml import etree
from w3lib.encoding import html_to_unicode, resolve_encoding

from mdwatch.analyzers.bodycheck import NOT_TEXT, flatten_deep, looks_binary
from mdwatch.analyzers.evasion import looks_traditional, simplify
from mdwatch.analyzers.model import ImageRef, Link, Page, PageKind, TextBlock
from mdwatch.analyzers.pagekind import detect_kind
from mdwatch.lexicons import load_yaml

__all__ = ["ExtractError", "decode_body", "extract_page", "field_labels", "with_related"]


class ExtractError(Exception):
    """The body cannot be turned into a Page (message: one Chinese sentence)."""


# ---------------------------------------------------------------------------------------------
# decoding

_GB_FAMILY = {"gb2312", "gbk", "gb_2312-80", "gb_2312", "csgb2312", "x-gbk", "cp936", "euc-cn", "ms936"}
_CHARSET = re.compile(r"charset\s*=\s*[\"']?\s*([\w.:-]+)", re.I)


def _norm_encoding(name: str | None) -> str | None:
    """A Python codec name for a declared charset; GB2312/GBK become their superset GB18030."""
    if not name:
        return None
    low = name.strip().strip("\"'").lower()
    if low in _GB_FAMILY:
        return "gb18030"
    resolved = resolve_encoding(low)
    if resolved in {"gbk", "gb2312"}:
        return "gb18030"
    return resolved


def _header(headers: Mapping[str, str] | None, name: str) -> str | None:
    if not headers:
        return None
    for k, v in headers.items():
        if k.lower() == name:
            return v.decode("latin-1") if isinstance(v, bytes) else str(v)
    return None


def _auto_detect(body: bytes) -> str | None:
    """Fallback when nothing is declared: UTF-8 if it decodes, else GB18030 (Chinese sites)."""
    try:
        body.decode("utf-8")
    except UnicodeDecodeError:
        return "gb18030"
    return "utf-8"


def decode_body(
    body: bytes, headers: Mapping[str, str] | None = None, declared_encoding: str | None = None
) -> tuple[str, str]:
    """``(text, encoding)`` of an HTML body.

    Order: byte-order mark, ``declared_encoding`` (e.g. the crawler's), the HTTP Content-Type
    charset, the ``<meta>`` declaration, then UTF-8 if the bytes decode as UTF-8, else GB18030.
    GB2312/GBK declarations are read as GB18030, their superset (pages mislabelled GB2312 often
    hold GBK characters).
    """
    content_type = _header(headers, "content-type")
    declared = _norm_encoding(declared_encoding)
    if declared is None and content_type:
        m = _CHARSET.search(content_type)
        if m:
            declared = _norm_encoding(m.group(1))
    ct = f"text/html; charset={declared}" if declared else None
    encoding, text = html_to_unicode(ct, body, default_encoding="utf-8", auto_detect_fun=_auto_detect)
    encoding = _norm_encoding(encoding) or encoding
    return text, encoding


# ---------------------------------------------------------------------------------------------
# field labels

_LABEL_STRIP = " \t\r\n\u3000\u00a0:：*＊【】〖〗〔〕［］[]「」『』●·•◆■▪-—|｜()（）/／"  # 注册人/ (a slash used as a colon)
_MAX_LABEL = 24  # longer text is never a bare label
_LABEL_SPLIT = re.compile(r"[/／、|｜或]")
_QUALIFIED = re.compile(r"[·•・‧∙]")
_BILINGUAL = re.compile(r"([^a-z]{2,16}?)[a-z][a-z.&/()\-]*|[a-z][a-z.&/()\-]*([^a-z]{2,16})")
_GLOSSED = re.compile(r"([^（(]{2,12})[（(]([^）)]{2,12})[）)]?")
_LABEL_CONJ = str.maketrans({"与": "及", "和": "及", "／": "/", "｜": "|"})
_COLONS = re.compile(r"[：:]")
# 【label】value as printed instructions write it, and the other brackets pages use for it
_BRACKETED = re.compile(r"[【〖〔［\[]([^】〗〕］\]\n]{1,32})[】〗〕］\]]")
_OPENERS = frozenset("【〖〔［[")
# characters that end the run before a colon in which a label is looked for
_RUN_STOP = frozenset(" \t\u3000\u00a0，,；;。|｜!！?？)）】]（(《")
_CLOSERS = {"（": "）", "(": ")", "《": "》"}


def _label_key(text: str) -> str:
    """The form a label is compared in: no spaces, simplified characters, 与/和 as 及, no
    colons/brackets/bullets at either end."""
    return simplify("".join(text.split())).translate(_LABEL_CONJ).strip(_LABEL_STRIP).lower()


@dataclass(frozen=True, slots=True)
class _LabelLexicon:
    exact: dict[str, str]  # normalised label → field key
    prefixes: tuple[str, ...]
    suffixes: tuple[str, ...]
    cores: tuple[tuple[str, tuple[str, ...]], ...]  # presence-only key, core words (in order)
    companions: frozenset[str]  # composite-label parts that name no field but may stand beside one
    heads: frozenset[str]  # first characters of every label a text may start with


@cache
def _lexicon() -> _LabelLexicon:
    data: Mapping[str, Any] = load_yaml("field_labels.yaml")
    exact: dict[str, str] = {}
    for key, labels in data["fields"].items():
        for label in labels:
            exact.setdefault(_label_key(str(label)), str(key))
    prefixes = tuple(sorted((str(p) for p in data["affixes"]["prefixes"]), key=len, reverse=True))
    suffixes = tuple(sorted((str(x) for x in data["affixes"]["suffixes"]), key=len, reverse=True))
    heads = frozenset(k[0] for k in exact) | frozenset(p[0] for p in prefixes)
    companions = frozenset(_label_key(str(c)) for c in data["affixes"].get("companions") or ())
    cores = tuple((str(k), tuple(str(w) for w in words)) for k, words in (data.get("cores") or {}).items())
    heads = heads | frozenset(w[0] for _, words in cores for w in words)
    return _LabelLexicon(exact, prefixes, suffixes, cores, companions, heads)


def field_labels() -> dict[str, str]:
    """Normalised label → canonical field key (the exact entries of lexicons/field_labels.yaml)."""
    return dict(_lexicon().exact)


def _single_label(key: str, lex: _LabelLexicon) -> str | None:
    found = lex.exact.get(key)
    if found is not None:
        return found
    stems = [key]
    for p in lex.prefixes:
        if key.startswith(p) and len(key) > len(p) + 1:
            stems.append(key[len(p):])
            break
    for stem in list(stems):
        for x in lex.suffixes:
            if stem.endswith(x) and len(stem) > len(x) + 1:
                stems.append(stem[: -len(x)])
                break
    for stem in stems[1:]:
        found = lex.exact.get(stem)
        if found is not None:
            return found
    return None


@lru_cache(maxsize=65536)
def label_fields(text: str) -> tuple[str, ...]:
    """The field keys ``text`` is a label of (usually one; a composite label may name two), or ()."""
    if not text or len(text) > _MAX_LABEL:
        return ()
    key = _label_key(text)
    if len(key) < 2 or len(key) > _MAX_LABEL:
        return ()
    lex = _lexicon()
    single = _single_label(key, lex)
    if single is not None:
        return (single,)
    qualified = _QUALIFIED.split(key)
    if len(qualified) > 1 and len(qualified[-1]) >= 2:
        # 保护蜡·型号规格: a label qualified by the product (or part) it belongs to
        return label_fields(qualified[-1])
    bilingual = _BILINGUAL.fullmatch(key)
    if bilingual is not None:
        # 结构及组成Composition / Model型号: the English translation beside the label
        return label_fields(bilingual.group(1) or bilingual.group(2))
    glossed = _GLOSSED.fullmatch(key)
    if glossed is not None:
        # 产品描述（结构组成）: a label glossed in brackets by the item it gives
        return label_fields(glossed.group(2)) or label_fields(glossed.group(1))
    parts = [x for x in _LABEL_SPLIT.split(key) if x]
    if len(parts) < 2:
        return _core_label(key, lex)
    out: list[str] = []
    last = parts[-1]
    for part in parts:
        found = _single_label(part, lex)
        if found is None and part is not last:
            # 注册/备案凭证编号: the first part borrows the last part's tail (注册凭证编号)
            for cut in range(1, len(last)):
                found = _single_label(part + last[cut:], lex)
                if found is not None:
                    break
        if found is None:
            if part in lex.companions:
                continue
            return _core_label(key, lex)
        if found not in out:
            out.append(found)
    return tuple(out)


_MAX_CORE_LABEL = 12
_CJK_LABEL = re.compile(r"[\u4e00-\u9fff/、]+")
# a label asked as a question (一贴由什么做成, 谁注册的、谁生产的): its wording is a question's, not a value's
_QUESTION_LABEL = re.compile(r"什么|谁|哪|多少|几")
# phrasings of a value, not of a label: 由…组成, 适用于…, 用于…, 的
_VALUE_WORDING = re.compile(r"^由|于|的|者|^本品|^供|^无|使用$|禁用$|慎用$")


def _core_label(key: str, lex: _LabelLexicon) -> tuple[str, ...]:
    """A seller's own short label that holds an item's core word (盒内配置, 它适合谁, 持证企业): it
    shows the item (a presence-only key), its value is never compared."""
    if len(key) > _MAX_CORE_LABEL or not _CJK_LABEL.fullmatch(key):
        return ()
    if _VALUE_WORDING.search(key) and not _QUESTION_LABEL.search(key):
        return ()  # only a bare label of Chinese words: no figure, bracket, list or value phrasing
    for item, words in lex.cores:
        if any(w in key for w in words):
            return (item,)
    return ()


def _lookup_label(text: str) -> tuple[str, ...]:
    """The field keys ``text`` is a bare label of (cheap reject on the first character)."""
    if len(text) > _MAX_LABEL:
        return ()
    head = text.strip(_LABEL_STRIP)
    if not head:
        return ()
    first = head[0].lower()
    if len(head) > _MAX_CORE_LABEL and first not in _lexicon().heads and simplify(first) not in _lexicon().heads:
        return ()
    return label_fields(head)


def _label_before(text: str, colon: int, floor: int) -> tuple[int, tuple[str, ...]]:
    """The label ending at ``colon`` (its start and keys): the longest label that is a suffix of
    the run of text before the colon (after ``floor``, the end of the previous value)."""
    start = colon
    if start - 1 > floor and text[start - 1] in ")）":
        # 产品描述（结构组成）：… — the gloss belongs to the label
        opening = max(text.rfind("（", floor, start), text.rfind("(", floor, start))
        if opening >= 0 and start - opening <= 14:
            start = opening
    while start > floor and colon - start < _MAX_LABEL and text[start - 1] not in _RUN_STOP:
        start -= 1
    if start - 1 > floor and text[start - 1] == " " and text[start:colon].isascii() and text[start:colon].isalpha():
        # 产品名称 Name：… — an English translation between the label and its colon
        start -= 1
        while start > floor and colon - start < _MAX_LABEL and text[start - 1] not in _RUN_STOP:
            start -= 1
    run = text[start:colon]
    keys = _lookup_label(run)
    if keys:
        return start, keys
    # a label glued to the value before it (国械注准20153210001型号：…): only after a character
    # that cannot end a Chinese phrase, so 本产品规格：… in a sentence is no label
    for i in range(1, len(run) - 1):
        if (run[i - 1].isascii() and run[i - 1].isalnum()) or run[i - 1] in "）)】]》":
            keys = _lookup_label(run[i:])
            if keys:
                return start + i, keys
    return -1, ()


def _alnum_edge(ch: str) -> bool:
    return ch.isascii() and ch.isalnum()


_BAR_SPLIT = re.compile(r"([|｜])")
_PAIR_SEPARATOR_RUNS = frozenset({"|", "｜", "/", "／", "·", "•"})
_PAIR_SEPARATORS = re.compile(r"[|｜]|\s/\s|\s{2,}")
_OTHER_LABEL = re.compile(r"(?:^|(?<=[|｜/\s]))[^|｜/\s:：]{1,8}[:：]")


def _value_stops(text: str) -> list[int]:
    """Where a value ends besides the next known label: a pair separator (| ｜ " / "), or another
    "label:" that is not one of ours (流量:1-5L/min | 氧浓度:93%)."""
    stops = [m.start() for m in _PAIR_SEPARATORS.finditer(text)]
    stops.extend(m.start() for m in _OTHER_LABEL.finditer(text) if not _lookup_label(m.group()[:-1]))
    return sorted(stops)


def _label_spans(text: str) -> list[tuple[int, int, tuple[str, ...]]]:
    """(start, end, keys) of every label in one block: 【label】, or label before a colon."""
    spans: list[tuple[int, int, tuple[str, ...]]] = []
    if not _OPENERS.isdisjoint(text):
        for m in _BRACKETED.finditer(text):
            keys = _lookup_label(m.group(1))
            if keys:
                end = m.end()
                if end < len(text) and text[end] in "：:":
                    end += 1
                spans.append((m.start(), end, keys))
    taken = [(a, b) for a, b, _ in spans]
    floor = 0
    for m in _COLONS.finditer(text):
        colon = m.start()
        if any(a <= colon < b for a, b in taken):
            continue
        if m.group() == ":" and colon + 1 < len(text) and text[colon + 1].isdigit() and colon > 0 and text[colon - 1].isdigit():
            continue  # 12:30, a time
        prev_end = max((b for a, b in taken if b <= colon), default=0)
        start, keys = _label_before(text, colon, max(floor, prev_end))
        if keys:
            spans.append((start, colon + 1, keys))
            taken.append((start, colon + 1))
            floor = colon + 1
    spans.sort()
    return spans


def _fields_from_line(text: str) -> tuple[list[tuple[tuple[str, ...], str]], tuple[str, ...] | None]:
    """Label/value pairs in one block of text, and a label left without a value (if it ends so)."""
    whole = _lookup_label(text)
    if whole:
        return [], whole
    if "：" not in text and ":" not in text and _OPENERS.isdisjoint(text):
        return [], None
    spans = _label_spans(text)
    if not spans:
        return [], None
    pairs: list[tuple[tuple[str, ...], str]] = []
    pending: tuple[str, ...] | None = None
    stops = _value_stops(text)
    for i, (start, end, keys) in enumerate(spans):
        stop = spans[i + 1][0] if i + 1 < len(spans) else len(text)
        stop = next((x for x in stops if end < x < stop), stop)
        closer = _CLOSERS.get(text[start - 1]) if start > 0 else None
        if closer is not None and (close := text.find(closer, end, stop)) >= 0:
            stop = close  # （型号：KR-W5）: the value ends with the bracket the label opened
        value = text[end:stop].strip(" \t\u3000\u00a0:：;；,，|｜/")
        if value:
            pairs.append((keys, value))
            pending = None
        else:
            pending = keys
    return pairs, pending


# ---------------------------------------------------------------------------------------------
# tree walk

_DROP = frozenset(
    {"script", "style", "noscript", "template", "svg", "head", "iframe", "object", "embed", "canvas",
     "math", "select", "datalist", "audio", "video", "map"}
)
_BLOCK = frozenset(
    {"address", "article", "aside", "blockquote", "body", "center", "dd", "details", "dialog", "dir", "div",
     "dl", "dt", "fieldset", "figcaption", "figure", "footer", "form", "h1", "h2", "h3", "h4", "h5", "h6",
     "header", "hgroup", "hr", "html", "li", "main", "menu", "nav", "ol", "p", "pre", "section", "summary",
     "table", "tbody", "thead", "tfoot", "tr", "ul", "caption", "legend", "textarea", "button"}
)
_CELL = frozenset({"td", "th"})
_STRUCK = frozenset({"del", "s", "strike"})  # struck-through text: an "original price" when money
_SPECIAL = _DROP | _BLOCK | _CELL | _STRUCK | {"br", "a", "img", "input", "title"}
# blocks whose whole text may be a label for the block that follows (<h3>适用范围</h3><p>…</p>)
_LABEL_BLOCKS = frozenset({"h1", "h2", "h3", "h4", "h5", "h6", "dt", "div", "p", "li", "strong", "th", "tr", "summary", "button"})
_IMG_WRAPPERS = frozenset({"a", "span", "picture", "i", "em", "b", "strong", "font", "u"})
_NO_CAPTION_CONTAINERS = frozenset({"body", "html", "main", "article", "section", "form", "table", "tbody"})
# hidden elements a click shows (tab panels, pop-ups, folds) rather than text hidden for good
_REVEALED_ROLES = frozenset({"tabpanel", "dialog", "alertdialog"})
_PANE_CLASS = re.compile(
    r"(?:^|[\s_-])(?:tab|tabs|pane|panel|tabpanel|tab-pane|modal|popup|pop|layer|sheet|drawer|dialog|collapse"
    r"|fold|folded|accordion|expand|more)(?:$|[\s_-])", re.I)
_SCRIPT_ID = re.compile(r"""(?:getElementById\(\s*|querySelector(?:All)?\(\s*['"]#|\$\(\s*['"]#)['"]?([A-Za-z][\w:-]*)""")
_FOLDING = frozenset({"details", "dialog"})
_HIDDEN_STYLE = re.compile(r"display\s*:\s*none|visibility\s*:\s*hidden", re.I)
_XML_DECL = re.compile(r"^\s*<\?xml[^>]*\?>", re.I)
_LAZY_SRC = ("data-src", "data-original", "data-lazy-src", "data-lazy", "lazy-src", "data-ks-lazyload", "original")
_AMOUNT = re.compile(r"[¥￥]\s*\d[\d,]*(?:\.\d+)?|\d[\d,]*(?:\.\d+)?\s*元|\d[\d,]*(?:\.\d+)?")
_MONEY = re.compile(r"[¥￥]\s*\d[\d,]*(?:\.\d+)?|\d[\d,]*(?:\.\d+)?\s*元")
_PRICE_WORDS = ("价格", "售价", "促销价", "优惠价", "零售价", "单价", "现价")
# class/id of a struck-through "original price" element, and its text labels
_ORIGINAL_ATTR = re.compile(r"original|origin[-_]price|market-?price|old-?price|del-?price|line-?price|price-?(?:del|old|orig|line)", re.I)
_ORIGINAL_WORDS = re.compile(r"(?:原价|划线价|市场价|专柜价)\s*[:：]?\s*([¥￥]\s*\d[\d,]*(?:\.\d+)?|\d[\d,]*(?:\.\d+)?\s*元)")


def _collapse(text: str) -> str:
    """Whitespace runs (incl. U+3000 and U+00A0) to one space, trimmed."""
    return " ".join(text.split())


_ATTR_CHECK = frozenset({"hidden", "aria-hidden", "style", "type", "class", "id"})


def _attr_hides_or_prices(walker: _Walker, el: etree._Element, tag: str, name: str, value: str) -> bool:
    """True if the attribute hides the element; records price candidates (class/id with "price")."""
    if name == "hidden":
        return True
    if name == "style":
        return bool(_HIDDEN_STYLE.search(value))
    if name == "aria-hidden":
        return value.strip().lower() == "true"
    if name == "type":
        return tag == "input" and value.strip().lower() == "hidden"
    if _ORIGINAL_ATTR.search(value):
        if not walker.original_els or walker.original_els[-1] is not el:
            walker.original_els.append(el)
    elif "price" in value.lower() and (not walker.price_els or walker.price_els[-1] is not el):
        walker.price_els.append(el)
    return False


def _short_text(el: etree._Element | None, limit: int = 80) -> str:
    if el is None or not isinstance(el.tag, str) or el.tag in _DROP:
        return ""
    text = _collapse(" ".join(el.itertext("*")))  # captions: runs of separate elements kept apart
    return text if len(text) <= limit else ""


def _image_src(el: etree._Element) -> str:
    for attr in _LAZY_SRC:
        v = (el.get(attr) or "").strip()
        if v and not v.startswith("data:"):
            return v
    v = (el.get("src") or "").strip()
    return "" if v.startswith("data:") else v


def _image_caption(img: etree._Element) -> str:
    """figcaption of the enclosing figure, else title, else short nearby text."""
    node: etree._Element | None = img
    for _ in range(3):
        if node is None:
            break
        if node.tag == "figure":
            cap = node.find(".//figcaption")
            if cap is not None:
                return _collapse("".join(cap.itertext("*")))
        node = node.getparent()
    title = (img.get("title") or "").strip()
    if title:
        return _collapse(title)
    tail = _collapse(img.tail or "")
    if tail:
        return tail
    # the immediately surrounding element (stepping out of bare <a>/<span> wrappers), else the next sibling
    holder, container = img, img.getparent()
    while container is not None and container.tag in _IMG_WRAPPERS and not _short_text(container, 10_000):
        holder, container = container, container.getparent()
    if container is not None and container.tag not in _NO_CAPTION_CONTAINERS:
        text = _short_text(container)
        if text:
            return text
    sib = holder.getnext()
    while sib is not None and not isinstance(sib.tag, str):
        sib = sib.getnext()
    if sib is None or sib.tag == "img" or sib.find(".//img") is not None:
        return ""
    return _short_text(sib)


class _Walker:
    """State of one pass over the tree."""

    def __init__(self, base: str) -> None:
        self.base = base
        self.blocks: list[TextBlock] = []
        self.pieces: list[str] = []
        self.piece_in_link: list[bool] = []
        self.block_stack: list[str] = []
        self.cell_stack: list[list[str]] = []
        self.row_stack: list[list[str]] = []
        self.link_depth = 0
        self.link_marks: list[tuple[int, int]] = []  # (len(pieces), flushes) at each open <a>
        self.flushes = 0
        self.scheme = base.split(":", 1)[0] if "://" in base else "http"
        self.title = ""
        self.h1 = ""
        self.images: list[ImageRef] = []
        self.links: list[Link] = []
        self.price_els: list[etree._Element] = []
        self.original_els: list[etree._Element] = []  # struck-through / "original price" elements
        self.fields: dict[str, str] = {}
        self.pending_label: tuple[str, ...] | None = None
        self.root: etree._Element | None = None
        self.folds: list[etree._Element] = []  # open elements shown only after a click
        self._controlled: frozenset[str] | None = None

    def controlled_ids(self) -> frozenset[str]:
        """Ids of elements a control on the page opens (computed once, when first needed)."""
        if self._controlled is None:
            self._controlled = _controlled_ids(self.root) if self.root is not None else frozenset()
        return self._controlled

    def revealable(self, el: etree._Element) -> bool:
        """A hidden element that a click shows: a tab panel, a dialog, a pane a control names."""
        if el.tag not in _BLOCK:
            return False  # an inline run hidden in a block is never a pane
        if (el.get("role") or "").strip().lower() in _REVEALED_ROLES:
            return True
        ident = (el.get("id") or "").strip()
        if ident and ident in self.controlled_ids():
            return True
        return _PANE_CLASS.search(el.get("class") or "") is not None

    def open_fold(self, el: etree._Element) -> None:
        self.flush()
        self.folds.append(el)

    def close_fold(self, el: etree._Element) -> None:
        if self.folds and self.folds[-1] is el:
            self.flush()
            self.folds.pop()

    # text runs ------------------------------------------------------------------------------
    def add(self, text: str | None) -> None:
        if not text:
            return
        pieces = self.pieces
        if pieces and _alnum_edge(text[0]) and _alnum_edge(pieces[-1][-1]):
            # <span>SY-C10</span><span>SY-C20</span>: two codes in separate elements, not one
            text = " " + text
        pieces.append(text)
        self.piece_in_link.append(self.link_depth > 0)
        if self.cell_stack:
            self.cell_stack[-1].append(text)

    def set_fields(self, keys: Sequence[str], value: str) -> None:
        value = value.strip()
        if not value:
            return
        for key in keys:
            if key not in self.fields:
                self.fields[key] = value

    def absolute(self, href: str) -> str:
        if href.startswith(("http://", "https://")):
            return href
        if href.startswith("//"):
            return f"{self.scheme}:{href}"
        return urljoin(self.base, href)

    def flush(self) -> None:
        if not self.pieces:
            return
        self.flushes += 1
        pieces, in_link = self.pieces, self.piece_in_link
        self.pieces, self.piece_in_link = [], []
        text = _collapse("".join(pieces))
        if not text:
            return
        tag = self.block_stack[-1] if self.block_stack else "p"
        self.blocks.append(TextBlock(text, tag, folded=bool(self.folds)))
        if tag == "h1" and not self.h1:
            self.h1 = text
        self._fields_of_block(text, tag, pieces, in_link)

    def _fields_of_block(self, text: str, tag: str, pieces: list[str], in_link: list[bool]) -> None:
        if tag == "tr":  # rows are read cell by cell in end_row
            return
        pending, self.pending_label = self.pending_label, None
        pairs, label_only = _fields_from_line(text)
        if pending is not None and not pairs and label_only is None:
            self.set_fields(pending, text)
            return
        for keys, value in pairs:
            self.set_fields(keys, value)
        if pairs:
            if label_only:
                self.pending_label = label_only
            return
        if label_only is not None:
            if tag in _LABEL_BLOCKS and not all(in_link):
                self.pending_label = label_only
            return
        if len(pieces) >= 2:
            self._fields_of_pieces(pieces, in_link)

    def _fields_of_pieces(self, pieces: list[str], in_link: list[bool]) -> None:
        """Label and value in separate runs of one block: ``<span>品牌</span><span>鱼跃</span>``, and
        several such pairs in a row (``<span>型号</span><span>A1</span>|<span>规格</span>…``)."""
        if any("|" in piece or "｜" in piece for piece in pieces):
            # 「NA-R60 ｜ 类型 」 in one run: the separator ends one pair and opens the next
            split_pieces: list[str] = []
            split_links: list[bool] = []
            for piece, linked in zip(pieces, in_link, strict=True):
                for part in _BAR_SPLIT.split(piece):
                    split_pieces.append(part)
                    split_links.append(linked)
            pieces, in_link = split_pieces, split_links
        keys: tuple[str, ...] = ()
        value: list[str] = []
        first = True
        # pairs set apart by separators (型号 A1 / 导联 单导 / 证号 X / 注册方 Y): a pair whose label
        # is not ours is skipped to the next separator instead of ending the reading
        separated = any(p.strip()[:1] in _PAIR_SEPARATOR_RUNS for p in pieces[1:])

        def close() -> None:
            # each run its own token: <span>SY-C10</span><span>SY-C20</span> are two models
            if keys:
                self.set_fields(keys, _collapse(" ".join(value)).strip(" :：|｜/"))

        for i, piece in enumerate(pieces):
            stripped = piece.strip()
            if stripped[:1] in _PAIR_SEPARATOR_RUNS and len(stripped) > 1:
                # 「NA-R60」「｜ 类型」: a separator opens the run of the next pair
                close()
                keys, value = (), []
                piece = stripped = stripped[1:].strip()
            if not stripped:
                continue
            if in_link[i] and first:
                return
            found = _lookup_label(piece) if len(piece) <= _MAX_LABEL else ()
            other = not found and _OTHER_LABEL.fullmatch(stripped) is not None  # 周期: (not ours)
            if found or other or stripped in _PAIR_SEPARATOR_RUNS:
                close()
                keys, value = found, []
            elif first and not separated:
                return  # the block does not open with a label: prose, not a field list
            elif keys:
                value.append(stripped)
            first = False
        close()

    def end_row(self, cells: list[str]) -> None:
        cells = [c for c in cells if c]
        pending, self.pending_label = self.pending_label, None
        if pending is not None and cells and not _lookup_label(cells[0]):
            # <tr><th>适用范围</th></tr><tr><td>…</td></tr>: a label row, then its value row
            self.set_fields(pending, " ".join(cells))
            return
        i = 0
        while i < len(cells):
            keys = _lookup_label(cells[i])
            if not keys:
                pairs, _ = _fields_from_line(cells[i])
                for k, v in pairs:
                    self.set_fields(k, v)
                i += 1
                continue
            nxt = cells[i + 1] if i + 1 < len(cells) else ""
            if nxt and not _lookup_label(nxt):
                # a value cell may carry more pairs: 「康瑞医疗有限公司 生产许可证编号：苏药监械生产许…」
                inner = _label_spans(nxt) if ("：" in nxt or ":" in nxt or not _OPENERS.isdisjoint(nxt)) else []
                if inner and inner[0][0] > 0:
                    self.set_fields(keys, nxt[: inner[0][0]])
                    for k, v in _fields_from_line(nxt[inner[0][0] :])[0]:
                        self.set_fields(k, v)
                else:
                    self.set_fields(keys, nxt)
                i += 2
            else:
                if not nxt:
                    self.pending_label = keys  # label row, value in the next row/block
                i += 1

    # elements -------------------------------------------------------------------------------
    def start(self, el: etree._Element) -> bool:
        """Handle an opening tag; False to skip the element's subtree (its tail still counts)."""
        tag = el.tag
        if tag in _DROP or tag == "title":
            return False
        attrs = el.items()
        if attrs:
            for name, value in attrs:
                if name in _ATTR_CHECK and _attr_hides_or_prices(self, el, tag, name, value):
                    if self.price_els and self.price_els[-1] is el:
                        self.price_els.pop()
                    if self.original_els and self.original_els[-1] is el:
                        self.original_els.pop()
                    if not self.revealable(el):
                        return False  # hidden for good (stuffed keywords, templates): not on the page
                    if not self.folds or self.folds[-1] is not el:
                        self.open_fold(el)
        if tag in _FOLDING and el.get("open") is None and (not self.folds or self.folds[-1] is not el):
            self.open_fold(el)  # a closed <details> or <dialog>: shown on a click
        if tag in _BLOCK:
            if self.pieces:
                self.flush()
            # a tab's own name (规格参数 | 注册证 | 售后保障) labels a pane, never the next tab
            self.block_stack.append("tab" if (el.get("role") or "").lower() == "tab" else tag)
            if tag == "tr":
                self.row_stack.append([])
        elif tag in _CELL:
            self.add(" ")
            self.cell_stack.append([])
        elif tag == "br":
            self.flush()
        elif tag == "a":
            self.link_depth += 1
            self.link_marks.append((len(self.pieces), self.flushes))
        elif tag == "img":
            src = _image_src(el)
            if src:
                self.images.append(
                    ImageRef(self.absolute(src), _collapse(el.get("alt") or ""), _image_caption(el))
                )
        elif tag in _STRUCK:
            if not self.original_els or self.original_els[-1] is not el:
                self.original_els.append(el)
        elif tag == "input":
            itype = (el.get("type") or "").lower()
            if itype in {"button", "submit"}:
                self.add(" " + (el.get("value") or "") + " ")
        text = el.text
        if text:
            self.add(text)
        return True

    def end(self, el: etree._Element, visited: bool) -> None:
        tag = el.tag
        if visited:
            if tag in _BLOCK:
                self.flush()
                if self.block_stack:
                    self.block_stack.pop()
                if tag == "tr" and self.row_stack:
                    self.end_row(self.row_stack.pop())
                self.close_fold(el)
            elif tag in _CELL:
                cell = _collapse("".join(self.cell_stack.pop())) if self.cell_stack else ""
                if self.row_stack:
                    self.row_stack[-1].append(cell)
                self.add(" ")
            elif tag == "a":
                self.link_depth -= 1
                mark = self.link_marks.pop() if self.link_marks else (0, -1)
                if mark[1] == self.flushes:
                    self._link(el, _collapse("".join(self.pieces[mark[0] :])))
                else:  # a block inside the link flushed part of its text
                    self._link(el, _collapse("".join(el.itertext("*"))))
        tail = el.tail
        if tail:
            self.add(tail)

    def _link(self, el: etree._Element, text: str) -> None:
        href = (el.get("href") or "").strip()
        scripted = not href or href.startswith("#") or href[:11].lower() == "javascript:"
        if scripted:
            # a link that opens a pop-up (查看注册证 ›, href="#" or javascript:) is still the link
            # identifier GSP-NET 第十一条/第十二条 ask for; kept with the page's own address
            if text:
                self.links.append(Link(self.base.split("#", 1)[0] + "#", text))
            return
        if not text:
            text = _collapse(el.get("title") or "")
        if not text:
            img = el.find(".//img")
            if img is not None:
                text = _collapse(img.get("alt") or "")
        self.links.append(Link(self.absolute(href), text))

    # price ----------------------------------------------------------------------------------
    def price(self) -> str | None:
        for el in self.price_els:
            if el.tag in _STRUCK:
                continue
            text = _unstruck_text(el)
            m = _MONEY.search(text) or _AMOUNT.search(text)
            if m:
                return m.group(0).strip()
        for i, block in enumerate(self.blocks):
            text = block.text
            pos = -1
            for word in _PRICE_WORDS:
                pos = text.find(word)
                if pos >= 0:
                    break
            if pos < 0:
                continue
            m = _MONEY.search(text, pos) or _MONEY.search(text)
            if m is None and i + 1 < len(self.blocks):
                m = _MONEY.search(self.blocks[i + 1].text)
            if m:
                return m.group(0).strip()
        return None


    def original_price(self) -> str | None:
        """A struck-through "original price" (<del>/<s>/<strike>, class/id "original"/"market-price"…,
        or text 原价/划线价 ¥…), as shown."""
        for el in self.original_els:
            m = _MONEY.search(_collapse("".join(el.itertext("*"))))
            if m:
                return m.group(0).strip()
        for block in self.blocks:
            m = _ORIGINAL_WORDS.search(block.text)
            if m:
                return m.group(1).strip()
        return None


def _unstruck_text(el: etree._Element) -> str:
    """Text of a price element without its struck-through parts (<del>¥500</del> ¥200 → ¥200)."""
    if not any(True for _ in el.iter(*_STRUCK)):
        return _collapse("".join(el.itertext("*")))
    parts: list[str] = []

    def visit(node: etree._Element) -> None:
        if node.text:
            parts.append(node.text)
        for child in node:
            if isinstance(child.tag, str) and child.tag not in _STRUCK:
                visit(child)
            if child.tail:
                parts.append(child.tail)

    visit(el)
    return _collapse("".join(parts))


def _walk(root: etree._Element, walker: _Walker) -> None:
    # Hot loop: plain inline elements without attributes (span, em, b, font…) only add their text.
    skipped: set[etree._Element] = set()
    special = _SPECIAL
    start, end, add = walker.start, walker.end, walker.add
    it = etree.iterwalk(root, events=("start", "end", "comment", "pi"))
    for event, el in it:
        if event == "start":
            if el.tag in special or el.attrib:
                if not start(el):
                    it.skip_subtree()
                    skipped.add(el)
            elif el.text:
                add(el.text)
        elif event == "end":
            if el.tag in special:
                end(el, el not in skipped)
            elif el.tail:
                add(el.tail)
        elif el.tail:  # comment / processing instruction: only its tail is text
            add(el.tail)
    walker.flush()


_PARSERS = threading.local()  # lxml parsers are not to be shared between threads
_LIMITS = (etree.ErrorTypes.ERR_RESOURCE_LIMIT,)  # "Excessive depth in document: 256"


def _parse(text: str) -> etree._Element:
    text = _XML_DECL.sub("", text, count=1)
    if not text.strip():
        raise ExtractError("页面内容为空，无法解析。")
    parser = getattr(_PARSERS, "parser", None)
    if parser is None:
        parser = _PARSERS.parser = etree.HTMLParser(remove_comments=False, no_network=True)
    try:
        root = etree.fromstring(text, parser)
        if parser.error_log.filter_types(_LIMITS):
            # nested deeper than libxml2 reads (256): all text after that point would be lost;
            # read it again with the elements beyond DEPTH_CAP levels unwrapped (bodycheck.py)
            huge = getattr(_PARSERS, "huge", None)
            if huge is None:
                huge = _PARSERS.huge = etree.HTMLParser(remove_comments=False, no_network=True, huge_tree=True)
            root = etree.fromstring(flatten_deep(text, _BLOCK | _CELL), huge)
    except (etree.ParserError, etree.XMLSyntaxError, ValueError) as exc:
        raise ExtractError("页面无法解析为 HTML。") from exc
    if root is None:
        raise ExtractError("页面没有可见内容，无法解析。")
    return root


def _base_url(root: etree._Element, url: str) -> str:
    for base in root.iter("base"):
        href = (base.get("href") or "").strip()
        if href:
            return urljoin(url, href)
        break
    return url


def _controlled_ids(root: etree._Element) -> frozenset[str]:
    """Ids named by the page's controls: aria-controls, data-target, href="#id", for, and
    getElementById / querySelector / $('#…') in its own scripts."""
    ids: set[str] = set()
    for value in root.xpath("//@aria-controls|//@data-target|//@data-bs-target|//@data-tab|//@for|//a/@href"):
        for token in str(value).split():
            ids.add(token[1:] if token.startswith("#") else token)
    for script in root.iter("script"):
        if script.text:
            ids.update(m.group(1) for m in _SCRIPT_ID.finditer(script.text))
    for handler in root.xpath("//@onclick|//@ontouchstart|//@onmouseover"):  # inline handlers open panes too
        ids.update(m.group(1) for m in _SCRIPT_ID.finditer(str(handler)))
    ids.discard("")
    return frozenset(ids)


def _walk_document(root: etree._Element, url: str) -> _Walker:
    walker = _Walker(_base_url(root, url))
    walker.root = root
    for title in root.iter("title"):
        if any(a.tag == "svg" for a in title.iterancestors()):
            continue
        walker.title = _collapse("".join(title.itertext("*")))
        break
    _walk(root, walker)
    return walker


def _joined_text(title: str, blocks: Sequence[TextBlock]) -> str:
    """What ``Page.text`` is for this title and these blocks."""
    return "\n".join(([title] if title else []) + [b.text for b in blocks])


def extract_page(
    url: str,
    body: bytes | str,
    *,
    headers: Mapping[str, str] | None = None,
    encoding: str | None = None,
    kind: PageKind | None = None,
) -> Page:
    """Turn a captured body into a Page. Raises ExtractError for an empty or unparsable body."""
    if isinstance(body, bytes):
        if not body.strip():
            raise ExtractError("页面内容为空，无法解析。")
        text, enc = decode_body(body, headers, encoding)
    else:
        text, enc = body, "utf-8"
    if looks_binary(body if isinstance(body, bytes) else None, text):
        raise ExtractError(NOT_TEXT)  # random bytes, a PNG/ZIP/PDF served as text/html: not analysed
    original_text: str | None = None
    if looks_traditional(text):
        # a traditional-Chinese page is read in simplified characters (labels, warnings, claims
        # compare against simplified lexicons); the conversion is one character for one, so the
        # text as shown is kept beside it for quoting in evidence
        shown = _walk_document(_parse(text), url)
        original_text = _joined_text(shown.title or shown.h1, shown.blocks)
        text = simplify(text)
    walker = _walk_document(_parse(text), url)
    if not walker.blocks and not walker.title and not walker.images and not walker.links:
        raise ExtractError("页面没有可见内容，无法解析。")
    original = walker.original_price()
    if original and "original_price" not in walker.fields:
        walker.fields["original_price"] = original
    page = Page(
        url=url,
        kind=kind or "product",
        title=walker.title or walker.h1,
        blocks=tuple(walker.blocks),
        images=tuple(walker.images),
        links=tuple(walker.links),
        price=walker.price(),
        fields=dict(walker.fields),
        encoding=enc,
        original_text=original_text,
    )
    if kind is None:
        page = dataclasses.replace(page, kind=detect_kind(page))
    return page


def with_related(page: Page, related: Sequence[Page]) -> Page:
    """``page`` judged together with ``related`` (e.g. a shop and its qualification page)."""
    return dataclasses.replace(page, related=tuple(related))
