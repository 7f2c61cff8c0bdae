"""Claim rules: absolute terms, efficacy/safety guarantees, endorsements, comparisons.

RULES.md "Claim rules" (CLAIM_ABSOLUTE, CLAIM_GUARANTEE, CLAIM_ENDORSEMENT, CLAIM_COMPARATIVE), on page
text and on the text read from listing images (``Page.image_texts``, evidence source ``ocr``);
the terms, exceptions, negation cues and patterns are data in ``lexicons/claims/``.

One Aho-Corasick automaton (built once) holds every normalised term, its generated pinyin and
homophone variants, the triggers of the regex patterns and the exception phrases. A page is
normalised once (``evasion.fold_for_matching``: full-width, case, traditional, in-word symbols),
scanned once, and only hits are mapped back to the original text for evidence.

Per hit: exceptions of the same rule whose span holds the hit's start cancel it; a term that
begins or ends with an ASCII letter or digit must not continue an ASCII word on the page
(``gen治`` yes, ``origen治`` no); overlapping hits keep the longest (one phrase, one category:
100%有效 is a guarantee, not also an absolute term); last, a negation cue just before a hit
cancels it (ABSOLUTE / COMPARATIVE, and a narrow set of denials for GUARANTEE).

With a claim classifier in ``ctx.claim_model``, sentences the lexicon did not flag get a second
reading (``analyzers.claim_model``): the model's claims join the finding of their rule as evidence
marked ``detector: model`` with the probability and 「模型识别，建议人工复核」; a finding made of model
evidence only says so in its message. The model's disease class becomes CLAIM_NONDEVICE_MEDICAL.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from functools import cache
from typing import Any, Literal

from mdwatch.analyzers.buildcache import cached_build
from mdwatch.analyzers.catalogue import finding, rules
from mdwatch.analyzers.claim_model import MODEL_NOTE, Source, model_hits
from mdwatch.analyzers.evasion import LineOffsetMap, fold_for_matching
from mdwatch.analyzers.model import Context, Evidence, EvidenceSource, Finding, Page, PageKind
from mdwatch.analyzers.normalize import snippet
from mdwatch.analyzers.voices import page_seller_text
from mdwatch.lexicons import load_yaml

RULES: tuple[str, ...] = ("CLAIM_ABSOLUTE", "CLAIM_GUARANTEE", "CLAIM_ENDORSEMENT", "CLAIM_COMPARATIVE")
KINDS: tuple[PageKind, ...] = ("platform", "shop", "product")

LEXICON_FILES: dict[str, str] = {
    "CLAIM_ABSOLUTE": "claims/absolute.yaml",
    "CLAIM_GUARANTEE": "claims/guarantee.yaml",
    "CLAIM_ENDORSEMENT": "claims/endorsement.yaml",
    "CLAIM_COMPARATIVE": "claims/comparative.yaml",
}
_BOUNDARY = frozenset("。，！？；：、,!?;:\n")
_AHEAD = 32  # regex window after a trigger
_MAX_CUE = 8  # longest negation cue considered (characters)

EntryKind = Literal["term", "pattern", "exception", "exception_pattern"]


@dataclass(frozen=True, slots=True)
class ClaimHit:
    """One claim found in a text; ``start``/``end``/``matched`` refer to the ORIGINAL text."""

    rule: str
    term: str
    start: int
    end: int
    matched: str


@dataclass(frozen=True, slots=True)
class _Entry:
    kind: EntryKind
    rule: str
    canonical: str
    regex: re.Pattern[str] | None = None
    term_from_match: bool = False
    back: int = 0  # 0: the regex starts at the trigger (anchored match); else chars of context before


@dataclass(frozen=True, slots=True)
class _Lexicon:
    automaton: Any  # ahocorasick.Automaton: key -> (key length, entries)
    negation: dict[str, tuple[str, ...]]
    negation_window: int
    mention_wording: tuple[str, ...] = ()  # common.yaml ``mention``: a quoted term beside these is named
    mention_notice: tuple[str, ...] = ()  # every term in a sentence with these is named


def _is_cjk(ch: str) -> bool:
    return "\u4e00" <= ch <= "\u9fff"


def _is_ascii_alnum(ch: str) -> bool:
    return ch.isascii() and ch.isalnum()


def variants(term: str, homophones: dict[str, list[str]], pinyin: bool) -> list[str]:
    """Deterministic evasion variants of ``term``: one character as toneless pinyin, the whole
    term as pinyin (all-CJK terms), one homophone substitution (terms of 3+ characters)."""
    out: list[str] = []
    cjk = [i for i, ch in enumerate(term) if _is_cjk(ch)]
    if pinyin and len(cjk) >= 2:
        from pypinyin import lazy_pinyin  # build time only

        syllables = lazy_pinyin(term)
        if len(syllables) == len(term) and all(s.isascii() and s.isalpha() for i, s in enumerate(syllables) if i in cjk):
            for i in cjk:
                out.append(term[:i] + syllables[i] + term[i + 1 :])
            if len(cjk) == len(term):
                out.append("".join(syllables))
    if len(term) >= 3:
        for i, ch in enumerate(term):
            for alt in homophones.get(ch, []):
                out.append(term[:i] + alt + term[i + 1 :])
    return out


@cache
def _lexicon() -> _Lexicon:
    """The claim automaton, built once per installation and lexicon version (``buildcache``;
    modules are named by top-level package: finding a submodule would import its package)."""
    return cached_build("claims", _build_lexicon, lexicons=[*LEXICON_FILES.values(), "claims/common.yaml"],
                        modules=(__name__, "mdwatch.analyzers.evasion", "mdwatch.analyzers.normalize",
                                 "pypinyin", "ahocorasick"))


def _build_lexicon() -> _Lexicon:
    import ahocorasick  # third-party, C extension

    common = load_yaml("claims/common.yaml")
    homophones: dict[str, list[str]] = {k: list(v) for k, v in common.get("homophones", {}).items()}
    table: dict[str, list[_Entry]] = {}

    def add(key: str, entry: _Entry) -> None:
        norm = fold_for_matching(key)
        if norm:
            bucket = table.setdefault(norm, [])
            if entry not in bucket:
                bucket.append(entry)

    for rule, path in LEXICON_FILES.items():
        data = load_yaml(path)
        pinyin = bool(data.get("pinyin_variants", False))
        for canonical, explicit in (data.get("terms") or {}).items():
            canonical = str(canonical)
            entry = _Entry("term", rule, canonical)
            for key in [canonical, *(str(v) for v in explicit or [])]:
                add(key, entry)
                for var in variants(key, homophones, pinyin):
                    add(var, entry)
                if "100%" in key:
                    for word in ("百分百", "百分之百"):
                        add(key.replace("100%", word), entry)
        for pat in data.get("patterns") or []:
            entry = _Entry(
                "pattern",
                rule,
                str(pat["term"]),
                re.compile(pat["regex"]),
                bool(pat.get("term_from_match")),
                int(pat.get("back", 0)),
            )
            for trig in pat["trigger"]:
                add(str(trig), entry)
        for phrase in data.get("exceptions") or []:
            add(str(phrase), _Entry("exception", rule, str(phrase)))
        for pat in data.get("exception_patterns") or []:
            entry = _Entry(
                "exception_pattern", rule, pat["regex"], re.compile(pat["regex"]), back=int(pat.get("back", 0))
            )
            for trig in pat["trigger"]:
                add(str(trig), entry)

    automaton = ahocorasick.Automaton()
    for key in sorted(table):
        automaton.add_word(key, (len(key), tuple(table[key])))
    automaton.make_automaton()
    negation = {rule: tuple(fold_for_matching(c) for c in cues) for rule, cues in common["negation"].items()}
    mention = common.get("mention") or {}
    return _Lexicon(automaton, negation, int(common.get("negation_window", 4)),
                    tuple(fold_for_matching(w) for w in mention.get("wording") or ()),
                    tuple(fold_for_matching(w) for w in mention.get("notice") or ()))


def _regex_spans(entry: _Entry, norm: str, start: int, end: int) -> list[tuple[int, int]]:
    """Spans of the entry's regex that contain the trigger occurrence ``[start, end)``."""
    regex = entry.regex
    if regex is None:
        return []
    if not entry.back:
        m = regex.match(norm, start, min(len(norm), end + _AHEAD))
        return [(start, m.end())] if m is not None and m.end() >= end else []
    lo = max(0, start - entry.back)
    hi = min(len(norm), end + _AHEAD)
    return [(m.start(), m.end()) for m in regex.finditer(norm, lo, hi) if m.start() <= start and m.end() >= end]


