"""Claims beyond the registered 适用范围, and medical claims by non-devices.

CLAIM_SCOPE_EXCEEDED (GSP-NET 13 ¶2; PLATFORM-QMS 2.1.2, 2.2.1): the page claims a disease, symptom
or effect that the registration's 适用范围 does not cover, or claims treatment while the registered
scope only measures / diagnoses. Needs ``ctx.registry`` holding the page's registration.

CLAIM_NONDEVICE_MEDICAL (HAINAN (12)): a product page with no device registration / filing number
anywhere, not a drug listing, claims to treat, cure or diagnose a disease.

Claim finding: a fast pass (Aho-Corasick over the vocabulary of ``lexicons/indications.yaml``) picks
candidate clauses; jieba then segments only those clauses, and a claim is confirmed when a term and a
treatment verb (or an effect term on its own) sit on token boundaries, with no measuring verb between
them and no negation before. 「测量血压」 is not a claim; 「降血压」, 「治疗高血压」 are.
"""

from __future__ import annotations

import io
import logging
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any, Literal

import ahocorasick

from mdwatch.analyzers.buildcache import cached_build
from mdwatch.analyzers.catalogue import finding
from mdwatch.analyzers.domain import is_drug_listing
from mdwatch.analyzers.evasion import OffsetMap, fold_for_matching
from mdwatch.analyzers.jieba_loader import load_jieba
from mdwatch.analyzers.model import Context, Evidence, EvidenceSource, Finding, Page, Registration
from mdwatch.analyzers.normalize import fold, snippet
from mdwatch.analyzers.reference import find_device_numbers, has_device_number
from mdwatch.analyzers.regno import REGISTRATION_KINDS, page_numbers
from mdwatch.analyzers.voices import page_seller_text
from mdwatch.lexicons import load_yaml

jieba = load_jieba()

RULES = ("CLAIM_SCOPE_EXCEEDED", "CLAIM_NONDEVICE_MEDICAL")
KINDS = ("product",)

ClaimKind = Literal["treat", "cure", "diagnose", "effect"]
TermType = Literal["disease", "symptom", "effect", "body_part"]

_CLAUSE_BREAKS = frozenset("。！？!?；;，,\n")
_CLAUSE = re.compile(r"[^。！？!?；;，,\n]+")
_VERB_GAP = 16  # max characters between a verb and its term
_POST_GAP = 10  # max characters between a term and a post word (「失眠克星」「对关节炎有很好的疗效」)
_MAX_EVIDENCE = 10
_VERB_KINDS = ("treat", "cure", "diagnose", "measure")


@dataclass(frozen=True, slots=True)
class Term:
    canonical: str
    type: TermType
    forms: tuple[str, ...]  # synonyms: a scope naming one covers them all
    narrower: tuple[
        str, ...
    ]  # sub-types: matched as this term, each covered only by itself or the broader term
    cover: tuple[str, ...]  # scope words that cover a claim of this term
    medical: bool


@dataclass(frozen=True, slots=True)
class Claim:
    canonical: str
    kind: ClaimKind
    start: int  # span of the term in the analysed text
    end: int
    match: str  # verb + term as on the page (or the term alone for effects)
    form: str = ""  # the vocabulary word matched (folded)


@dataclass(frozen=True, slots=True)
class _Hit:
    start: int
    end: int
    word: str
    label: str  # canonical term, or verb kind


