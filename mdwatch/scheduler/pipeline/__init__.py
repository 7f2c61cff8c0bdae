"""Capture → Page → findings, and the conversions to JSON and storage records."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Protocol

from mdwatch.analyzers.extract import ExtractError, extract_page, with_related
from mdwatch.analyzers.model import Context, Finding, ImageText, Page, PageKind
from mdwatch.analyzers.numbers import NumberMatch
from mdwatch.analyzers.packs import EVERY_RULE, RuleSelection
from mdwatch.analyzers.registry import analyze
from mdwatch.analyzers.regno import page_numbers
from mdwatch.crawler.capture import Capture, FetchResult
from mdwatch.scheduler.pipeline.ocr import ImageOutcome, ImageSkip
from mdwatch.scheduler.pipeline.registry import RegistrySource
from mdwatch.storage.records import CaptureRecord, FindingRecord, PageRecord

REGISTRATION_KINDS = frozenset({"registration", "registration_legacy", "filing"})
LICENSE_KINDS = frozenset(
    {"business_license", "business_filing", "production_license", "production_filing", "seller_net_filing"}
)


@dataclass(frozen=True, slots=True)
class ScanOutcome:
    """What one scanned URL produced: a page with findings, or an error sentence."""

    url: str
    capture: Capture | None = None
    related: tuple[Capture, ...] = ()
    page: Page | None = None
    findings: tuple[Finding, ...] = ()
    extracted: dict[str, object] = field(default_factory=dict)
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.error is None


def make_context(now: datetime | None = None, enabled_rules: frozenset[str] | None = None) -> Context:
    return Context(now=now or datetime.now(UTC), enabled_rules=enabled_rules)


def few_pages_context(now: datetime | None = None) -> Context:
    """The context of a scan of a few pages: the claim model scored without numpy
    (``models.light_scorer``: importing numpy and inflating the model would cost a one-page scan
    more than its scoring). Sweeps keep ``make_context`` and the vectorised model, which is also
    what a scan falls back to when the light scorer cannot read the model file."""
    from mdwatch.models.light_scorer import load_light_claim_model

    return dataclasses.replace(make_context(now), claim_model=load_light_claim_model())


def page_from_capture(capture: Capture, kind: PageKind | None = None) -> Page:
    return extract_page(
        capture.final_url, capture.body, headers=capture.headers, encoding=capture.encoding, kind=kind
    )


def build_page(result: FetchResult, kind: PageKind | None = None) -> Page:
    """The Page for a fetch result; a shop is judged together with its qualification pages."""
    assert result.capture is not None
    page = page_from_capture(result.capture, kind)
    if page.kind != "shop" or not result.related:
        return page
    related: list[Page] = []
    for cap in result.related:
        try:
            related.append(page_from_capture(cap, "shop"))
        except ExtractError:
            continue
    return with_related(page, related)


def _numbers_json(numbers: Sequence[NumberMatch], kinds: frozenset[str]) -> list[str]:
    seen: dict[str, None] = {}
    for n in numbers:
        if n.kind in kinds:
            seen.setdefault(n.normalized, None)
    return list(seen)


def extracted_json(page: Page, ctx: Context) -> dict[str, object]:
    numbers = page_numbers(page, ctx.now.year)
    return {
        "registration_numbers": _numbers_json(numbers, REGISTRATION_KINDS),
        "license_numbers": _numbers_json(numbers, LICENSE_KINDS),
        "platform_filing_numbers": _numbers_json(numbers, frozenset({"platform_filing"})),
        "invalid_numbers": [n.raw for n in numbers if not n.valid],
        "title": page.title,
        "price": page.price,
        "fields": dict(page.fields),
        "encoding": page.encoding,
        "images": len(page.all_images()),
        "related_pages": [p.url for p in page.related],
    }


def _shown_url(url: str) -> str:
    return url if url[:5].lower() != "data:" else url[:40] + "…"


def with_image_texts(
    page: Page, result: FetchResult, ocr: Mapping[str, ImageOutcome]
) -> tuple[Page, list[dict[str, str]]]:
    """``page`` with the text read from its images (and its related pages'), and the skipped images.

    All image texts go on the page itself: the analyzers judge a shop together with its
    qualification pages through ``page.image_texts``.
    """
    texts: list[ImageText] = []
    skipped: list[dict[str, str]] = []
    for image in result.images:
        outcome = ocr.get(image.url)
        if isinstance(outcome, ImageText):
            if outcome.text.strip() and outcome not in texts:
                texts.append(outcome)
        elif isinstance(outcome, ImageSkip):
            skipped.append({"url": _shown_url(image.url), "reason": outcome.reason, "code": outcome.code})
    return dataclasses.replace(page, image_texts=(*page.image_texts, *texts)), skipped


def _with_claim_model(ctx: Context, selection: RuleSelection) -> Context:
    """``ctx`` with the claim classifier, loaded on first use (once per process: a scan's start
    never pays for it), unless the rule packs switch model findings off."""
    from mdwatch.analyzers.claim_model import claim_model_wanted
    from mdwatch.models.claim_classifier import load_claim_model

    if not claim_model_wanted(selection.packs):
        return ctx if ctx.claim_model is None else dataclasses.replace(ctx, claim_model=None)
    if ctx.claim_model is not None:  # the caller's scorer (few_pages_context)
        return ctx
    model = load_claim_model()
    return ctx if model is None else dataclasses.replace(ctx, claim_model=model)


class HistoryStage(Protocol):
    """Adds a listing's earlier captures to the context (the sweep's history store)."""

    def context_for(self, page: Page, ctx: Context, result: FetchResult) -> Context: ...


def analyze_result(
    result: FetchResult,
    ctx: Context,
    kind: PageKind | None = None,
    registry: RegistrySource | None = None,
    ocr: Mapping[str, ImageOutcome] | None = None,
    *,
    selection: RuleSelection = EVERY_RULE,
    history: HistoryStage | None = None,
) -> ScanOutcome:
    """Page, findings and extracted JSON of one fetch result: the stages every entry point runs
    (extract → images' text → registry → history → analyzers with the rule selection).

    ``ocr`` fills ``Page.image_texts``; ``selection`` (rule packs) decides which rules run and
    their severities; ``history`` (sweeps) gives the history rules the listing's earlier captures.
    """
    if selection.enabled is not None:
        ctx = dataclasses.replace(ctx, enabled_rules=selection.enabled)
    if ctx.claim_model is None:
        ctx = _with_claim_model(ctx, selection)
    if result.capture is None:
        message = result.error.message if result.error else f"无法获取 {result.url}。"
        return ScanOutcome(url=result.url, error=message)
    try:
        page = build_page(result, kind)
    except ExtractError as exc:
        return ScanOutcome(url=result.url, capture=result.capture, error=f"{result.url}：{exc}")
    skipped: list[dict[str, str]] | None = None
    if ocr is not None:
        page, skipped = with_image_texts(page, result, ocr)
    if registry is not None:
        ctx = registry.context_for(page, ctx)
    if history is not None:
        ctx = history.context_for(page, ctx, result)
    findings = selection.apply(analyze(page, ctx))
    extracted = extracted_json(page, ctx)
    if skipped is not None:
        extracted["images_read"] = len(page.image_texts)
        extracted["images_skipped"] = skipped
    return ScanOutcome(
        url=result.url,
        capture=result.capture,
        related=result.related,
        page=page,
        findings=tuple(findings),
        extracted=extracted,
    )


#: a page that wakes every analyzer: a product page with a number, a claim, a warning and a shop
_WAKE_PAGE = ("<html><head><title>电子血压计</title></head><body><h1>电子血压计</h1>"
              "<p>注册证编号：苏械注准20172070123</p><p>最好的血压计，三天见效。</p>"
              "<p>请仔细阅读产品说明书或者在医务人员的指导下购买和使用。</p>"
              "<p>店铺：康瑞医疗器械旗舰店 营业执照 医疗器械经营许可证</p></body></html>").encode()


def ready_analyzers(ctx: Context) -> None:
    """Build what the analyzers build once per process (automata, word lists, patterns, the claim
    model ``ctx`` leads to) by analysing a small page, before the first real one arrives."""
    capture = Capture.build(url="http://mdwatch.invalid/p.html", final_url="http://mdwatch.invalid/p.html",
                            status=200, headers={"content-type": "text/html; charset=utf-8"}, body=_WAKE_PAGE)
    analyze_result(FetchResult(capture.url, capture, None), ctx, "product")


def outcome_json(outcome: ScanOutcome) -> dict[str, object]:
    """The JSON contract of ``mdwatch scan URL --json`` (shared/DESIGN.md)."""
    assert outcome.capture is not None and outcome.page is not None
    return {
        "url": outcome.url,
        "final_url": outcome.capture.final_url,
        "kind": outcome.page.kind,
        "fetched_at": outcome.capture.fetched_at.isoformat(),
        "capture_sha256": outcome.capture.sha256,
        "extracted": outcome.extracted,
        "findings": [f.to_json() for f in outcome.findings],
    }


def capture_record(c: Capture) -> CaptureRecord:
    return CaptureRecord(
        url=c.url,
        final_url=c.final_url,
        status=c.status,
        headers=dict(c.headers),
        body=c.body,
        sha256=c.sha256,
        fetched_at=c.fetched_at,
        method=c.method,
        encoding=c.encoding,
    )


def page_record(outcome: ScanOutcome) -> PageRecord:
    assert outcome.capture is not None and outcome.page is not None
    return PageRecord(
        capture=capture_record(outcome.capture),
        url=outcome.url,
        kind=outcome.page.kind,
        title=outcome.page.title,
        extracted=outcome.extracted,
        findings=[
            FindingRecord(
                rule=f.rule,
                severity=f.severity,
                article=f.article,
                message=f.message,
                evidence=[e.to_json() for e in f.evidence],
            )
            for f in outcome.findings
        ],
        related_captures=[capture_record(c) for c in outcome.related],
    )