def _negated(norm: str, start: int, cues: tuple[str, ...], width: int) -> bool:
    lo = max(0, start - width - _MAX_CUE)
    window = norm[lo:start]
    for i in range(len(window) - 1, -1, -1):
        if window[i] in _BOUNDARY:
            window = window[i + 1 :]
            break
    if not window:
        return False
    for cue in cues:
        idx = window.rfind(cue)
        if idx >= 0 and len(window) - (idx + len(cue)) <= width:
            return True
    return False


_Hit = tuple[int, int, str, str]  # normalised start, end, rule, canonical term


def _scan(norm: str, cancelled: list[_Hit] | None = None) -> list[_Hit]:
    """Claims in normalised text as ``(start, end, rule, canonical)``, exceptions applied (the
    candidates an exception cancelled go to ``cancelled`` when given)."""
    lex = _lexicon()
    cands: list[_Hit] = []
    excs: list[tuple[int, int, str]] = []
    pending: list[tuple[_Entry, int, int]] = []  # exception patterns, run only if needed
    for last, (length, entries) in lex.automaton.iter(norm):
        start, end = last - length + 1, last + 1
        for entry in entries:
            kind = entry.kind
            if kind == "term":
                cands.append((start, end, entry.rule, entry.canonical))
            elif kind == "pattern":
                for s, e in _regex_spans(entry, norm, start, end):
                    canonical = norm[s:e] if entry.term_from_match else entry.canonical
                    cands.append((s, e, entry.rule, canonical))
            elif kind == "exception":
                excs.append((start, end, entry.rule))
            else:
                pending.append((entry, start, end))
    if not cands:
        return []
    rules = {h[2] for h in cands}
    for entry, start, end in pending:
        if entry.rule in rules:
            excs.extend((s, e, entry.rule) for s, e in _regex_spans(entry, norm, start, end))
    if not excs:
        return cands
    covered = {(rule, pos) for es, ee, rule in excs for pos in range(es, ee)}
    if cancelled is not None:
        cancelled.extend(h for h in cands if (h[2], h[0]) in covered)
    return [h for h in cands if (h[2], h[0]) not in covered]