class _Vocabulary:
    def __init__(self, spec: dict[str, Any]) -> None:
        raw: dict[str, dict[str, Any]] = spec["terms"]
        forms: dict[str, tuple[str, ...]] = {
            name: tuple(dict.fromkeys([name, *(entry.get("forms") or [])])) for name, entry in raw.items()
        }
        related: dict[str, set[str]] = {name: set(entry.get("related") or []) for name, entry in raw.items()}
        for name, rel in list(related.items()):
            for other in rel:
                if other not in raw:
                    raise ValueError(f"indications.yaml: {name} relates to unknown term {other}")
                related[other].add(name)
        self.terms: dict[str, Term] = {}
        for name, entry in raw.items():
            kind: TermType = entry["type"]
            cover = [*forms[name], *(entry.get("covered_by") or [])]
            for other in sorted(related[name]):
                cover.extend(forms[other])
            medical = bool(entry.get("medical", kind in ("disease", "symptom")))
            narrower = tuple(w for w in entry.get("narrower") or [] if w not in forms[name])
            self.terms[name] = Term(name, kind, forms[name], narrower, tuple(dict.fromkeys(cover)), medical)
        verbs: dict[str, list[str]] = spec["verbs"]
        self.negation: tuple[str, ...] = tuple(verbs["negation"])
        self.after_verb_negation: tuple[str, ...] = tuple(verbs.get("after_verb_negation") or ())
        self.state_before_post: tuple[str, ...] = tuple(verbs.get("state_before_post") or ())
        self.not_before_post: tuple[str, ...] = tuple(verbs.get("not_before_post") or ())
        self.advice_tails: tuple[str, ...] = tuple(spec.get("advice_tails") or ())
        self.others_treat: tuple[str, ...] = tuple(spec.get("others_treat") or ())
        self.topic_tails: tuple[str, ...] = tuple(spec.get("topic_tails") or ())
        # words just before a verb that make it describe the condition or someone else's act
        # (未控制的高血压, 医院已经确诊为…), not what the product does
        self.not_the_product: dict[str, tuple[str, ...]] = {
            kind: tuple(words) for kind, words in (spec.get("not_the_product") or {}).items()
        }
        self.post: tuple[str, ...] = tuple(verbs["post"])
        self.measure: tuple[str, ...] = tuple(verbs["measure"])
        self.cure: tuple[str, ...] = tuple(verbs["cure"])
        self.scope_treat: tuple[str, ...] = tuple(spec["scope_treat_words"])
        self.scope_diagnose: tuple[str, ...] = tuple(spec["scope_diagnose_words"])
        self.exclude: tuple[str, ...] = tuple(spec.get("exclude_contexts") or [])
        self.caution: tuple[str, ...] = tuple(fold_for_matching(w) for w in spec.get("caution_contexts") or [])
        self.term_automaton = ahocorasick.Automaton()
        for name, term in self.terms.items():
            for form in (*term.forms, *term.narrower):
                self.term_automaton.add_word(fold_for_matching(form), (fold_for_matching(form), name))
        self.term_automaton.make_automaton()
        self.verb_automaton = ahocorasick.Automaton()
        for verb_kind in _VERB_KINDS:
            for verb in verbs[verb_kind]:
                self.verb_automaton.add_word(verb, (verb, verb_kind))
        self.verb_automaton.make_automaton()
        jieba.setLogLevel(logging.WARNING)  # jieba's own logger: no "Building prefix dict" chatter
        self.tokenizer = jieba.Tokenizer()
        # the prefix dictionary with our words in it, built once per installation and lexicon
        # version (buildcache: 0.04 s to read against 0.2 s to build, in every process)
        words = [fold_for_matching(form) for term in self.terms.values() for form in (*term.forms, *term.narrower)]
        words += [verb for kind in _VERB_KINDS for verb in verbs[kind] if len(verb) > 1]
        split = tuple(spec.get("split_words") or ())
        self.tokenizer.FREQ, self.tokenizer.total = cached_build(
            "jieba", lambda: _prefix_dict(words, split), lexicons=["indications.yaml"],
            modules=(__name__, "mdwatch.analyzers.evasion", "jieba"))
        self.tokenizer.initialized = True  # never initialize(): that would load jieba's whole dictionary
        for word in split:  # what del_word does beside the dictionary: jieba's HMM must not join them again
            jieba.finalseg.add_force_split(word)


# jieba's dictionary without its rarest entries (frequency below 10: 243,889 of 349,046, rare
# compounds, names and idioms). The segmentation here only decides whether a term or a verb stands
# on word boundaries inside a clause that holds both, and those are common words (ours are added
# below), while jieba's whole prefix dictionary costs ≈ 63 MB in every analysis process and 0.5 s
# to load; this one ≈ 24 MB and 0.2 s. The evaluation corpora (make eval: demo pages, labelled
# sentences, both halves of the format corpus) give the same findings at frequency 1, 5 and 10.
MIN_WORD_FREQUENCY = 10


