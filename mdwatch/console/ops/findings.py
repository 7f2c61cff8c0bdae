"""问题审核: the review queue, one finding with its evidence, confirm / dismiss, per-rule field
precision beside the corpus figures, and the decisions as labelled data (JSON Lines)."""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from mdwatch.console.auth import Principal, can
from mdwatch.console.core import corpus_precision
from mdwatch.console.errors import bad_request, forbidden, not_found
from mdwatch.storage.reviews import (
    DECISION_ZH,
    DECISIONS,
    REVIEW_STATUSES,
    FindingReview,
    ReviewError,
    ReviewFilter,
    ReviewItem,
)

if TYPE_CHECKING:
    from mdwatch.console.core import Console
    from mdwatch.storage.evidence import EvidenceFile

__all__ = [
    "EvidenceView",
    "FindingView",
    "PrecisionRow",
    "decide",
    "feedback_jsonl",
    "finding_json",
    "finding_view",
    "highlight",
    "make_filter",
    "precision_rows",
    "queue",
]

SEVERITY_LEVELS = ("critical", "high", "medium", "low", "info")
STATUS_ZH = {"unreviewed": "待审核", **DECISION_ZH}


def make_filter(rule: str | None = None, severity: str | None = None, platform: str | None = None,
                shop_id: int | None = None, status: str | None = None, run_id: int | None = None) -> ReviewFilter:
    """A queue filter from query parameters; an unknown severity or status is a 400."""
    if severity and severity not in SEVERITY_LEVELS:
        raise bad_request(f"未知的级别：{severity}。")
    if status and status not in REVIEW_STATUSES:
        raise bad_request(f"审核状态只能是 {'、'.join(REVIEW_STATUSES)}。")
    return ReviewFilter(rule=rule or None, severity=severity or None, platform=(platform or "").strip() or None,
                        shop_id=shop_id, status=status or None, run_id=run_id)


def queue(console: Console, flt: ReviewFilter, page: int = 1,
          size: int | None = None) -> tuple[list[ReviewItem], int]:
    size = size or console.settings.page_size
    page = max(1, page)
    return console.reviews.queue(flt, limit=size, offset=(page - 1) * size), console.reviews.count(flt)


def highlight(snippet: str, match: str) -> list[tuple[str, bool]]:
    """``snippet`` cut into (text, is the match) pieces, for ``<mark>`` in an autoescaped template."""
    if not match or match not in snippet:
        return [(snippet, False)]
    pieces: list[tuple[str, bool]] = []
    rest = snippet
    while match in rest:
        before, _, rest = rest.partition(match)
        if before:
            pieces.append((before, False))
        pieces.append((match, True))
    if rest:
        pieces.append((rest, False))
    return pieces


@dataclass(frozen=True, slots=True)
class EvidenceView:
    source: str
    pieces: list[tuple[str, bool]]
    match: str
    image_url: str | None
    page_url: str | None
    ocr: list[tuple[str, str]] = field(default_factory=list)  # (engine, text) read in the image


@dataclass(frozen=True, slots=True)
class FindingView:
    item: ReviewItem
    title: str
    evidence: list[EvidenceView]
    screenshots: list[EvidenceFile]
    files: list[EvidenceFile]


def finding_view(console: Console, finding_id: int) -> FindingView:
    from mdwatch.analyzers.catalogue import rules

    item = console.reviews.item(finding_id)
    if item is None:
        raise not_found(f"没有编号为 {finding_id} 的问题。")
    images = [str(e.get("image_url")) for e in item.evidence if e.get("image_url")]
    ocr = console.reviews.ocr_texts(images)
    evidence = [EvidenceView(str(e.get("source") or "text"), highlight(str(e.get("snippet") or ""), str(e.get("match") or "")),
                             str(e.get("match") or ""), e.get("image_url"), e.get("page_url"),
                             ocr.get(str(e.get("image_url") or ""), []))
                for e in item.evidence]
    files = console.evidence.files_for_finding(finding_id)
    rule = rules().get(item.rule)
    return FindingView(item, rule.title if rule else item.rule, evidence, [f for f in files if f.kind == "screenshot"],
                       files)


def decide(console: Console, who: Principal, finding_id: int, decision: str, reason: str) -> FindingReview:
    """Confirm or dismiss a finding (reviewers and admins), audited."""
    if not can(who.user, "review"):
        raise forbidden(f"{who.user.role_zh}无权审核问题。")
    if decision not in DECISIONS:
        raise bad_request(f"审核结论只能是 {'、'.join(DECISIONS)}（确认违规 / 误报驳回）。")
    try:
        review = console.reviews.decide(finding_id, decision, reason, who.user.name, at=console.now())
    except ReviewError as exc:
        message = str(exc)
        raise (not_found(message) if message.startswith("没有编号") else bad_request(message)) from exc
    console.audit(who.user, who.address, f"review.{'confirm' if decision == 'confirmed' else 'dismiss'}", "finding",
                  finding_id, {"rule": review.rule, "reason": review.reason})
    return review


@dataclass(frozen=True, slots=True)
class PrecisionRow:
    rule: str
    title: str
    confirmed: int
    dismissed: int
    field_precision: float | None
    corpus_precision: float | None
    corpus_tp: int | None
    corpus_fp: int | None


def precision_rows(console: Console, only: Sequence[str] | None = None) -> list[PrecisionRow]:
    """Per rule: field precision from reviews, beside the corpus precision shipped with the console."""
    from mdwatch.analyzers.catalogue import rules

    field_figures = console.reviews.precision()
    corpus: dict[str, Any] = corpus_precision().get("rules", {})
    names = list(only) if only is not None else sorted(set(field_figures) | set(corpus))
    catalogue = rules()
    out = []
    for rule in names:
        f = field_figures.get(rule)
        c = corpus.get(rule) or {}
        out.append(PrecisionRow(rule, catalogue[rule].title if rule in catalogue else rule,
                                f.confirmed if f else 0, f.dismissed if f else 0, f.precision if f else None,
                                c.get("precision"), c.get("tp"), c.get("fp")))
    return out


def finding_json(item: ReviewItem) -> dict[str, Any]:
    from urllib.parse import urlsplit

    review = item.review
    return {
        "id": item.finding_id, "run_id": item.run_id, "rule": item.rule, "severity": item.severity,
        "article": item.article, "message": item.message, "evidence": item.evidence,
        "page": {"id": item.page_id, "url": item.page_url, "kind": item.page_kind, "title": item.page_title},
        "platform": urlsplit(item.page_url).netloc,
        "shop": None if item.shop_id is None else {"id": item.shop_id, "url": item.shop_url, "name": item.shop_name},
        "capture_sha256": item.capture_sha256, "fetched_at": item.fetched_at.isoformat(),
        "created_at": item.created_at.isoformat(), "status": item.status,
        "review": None if review is None else review.as_json(),
    }


def feedback_jsonl(console: Console, decision: str | None = "dismissed") -> Iterator[str]:
    """Decisions as JSON Lines: finding id, rule, decision, reason, reviewer, decided_at, the
    evidence snippet text and message (what ``mdwatch model export-feedback`` reads)."""
    if decision is not None and decision not in DECISIONS:
        raise bad_request(f"审核结论只能是 {'、'.join(DECISIONS)}。")
    for review in console.reviews.feedback(decision):
        yield json.dumps(review.as_json(), ensure_ascii=False) + "\n"