def _negation_filter(norm: str, hits: list[_Hit], negated: list[_Hit] | None = None) -> list[_Hit]:
    """Drop hits right after a negation cue of their rule (after overlap resolution, so that
    不保证100%有效 leaves neither the guarantee nor the 100% inside it); the dropped ones go to
    ``negated`` when given."""
    lex = _lexicon()
    out: list[_Hit] = []
    for hit in hits:
        cues = lex.negation.get(hit[2])
        if cues and _negated(norm, hit[0], cues, lex.negation_window):
            if negated is not None:
                negated.append(hit)
            continue
        out.append(hit)
    return out


def _resolve(hits: list[_Hit]) -> list[_Hit]:
    """Keep the longest of overlapping hits (earliest first on ties)."""
    kept: list[_Hit] = []
    taken: set[int] = set()
    for hit in sorted(set(hits), key=lambda h: (-(h[1] - h[0]), h[0], h[2])):
        span = range(hit[0], hit[1])
        if taken.isdisjoint(span):
            kept.append(hit)
            taken.update(span)
    return sorted(kept)


def find_claims(text: str) -> list[ClaimHit]:
    """Every claim in ``text`` (page text or OCR text), in order, with original offsets."""
    return _find(text, None)


def find_claims_and_vetoes(text: str) -> tuple[list[ClaimHit], list[ClaimHit]]:
    """The claims in ``text``, and the terms the lexicon matched but then ruled out: cancelled by an
    exception (国家级高新技术企业) or negated (不保证有效). The claim classifier must not bring back
    what the lexicon deliberately ruled out (analyzers/claim_model.py)."""
    vetoed: list[ClaimHit] = []
    return _find(text, vetoed), vetoed


def _find(text: str, vetoed: list[ClaimHit] | None) -> list[ClaimHit]:
    norm = fold_for_matching(text)
    cancelled: list[_Hit] | None = [] if vetoed is not None else None
    raw = _scan(norm, cancelled)
    if not raw and not cancelled:
        return []
    omap = LineOffsetMap(text, norm)
    checked: list[_Hit] = []
    for s, e, rule, canonical in raw:
        os_, oe = omap.span(s, e)
        if _is_ascii_alnum(norm[s]) and os_ > 0 and _is_ascii_alnum(text[os_ - 1]):
            continue
        if _is_ascii_alnum(norm[e - 1]) and oe < len(text) and _is_ascii_alnum(text[oe]):
            continue
        checked.append((s, e, rule, canonical))
    negated: list[_Hit] | None = cancelled  # both kinds of ruled-out terms are vetoes
    out = [_hit(text, omap, h) for h in _negation_filter(norm, _resolve(checked), negated)]
    if vetoed is not None and negated:
        vetoed.extend(_hit(text, omap, h) for h in negated)
    named = [h for h in out if _mentioned(text, h)]
    if named:
        out = [h for h in out if h not in named]
        if vetoed is not None:
            vetoed.extend(named)  # the model must not bring a named word back as a claim
    return out


_SENTENCE_END = frozenset("。！？；!?;\n")
_CLAUSE_END = _SENTENCE_END | frozenset("，,")
_OPEN_QUOTES = "“\"「『‘'"
_CLOSE_QUOTES = "”\"」』’'"