def _prefix_dict(words: Iterable[str], split: Iterable[str]) -> tuple[dict[str, int], int]:
    """jieba's prefix dictionary of its words of at least MIN_WORD_FREQUENCY, with ``words`` added
    (our terms and verbs stand as words) and ``split`` removed (a modal and a verb jieba would keep
    together: 能治)."""
    path = Path(str(jieba.__file__)).parent / "dict.txt"
    with path.open("rb") as fh:
        kept = b"".join(line for line in fh if int(line.split()[1]) >= MIN_WORD_FREQUENCY)
    tokenizer = jieba.Tokenizer()
    tokenizer.FREQ, tokenizer.total = jieba.Tokenizer.gen_pfdict(io.BytesIO(kept))
    tokenizer.initialized = True  # never initialize(): that would load the whole dictionary
    for word in words:
        tokenizer.add_word(word)
    for word in split:
        tokenizer.del_word(word)
    return tokenizer.FREQ, tokenizer.total


@cache
def vocabulary() -> _Vocabulary:
    """The indications vocabulary, automata and tokenizer (built once per process)."""
    spec: dict[str, Any] = load_yaml("indications.yaml")
    return _Vocabulary(spec)


def _longest(hits: Iterable[_Hit]) -> list[_Hit]:
    """Non-overlapping hits, longer ones first, in text order."""
    chosen: list[_Hit] = []
    for hit in sorted(hits, key=lambda h: (-(h.end - h.start), h.start)):
        if all(hit.end <= c.start or hit.start >= c.end for c in chosen):
            chosen.append(hit)
    return sorted(chosen, key=lambda h: h.start)


def _scan(automaton: Any, text: str) -> Iterator[_Hit]:
    for end, (word, label) in automaton.iter(text):
        yield _Hit(end - len(word) + 1, end + 1, word, label)


def _clauses(text: str) -> Iterator[tuple[int, str]]:
    for m in _CLAUSE.finditer(text):
        yield m.start(), m.group(0)


def _boundaries(vocab: _Vocabulary, clause: str) -> set[int]:
    out = {0, len(clause)}
    for _word, start, end in vocab.tokenizer.tokenize(clause):
        out.add(start)
        out.add(end)
    return out


def find_claims(text: str) -> list[Claim]:
    """Treatment / diagnosis / effect claims in ``text`` (offsets into ``text``)."""
    vocab = vocabulary()
    folded = fold_for_matching(text)  # sees through 根 治, 根*治, traditional characters; offsets mapped back
    omap = OffsetMap.build(text) if len(folded) != len(text) else None
    out: list[Claim] = []
    # one pass over the whole text first: most pages name no indication term at all
    first = next(vocab.term_automaton.iter(folded), None)
    if first is None:
        return out
    begin = first[0] - len(first[1][0]) + 1  # back to the start of the first hit's clause
    while begin > 0 and folded[begin - 1] not in _CLAUSE_BREAKS:
        begin -= 1
    for offset, clause in _clauses(folded[begin:]):
        offset += begin
        terms = _longest(_scan(vocab.term_automaton, clause))
        if not terms:
            continue
        if any(c in clause for c in vocab.caution):
            continue  # a disease named among contraindications or cautions is no claim to treat it
        end = offset + len(clause)
        if (end < len(folded) and folded[end] in "？?") or clause.rstrip().endswith(("吗", "么", "嘛")):
            continue  # a question (a buyer's: 这个能降血压吗？) asserts nothing
        bounds = _boundaries(vocab, clause)
        verbs = [
            v
            for v in _longest(_scan(vocab.verb_automaton, clause))
            if v.start in bounds
            and v.end in bounds
            and all(v.end <= t.start or v.start >= t.end for t in terms)
        ]
        for term_hit in terms:
            term = vocab.terms[term_hit.label]
            if term.type == "body_part":
                continue
            if term_hit.start not in bounds or term_hit.end not in bounds:
                continue
            if any(_inside(clause, term_hit, ex) for ex in vocab.exclude):
                continue
            claim = _confirm(vocab, clause, term, term_hit, verbs)
            if claim is not None:
                kind, lo, hi = claim
                t_lo, t_hi = _orig(omap, offset + term_hit.start, offset + term_hit.end)
                m_lo, m_hi = _orig(omap, offset + lo, offset + hi)
                out.append(Claim(term.canonical, kind, t_lo, t_hi, text[m_lo:m_hi], term_hit.word))
    return out


