"""What the trained claim classifier adds to the claim lexicons (issue 14; model card:
``mdwatch/models/README.md``).

The lexicons (``analyzers.claims``, ``analyzers.scope``) stay the high-precision path. The model
reads the seller's sentences on listing pages (``scorable``: prose, not spec rows, menus or names)
and adds a claim of a class only for a sentence the lexicon neither flagged with that class nor
ruled out for it (an exception, a negation), and only at or above the class's threshold (chosen on
the development split for precision ≥ 0.95, raised where the model made false findings on the
format corpus's development pages: model card). Each such evidence item says where it came from:
``detail`` holds ``detector: model``, the class, the probability and the note 「模型识别，建议人工复核」.

Class → rule: guarantee, absolute, endorsement, comparative → the CLAIM_ rule of the same name.
disease → CLAIM_NONDEVICE_MEDICAL only, under the conditions ``analyzers.scope`` sets for it (a
product listing, not a drug listing, no device number anywhere on it) and only when the scope
lexicon itself found no medical claim there (then ``scope`` reports the rule already). The model
does not feed CLAIM_SCOPE_EXCEEDED: that rule compares *what* is claimed with the registered
适用范围, and the model says only *that* a sentence claims an effect on a disease.

Pure: the scorer comes in through ``Context.claim_model`` (loaded once per process by the page
pipeline); nothing here reads a file at analysis time except the rule packs' option (cached).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from typing import Any, Protocol

from mdwatch.analyzers.evasion import fold_for_matching
from mdwatch.analyzers.model import Context, Evidence, EvidenceSource, Page
from mdwatch.analyzers.normalize import snippet
from mdwatch.lexicons import load_yaml

__all__ = [
    "CLASSES",
    "CLASS_RULES",
    "DETECTOR",
    "MODEL_NOTE",
    "PACK_OPTION",
    "ClaimScorer",
    "ModelHit",
    "claim_model_wanted",
    "combined_classes",
    "lexicon_classes",
    "lexicon_view",
    "model_classes",
    "model_sentences",
    "model_text",
    "pack_claim_model",
    "scorable",
    "sentence_spans",
]

CLASSES: tuple[str, ...] = ("guarantee", "absolute", "endorsement", "comparative", "disease")
CLASS_RULES: dict[str, str] = {
    "guarantee": "CLAIM_GUARANTEE",
    "absolute": "CLAIM_ABSOLUTE",
    "endorsement": "CLAIM_ENDORSEMENT",
    "comparative": "CLAIM_COMPARATIVE",
    "disease": "CLAIM_NONDEVICE_MEDICAL",
}
RULE_CLASSES: dict[str, str] = {rule: cls for cls, rule in CLASS_RULES.items()}
MODEL_NOTE = "模型识别，建议人工复核"
DETECTOR = "model"
#: the rule-pack key that switches model findings off (``claim_model: false``)
PACK_OPTION = "claim_model"
#: sentences shorter than this (normalised characters) are not scored: a button, a price, a heading
MIN_CHARS = 8
#: the page kinds the model reads: listings. Shop and platform home pages are navigation,
#: qualifications and shop names, text unlike anything the model learned from (the lexicon still
#: reads them)
MODEL_KINDS = frozenset({"product"})
# a labelled item (生产企业：…, 【产品名称】…, 注册人名称 …) whose value holds no further clause
_LABEL = re.compile(r"^\s*(?:[【\[(（][^】\])）]{1,12}[】\])）]|[^，。！？；,!?;：:\s]{1,12}\s*[：:])")
_CLAUSE = re.compile(r"[，,；;]")
_PROSE = re.compile(r"[，,。！？；!?;]")
_NAV = re.compile(r"[·•|｜›»→←<>]|\s[-–—/]\s")  # separators of menus, breadcrumbs and page titles
_NAME_END = re.compile(r"(?:公司|集团|工厂|厂|旗舰店|专营店|专卖店|官方店|企业店|药房|药店|大药房|商城|生活馆)$")

_SENTENCE = re.compile(r"[^。！？!?；;\n]+[。！？!?；;]*")
_EDGE_PUNCT = "。，！？；：、,!?;: "


class ClaimScorer(Protocol):
    """A claim classifier as the analyzers use it (``mdwatch.models.claim_classifier.ClaimClassifier``)."""

    @property
    def classes(self) -> tuple[str, ...]: ...

    @property
    def thresholds(self) -> Mapping[str, float]: ...

    def probabilities(self, texts: Sequence[str]) -> list[list[float]]: ...


def model_text(sentence: str) -> str:
    """A sentence as the model reads it: the claim analyzer's own folding (full-width → ASCII,
    lower case, traditional → simplified, in-word spaces and symbols dropped), edges trimmed."""
    return fold_for_matching(sentence).strip(_EDGE_PUNCT)


def scorable(sentence: str, norm: str, prose_only: bool = False) -> bool:
    """Whether the model reads ``sentence`` (``norm``: its ``model_text``): long enough, not a
    labelled item of a listing (a spec row or a leaflet item says what the product is, not how good
    it is; a claim after a label, 本店承诺：…，…, has a clause of its own and is read), and not a
    run of short items (a menu, a breadcrumb, a spec row, a company or shop name).

    ``prose_only`` (page text): the sentence must be written as one — with a clause or sentence
    mark (，。！？；) and no navigation separators. Promotional images (OCR) are read without it:
    their slogans are short phrases set apart by spaces."""
    if len(norm) < MIN_CHARS:
        return False
    m = _LABEL.match(sentence)
    if m is not None and _CLAUSE.search(sentence, m.end()) is None:
        return False
    if _NAV.search(sentence) or _NAME_END.search(sentence.rstrip()):
        return False
    return not prose_only or _PROSE.search(sentence) is not None


def sentence_spans(text: str) -> Iterator[tuple[int, int]]:
    """``(start, end)`` of each sentence of ``text``: cut at 。！？；, their ASCII forms and line breaks
    (a text block is never glued to the next), the closing punctuation kept with its sentence."""
    for m in _SENTENCE.finditer(text):
        start, end = m.start(), m.end()
        while start < end and text[start].isspace():
            start += 1
        while end > start and text[end - 1].isspace():
            end -= 1
        if end > start:
            yield start, end


def model_sentences(text: str, *, prose_only: bool, title: str | None = None) -> Iterator[tuple[int, int, str]]:
    """``(start, end, model_text)`` of each sentence of ``text`` the model reads (``scorable``); a
    first sentence equal to the page ``title`` is skipped (a product, shop or site name). The one
    selection for scanning and for harvesting training sentences from labelled pages
    (``models.page_negatives``), so the two cannot drift apart."""
    for start, end in sentence_spans(text):
        sentence = text[start:end]
        if title and start == 0 and sentence == title.strip():
            continue
        norm = model_text(sentence)
        if scorable(sentence, norm, prose_only=prose_only):
            yield start, end, norm


# --- sentence level (evaluation, training, threshold choice) -------------------------------------


def lexicon_view(sentence: str) -> tuple[set[str], set[str]]:
    """``(found, off limits)``: the classes the lexicons find in ``sentence`` — the claim rules'
    terms, and for disease a claim the scope analyzer confirms about a medical term (a disease or
    symptom: what its CLAIM_NONDEVICE_MEDICAL reports; an effect alone, 美白 or 助眠, is not) — and
    those plus the classes whose terms the lexicon matched and ruled out (an exception, a
    negation): the model adds none of the second set."""
    from mdwatch.analyzers.claims import find_claims_and_vetoes
    from mdwatch.analyzers.scope import find_claims as find_indication_claims
    from mdwatch.analyzers.scope import vocabulary

    hits, vetoed = find_claims_and_vetoes(sentence)
    found = {RULE_CLASSES[hit.rule] for hit in hits}
    terms = vocabulary().terms
    if any(terms[c.canonical].medical for c in find_indication_claims(sentence)):
        found.add("disease")
    return found, found | {RULE_CLASSES[hit.rule] for hit in vetoed}


def lexicon_classes(sentence: str) -> set[str]:
    """The classes the lexicons find in ``sentence`` (``lexicon_view``'s first part)."""
    return lexicon_view(sentence)[0]


def model_classes(scorer: ClaimScorer, sentences: Sequence[str],
                  off_limits: Sequence[set[str]]) -> list[dict[str, float]]:
    """Per sentence: the classes the model adds (none the lexicon found or ruled out, probability at
    or above the class's threshold) with their probabilities."""
    texts = [model_text(s) for s in sentences]
    probs = scorer.probabilities(texts)
    out: list[dict[str, float]] = []
    for sentence, text, row, known in zip(sentences, texts, probs, off_limits, strict=True):
        added: dict[str, float] = {}
        if scorable(sentence, text):
            for cls, p in zip(scorer.classes, row, strict=True):
                if cls not in known and p >= scorer.thresholds[cls]:
                    added[cls] = p
        out.append(added)
    return out


def combined_classes(sentences: Sequence[str], scorer: ClaimScorer | None) -> list[tuple[set[str], set[str]]]:
    """``(lexicon classes, lexicon + model classes)`` of each sentence (model: None for the lexicon only)."""
    views = [lexicon_view(s) for s in sentences]
    if scorer is None:
        return [(found, set(found)) for found, _off in views]
    added = model_classes(scorer, sentences, [off for _found, off in views])
    return [(found, found | set(extra)) for (found, _off), extra in zip(views, added, strict=True)]


# --- page level (analyzers.claims) -----------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Source:
    """One text the claim analyzer reads, and where it came from (evidence fields)."""

    text: str
    source: EvidenceSource
    page_url: str | None
    image_url: str | None
    lexicon_spans: Mapping[str, tuple[tuple[int, int], ...]]  # rule → spans the lexicon matched or ruled out


@dataclass(frozen=True, slots=True)
class ModelHit:
    rule: str
    cls: str
    probability: float
    evidence: Evidence


def _flagged(spans: Mapping[str, tuple[tuple[int, int], ...]], rule: str, start: int, end: int) -> bool:
    return any(s < end and e > start for s, e in spans.get(rule, ()))


def _evidence(src: Source, start: int, end: int, cls: str, probability: float) -> Evidence:
    return Evidence(
        source=src.source,
        snippet=snippet(src.text, start, end),
        match=src.text[start:end],
        image_url=src.image_url,
        page_url=src.page_url,
        detail={"detector": DETECTOR, "class": cls, "probability": f"{probability:.3f}", "note": MODEL_NOTE},
    )


def model_hits(page: Page, ctx: Context, sources: Iterable[Source]) -> list[ModelHit]:
    """The claims the model adds on ``page``, one per (sentence, class), in reading order."""
    scorer = ctx.claim_model
    if scorer is None or page.kind not in MODEL_KINDS:
        return []
    wanted = {cls for cls, rule in CLASS_RULES.items() if ctx.enabled(rule)}
    if "disease" in wanted and not _nondevice_candidate(page, ctx):
        wanted.discard("disease")
    if not wanted:
        return []
    spans: list[tuple[Source, int, int, str]] = []
    for src in sources:
        title = page.title if src.source == "text" and src.page_url is None else None
        for start, end, text in model_sentences(src.text, prose_only=src.source == "text", title=title):
            spans.append((src, start, end, text))
    if not spans:
        return []
    probs = scorer.probabilities([t for *_, t in spans])
    out: list[ModelHit] = []
    for (src, start, end, _text), row in zip(spans, probs, strict=True):
        for cls, p in zip(scorer.classes, row, strict=True):
            if cls not in wanted or p < scorer.thresholds[cls]:
                continue
            rule = CLASS_RULES[cls]
            if cls != "disease" and _flagged(src.lexicon_spans, rule, start, end):
                continue  # the lexicon's evidence is already there, or the lexicon ruled the rule out
            out.append(ModelHit(rule, cls, p, _evidence(src, start, end, cls, p)))
    if any(h.cls == "disease" for h in out) and _lexicon_reports_nondevice(page):
        out = [h for h in out if h.cls != "disease"]  # analyzers.scope reports the rule from its lexicon
    return out


def _nondevice_candidate(page: Page, ctx: Context) -> bool:
    """The page is one CLAIM_NONDEVICE_MEDICAL judges (analyzers.scope's own conditions)."""
    from mdwatch.analyzers.domain import is_drug_listing
    from mdwatch.analyzers.scope import _shows_device_number

    return page.kind == "product" and not is_drug_listing(page) and not _shows_device_number(page, ctx)


def _lexicon_reports_nondevice(page: Page) -> bool:
    """analyzers.scope finds a medical claim on the page (it then reports CLAIM_NONDEVICE_MEDICAL)."""
    from mdwatch.analyzers.scope import _sources, find_claims, vocabulary

    terms = vocabulary().terms
    return any(terms[c.canonical].medical for text, _src, _url in _sources(page) for c in find_claims(text))


# --- rule packs -----------------------------------------------------------------------------------


def claim_model_wanted(packs: Sequence[str]) -> bool:
    """Whether model findings run for the rule packs ``packs`` (none named: yes). A pack switches
    them off with ``claim_model: false``; a pack inherits the setting of the packs it extends unless
    it sets its own; of several packs, one that wants them is enough (as for rules: the union)."""
    return not packs or any(pack_claim_model(name) for name in packs)


@cache
def pack_claim_model(name: str) -> bool:
    """The pack ``name``'s setting: its own ``claim_model``, else that of the packs it extends
    (all of them must want it), else on."""
    spec = _pack_spec(name)
    if PACK_OPTION in spec:
        return bool(spec[PACK_OPTION])
    parents = [str(p) for p in spec.get("extends") or ()]
    return all(pack_claim_model(p) for p in parents)


def _pack_spec(name: str) -> dict[str, Any]:
    from mdwatch.analyzers.packs import PACK_DIR, load_pack

    load_pack(name)  # an unknown or malformed pack is the packs module's error (PackError)
    spec = load_yaml(f"{PACK_DIR}/{name}.yaml") or {}
    return spec if isinstance(spec, dict) else {}