def _around(text: str, start: int, end: int, stops: frozenset[str]) -> tuple[int, int]:
    """The span of ``text`` around ``[start, end)`` up to the nearest ``stops`` on either side."""
    while start > 0 and text[start - 1] not in stops:
        start -= 1
    while end < len(text) and text[end] not in stops:
        end += 1
    return start, end


def _mentioned(text: str, hit: ClaimHit) -> bool:
    """The hit names the word rather than claiming it: inside quotation marks in a sentence that
    speaks of wording, or anywhere in a sentence about the ad law's banned words (common.yaml)."""
    lex = _lexicon()
    start, end = _around(text, hit.start, hit.end, _SENTENCE_END)
    if any(cue in fold_for_matching(text[start:end]) for cue in lex.mention_notice):
        return True
    start, end = _around(text, hit.start, hit.end, _CLAUSE_END)  # the wording word in the same clause
    if not any(cue in fold_for_matching(text[start:end]) for cue in lex.mention_wording):
        return False
    before, after = text[start:hit.start], text[hit.end:end]
    opened = max(before.rfind(q) for q in _OPEN_QUOTES)
    closed = max(before.rfind(q) for q in _CLOSE_QUOTES if q not in _OPEN_QUOTES)
    if opened < 0 or opened < closed:
        return False  # not inside an open quotation
    return any(q in after for q in _CLOSE_QUOTES)


def _hit(text: str, omap: LineOffsetMap, hit: _Hit) -> ClaimHit:
    s, e, rule, canonical = hit
    os_, oe = omap.span(s, e)
    return ClaimHit(rule, canonical, os_, oe, text[os_:oe])


def sentence_rules(text: str) -> set[str]:
    """The claim rules that fire on ``text`` (for the evaluation runner)."""
    return {h.rule for h in find_claims(text)}


def analyze(page: Page, ctx: Context) -> list[Finding]:
    """One finding per claim rule, with every hit on the page and its related pages as evidence
    (the lexicon's first, then the claim classifier's, when ``ctx.claim_model`` is set)."""
    if not any(ctx.enabled(r) for r in RULES):
        return []
    evidence: dict[str, list[Evidence]] = {r: [] for r in RULES}
    read: list[Source] = []  # what the claim classifier reads after the lexicon
    # page text, related pages' text, then the text read from images (RULES.md "Claim rules":
    # claims inside listing images count; evidence source "ocr" with the image URL and the line read)
    # buyers' reviews and Q&A answers are not the seller's advertising (analyzers/voices.py)
    sources: list[tuple[str, str | None, EvidenceSource, str | None]] = [(page_seller_text(page), None, "text", None)]
    sources.extend((page_seller_text(rel), rel.url, "text", None) for rel in page.related)
    sources.extend((img.text, page.url, "ocr", img.image_url) for img in page.image_texts if img.text)
    for text, url, source, image_url in sources:
        hits, vetoed = find_claims_and_vetoes(text) if ctx.claim_model is not None else (find_claims(text), [])
        for hit in hits:
            evidence[hit.rule].append(
                Evidence(
                    source=source,
                    snippet=snippet(text, hit.start, hit.end),
                    match=hit.matched,
                    image_url=image_url,
                    page_url=url,
                    detail={"term": hit.term},
                )
            )
        if ctx.claim_model is not None:
            spans: dict[str, list[tuple[int, int]]] = {}  # matched or ruled out: the model keeps off
            for hit in (*hits, *vetoed):
                spans.setdefault(hit.rule, []).append((hit.start, hit.end))
            read.append(Source(text, source, url, image_url, {r: tuple(v) for r, v in spans.items()}))
    found = [finding(rule, evidence[rule]) for rule in RULES if evidence[rule] and ctx.enabled(rule)]
    return _with_model_findings(page, ctx, read, found) if read else found


def _with_model_findings(page: Page, ctx: Context, read: list[Source], found: list[Finding]) -> list[Finding]:
    """``found`` (the lexicon's findings) with the claim classifier's evidence added to the finding
    of its rule (one finding per rule), then the findings of rules only the classifier found."""
    added: dict[str, list[Evidence]] = {}
    for hit in model_hits(page, ctx, read):
        added.setdefault(hit.rule, []).append(hit.evidence)
    if not added:
        return found
    out = [replace(f, evidence=(*f.evidence, *added.pop(f.rule))) if f.rule in added else f for f in found]
    catalogue = rules()
    out.extend(finding(rule, ev, message=f"{catalogue[rule].message}（{MODEL_NOTE}）") for rule, ev in added.items())
    return out


def automaton_terms() -> list[str]:
    """Every key of the claim automaton (terms, variants, triggers, exceptions): for benchmarks."""
    return [str(k) for k in _lexicon().automaton]