def _orig(omap: OffsetMap | None, start: int, end: int) -> tuple[int, int]:
    return (start, end) if omap is None else omap.span(start, end)


def _inside(clause: str, hit: _Hit, phrase: str) -> bool:
    lo = max(0, hit.start - len(phrase))
    pos = clause.find(phrase, lo)
    while 0 <= pos <= hit.start:
        if pos + len(phrase) >= hit.end:
            return True
        pos = clause.find(phrase, pos + 1)
    return False


def _negated(vocab: _Vocabulary, before: str) -> bool:
    return any(n in before for n in vocab.negation)


def _confirm(
    vocab: _Vocabulary, clause: str, term: Term, hit: _Hit, verbs: list[_Hit]
) -> tuple[ClaimKind, int, int] | None:
    """(kind, span start, span end) of the claim around ``hit`` in ``clause``, or None."""
    before = [v for v in verbs if v.end <= hit.start and hit.start - v.end <= _VERB_GAP]
    nearest = before[-1] if before else None
    after = clause[hit.end :]
    if term.type == "effect":
        if nearest is not None and nearest.label == "measure" and hit.start - nearest.end <= 4:
            return None
        if hit.start == 0 and after.startswith((*vocab.topic_tails, *vocab.advice_tails)):
            return None  # the effect as the topic of a sentence (控糖是一件长期的事), not the product's
        if _negated(vocab, clause[: hit.start]):
            return None
        return "effect", hit.start, hit.end
    if nearest is not None and nearest.label in ("treat", "cure", "diagnose"):
        lead = clause[max(0, nearest.start - 6) : nearest.start]
        if any(lead.endswith(w) for w in vocab.not_the_product.get(nearest.label, ())):
            return None
        if clause[nearest.end :].startswith(vocab.after_verb_negation):
            return None  # 治不了失眠: a denial
        if nearest.start == 0 and after.startswith(vocab.advice_tails):
            return None  # 治风湿要看医生: the act as a topic, and the buyer sent to a doctor
        if not _negated(vocab, clause[: nearest.start]):
            kind: ClaimKind = (
                "diagnose" if nearest.label == "diagnose" else "cure" if nearest.label == "cure" else "treat"
            )
            return kind, nearest.start, hit.end
        return None
    if nearest is not None and nearest.label == "measure":
        return None
    tail = clause[hit.end : hit.end + _POST_GAP]
    if any(m in tail for m in vocab.measure):
        cut = min(tail.find(m) for m in vocab.measure if m in tail)
        tail = tail[:cut]
    post = next((p for p in vocab.post if p in tail), None)
    if post is None or _negated(vocab, clause[: hit.start]):
        return None
    between = tail[: tail.find(post)]
    if between.endswith(vocab.state_before_post):
        return None  # 腰痛持续不缓解: the condition's state
    if post == "好了" and between.endswith(vocab.not_before_post):
        return None  # 家人听好了: no recovery
    if any(w in between for w in vocab.others_treat):
        return None  # 关节炎要去医院规范治疗: someone else treats it
    said: ClaimKind = "cure" if post in vocab.cure else "treat"  # 颈椎病可根治: a cure, as 根治颈椎病 is
    return said, hit.start, hit.end + len(between) + len(post)


# --- registered scope ---------------------------------------------------------------------------


def scope_mode(scope: str) -> Literal["measure", "treat", "other"]:
    """Mode of a registered scope: measure (only measures / monitors / tests), treat, or other."""
    vocab = vocabulary()
    text = fold_for_matching(scope)
    if any(w in text for w in vocab.scope_treat):
        return "treat"
    if any(m in text for m in vocab.measure) or any(d in text for d in vocab.scope_diagnose):
        return "measure"
    return "other"


