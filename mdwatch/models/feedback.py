"""Reviewers' decisions as labelled sentences for the claim classifier (``mdwatch model export-feedback``).

A finding of a claim rule confirmed or dismissed in the console's review (``storage.reviews``)
becomes, per evidence item, one sentence in the schema of ``data/claims/*.jsonl`` (``id, text,
labels, hard_negative, context, product, source``): the sentence the evidence matched in, labelled
with the rule's class when the finding was confirmed, ``[]`` with ``hard_negative: true`` when it
was dismissed. ``source`` is ``review:<finding id>:<reviewer>``. ``mdwatch model train --extra FILE``
trains on such files; they never enter the held-out split.

Limits of the schema: a decision is about one rule, the schema's labels about every class. A
confirmed sentence is labelled with that class only, a dismissed one with none, so a sentence that
also holds a claim of another class teaches the model a wrong negative for it. CLAIM_SCOPE_EXCEEDED
has no class of its own (the model's ``disease`` class says only *that* an effect is claimed, and a
dismissed scope finding may be a claim within the registered scope), so its decisions are skipped.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from mdwatch.analyzers.claim_model import RULE_CLASSES, model_text, sentence_spans

if TYPE_CHECKING:
    from mdwatch.storage.reviews import ReviewStore

__all__ = ["ExportStats", "evidence_sentence", "feedback_rows"]

_CONTEXT = {"text": "listing", "ocr": "detail-image text"}
_ELLIPSIS = "…"


@dataclass
class ExportStats:
    reviews: int = 0  # claim-rule decisions read
    sentences: int = 0
    skipped_rules: dict[str, int] = field(default_factory=dict)  # CLAIM_* rules without a class


def evidence_sentence(evidence: Mapping[str, Any]) -> str:
    """The sentence an evidence item matched in: the model's evidence is a sentence already; a
    lexicon term is looked up in its snippet (context on one line, ``…`` where it was cut) and the
    snippet cut into sentences as the analyzer cuts page text."""
    match = str(evidence.get("match") or "").strip()
    detail = evidence.get("detail") or {}
    if isinstance(detail, Mapping) and detail.get("detector") == "model":
        return match
    text = str(evidence.get("snippet") or "")
    text = text[1:] if text.startswith(_ELLIPSIS) else text
    text = text[:-1] if text.endswith(_ELLIPSIS) else text
    at = text.find(match) if match else -1
    if at < 0:
        return match or text.strip()
    for start, end in sentence_spans(text):
        if start <= at < end:
            return text[start:max(end, at + len(match))].strip()
    return match


def feedback_rows(store: ReviewStore, since: datetime | None = None,
                  stats: ExportStats | None = None) -> Iterator[dict[str, Any]]:
    """The labelled sentences of every claim-rule decision (decided at or after ``since``), oldest
    decision first; one row per distinct sentence of a finding's evidence."""
    stats = stats if stats is not None else ExportStats()
    for review in store.feedback():
        if not review.rule.startswith("CLAIM_") or (since is not None and review.decided_at < since):
            continue
        stats.reviews += 1
        cls = RULE_CLASSES.get(review.rule)
        if cls is None:
            stats.skipped_rules[review.rule] = stats.skipped_rules.get(review.rule, 0) + 1
            continue
        item = store.item(review.finding_id)
        evidence: list[Mapping[str, Any]] = list(item.evidence) if item is not None else [
            {"snippet": line} for line in review.snippet.splitlines() if line.strip()]
        seen: set[str] = set()
        for ev in evidence:
            text = evidence_sentence(ev)
            norm = model_text(text)
            if not norm or norm in seen:
                continue
            seen.add(norm)
            confirmed = review.decision == "confirmed"
            stats.sentences += 1
            yield {
                "id": f"review-{review.finding_id}-{len(seen)}",
                "text": text,
                "labels": [cls] if confirmed else [],
                "hard_negative": not confirmed,
                "context": _CONTEXT.get(str(ev.get("source") or "text"), "listing"),
                "product": (item.page_title or "") if item is not None else "",
                "source": f"review:{review.finding_id}:{review.reviewer}",
            }