def covered(claim: Claim, scope: str) -> bool:
    """True when the registered 适用范围 ``scope`` covers ``claim``."""
    vocab = vocabulary()
    term = vocab.terms[claim.canonical]
    text = fold_for_matching(scope)
    names_it = any(fold_for_matching(w) in text for w in term.cover) or (
        claim.form in term.narrower and claim.form in text
    )
    if claim.kind == "diagnose":
        return names_it and any(d in text for d in vocab.scope_diagnose)
    if claim.kind == "cure" and not any(c in text for c in vocab.cure):
        return False
    if scope_mode(scope) == "measure":
        return False
    return names_it


def _registration(page: Page, ctx: Context) -> Registration | None:
    registry = ctx.registry
    if registry is None or not registry.loaded:
        return None
    raw = page.fields.get("registration_no", "")
    candidates = [*find_device_numbers(raw), *re.split(r"[,，、;；/\s]+", raw.strip())]
    candidates.extend(find_device_numbers(page.all_text()))
    by_key = {re.sub(r"\s+", "", fold(k)): v for k, v in registry.records.items()}
    for number in candidates:
        if not number:
            continue
        rec = registry.records.get(number) or by_key.get(re.sub(r"\s+", "", fold(number)))
        if rec is not None:
            return rec
    return None


def _shows_device_number(page: Page, ctx: Context) -> bool:
    """A registration or filing number, valid or not, in page text, fields or OCR text."""
    if any(n.kind in REGISTRATION_KINDS for n in page_numbers(page, ctx.now.year)):
        return True
    return any(has_device_number(i.text) for i in page.image_texts)


def _sources(page: Page) -> Iterator[tuple[str, EvidenceSource, str | None]]:
    yield page_seller_text(page), "text", None  # buyers' reviews, other listings: not this seller's claims
    for image in page.image_texts:
        yield image.text, "ocr", image.image_url


def _evidence(
    text: str, claim: Claim, source: EvidenceSource, image_url: str | None, page: Page, detail: dict[str, str]
) -> Evidence:
    return Evidence(
        source,
        snippet(text, claim.start, claim.end),
        match=claim.match,
        image_url=image_url,
        page_url=page.url,
        detail=detail,
    )


def analyze(page: Page, ctx: Context) -> list[Finding]:
    if page.kind != "product" or is_drug_listing(page):
        return []
    reg = _registration(page, ctx) if ctx.enabled("CLAIM_SCOPE_EXCEEDED") else None
    want_scope = reg is not None and bool(reg.scope.strip())
    # a page that shows a device number (valid or not) cannot be a "non-device" listing
    want_nondevice = ctx.enabled("CLAIM_NONDEVICE_MEDICAL") and not _shows_device_number(page, ctx)
    if not (want_scope or want_nondevice):
        return []
    found = [
        (text, source, url, claim) for text, source, url in _sources(page) for claim in find_claims(text)
    ]
    if not found:
        return []
    out: list[Finding] = []
    if want_scope:
        assert reg is not None
        evidence: list[Evidence] = []
        seen: set[str] = set()
        for text, source, url, claim in found:
            if claim.canonical in seen or covered(claim, reg.scope):
                continue
            seen.add(claim.canonical)
            detail = {
                "claimed": claim.canonical,
                "registered_scope": reg.scope,
                "registration_no": reg.number,
            }
            evidence.append(_evidence(text, claim, source, url, page, detail))
        if evidence:
            claimed = "、".join(e.detail["claimed"] for e in evidence)
            out.append(
                finding(
                    "CLAIM_SCOPE_EXCEEDED",
                    evidence[:_MAX_EVIDENCE],
                    message=f"宣称「{claimed}」超出注册证（{reg.number}）载明的适用范围：「{reg.scope}」。",
                )
            )
    if want_nondevice:
        vocab = vocabulary()
        evidence = []
        seen = set()
        for text, source, url, claim in found:
            if not vocab.terms[claim.canonical].medical or claim.canonical in seen:
                continue
            seen.add(claim.canonical)
            evidence.append(_evidence(text, claim, source, url, page, {"claimed": claim.canonical}))
        if evidence:
            claimed = "、".join(e.detail["claimed"] for e in evidence)
            out.append(
                finding(
                    "CLAIM_NONDEVICE_MEDICAL",
                    evidence[:_MAX_EVIDENCE],
                    message=f"页面未展示医疗器械注册证或备案编号，却宣称治疗、诊断疾病或医疗功效：{claimed}。",
                )
            )
    return out
