"""Finding review (问题审核): table ``finding_reviews`` and the review queue's queries.

A reviewer confirms a finding (the rule was right) or dismisses it (a false positive), with a
reason. One row per finding holds the current decision; a later decision replaces it (the audit
log keeps every one). Each row carries what a model needs to learn from it without joins:
finding id, rule, decision (``confirmed`` | ``dismissed``), reason, reviewer, decided_at, and the
finding's evidence snippet text and message as they were when decided — the labelled data that
``mdwatch model export-feedback`` reads (:meth:`ReviewStore.feedback`).

The field precision of a rule is confirmed / (confirmed + dismissed) of its reviewed findings
(:meth:`ReviewStore.precision`).

Imports nothing else of ours beyond this package. All datetimes are time-zone aware (UTC).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Engine, ForeignKey, Select, String, Table, Text, func, or_, select
from sqlalchemy.orm import Mapped, mapped_column, sessionmaker

from .images import ImageRow, OcrRow
from .schema import Base, Capture, FindingRow, IdType, PageRow, Shop, UTCDateTime
from .store import EngineStore

__all__ = [
    "DECISIONS",
    "DECISION_ZH",
    "REVIEW_STATUSES",
    "FindingReview",
    "ReviewError",
    "ReviewFilter",
    "ReviewItem",
    "ReviewRow",
    "ReviewStore",
    "RulePrecision",
    "evidence_text",
]

DECISIONS = ("confirmed", "dismissed")
DECISION_ZH = {"confirmed": "确认违规", "dismissed": "误报驳回"}
REVIEW_STATUSES = ("unreviewed", *DECISIONS)
_REASON_MAX = 2000


class ReviewError(Exception):
    """A review that cannot be recorded; the message is one Chinese sentence."""


class ReviewRow(Base):
    __tablename__ = "finding_reviews"

    id: Mapped[int] = mapped_column(IdType, primary_key=True, autoincrement=True)
    finding_id: Mapped[int] = mapped_column(IdType, ForeignKey("findings.id"), unique=True)
    rule: Mapped[str] = mapped_column(String(64), index=True)
    decision: Mapped[str] = mapped_column(String(16), index=True)
    reason: Mapped[str] = mapped_column(Text)
    reviewer: Mapped[str] = mapped_column(String(100))
    decided_at: Mapped[datetime] = mapped_column(UTCDateTime())
    snippet: Mapped[str] = mapped_column(Text)  # the finding's evidence text when decided
    message: Mapped[str] = mapped_column(Text)


@dataclass(frozen=True, slots=True)
class FindingReview:
    finding_id: int
    rule: str
    decision: str
    reason: str
    reviewer: str
    decided_at: datetime
    snippet: str
    message: str

    def as_json(self) -> dict[str, Any]:
        return {"finding_id": self.finding_id, "rule": self.rule, "decision": self.decision, "reason": self.reason,
                "reviewer": self.reviewer, "decided_at": self.decided_at.isoformat(), "snippet": self.snippet,
                "message": self.message}


@dataclass(frozen=True, slots=True)
class RulePrecision:
    rule: str
    confirmed: int
    dismissed: int

    @property
    def reviewed(self) -> int:
        return self.confirmed + self.dismissed

    @property
    def precision(self) -> float | None:
        return self.confirmed / self.reviewed if self.reviewed else None


@dataclass(frozen=True, slots=True)
class ReviewFilter:
    rule: str | None = None
    severity: str | None = None
    platform: str | None = None  # host[:port] of the page URL
    shop_id: int | None = None
    status: str | None = None  # unreviewed | confirmed | dismissed
    run_id: int | None = None


@dataclass(frozen=True, slots=True)
class ReviewItem:
    """A stored finding with its page, shop, capture and current review."""

    finding_id: int
    run_id: int
    page_id: int
    page_url: str
    page_kind: str
    page_title: str | None
    shop_id: int | None
    shop_url: str | None
    shop_name: str | None
    rule: str
    severity: str
    article: str
    message: str
    evidence: list[dict[str, Any]]
    created_at: datetime
    capture_sha256: str
    fetched_at: datetime
    review: FindingReview | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def status(self) -> str:
        return "unreviewed" if self.review is None else self.review.decision


def evidence_text(evidence: Sequence[dict[str, Any]]) -> str:
    """The text of a finding's evidence snippets, one per line (what a reviewer judged)."""
    return "\n".join(str(e.get("snippet") or "") for e in evidence if e.get("snippet"))


def _review(row: ReviewRow) -> FindingReview:
    return FindingReview(row.finding_id, row.rule, row.decision, row.reason, row.reviewer, row.decided_at,
                         row.snippet, row.message)


def _like_escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


class ReviewStore(EngineStore):
    """Review decisions and the review queue on SQLite or PostgreSQL."""

    def __init__(self, engine_or_url: Engine | str | None = None) -> None:
        self._open_engine(engine_or_url)
        self._sessions = sessionmaker(self.engine, expire_on_commit=False)
        table = ReviewRow.__table__
        assert isinstance(table, Table)
        Base.metadata.create_all(self.engine, tables=[table])  # normally there already (migration v0005)

    # ---------------------------------------------------------------- deciding

    def decide(self, finding_id: int, decision: str, reason: str, reviewer: str,
               at: datetime | None = None) -> FindingReview:
        """Confirm or dismiss a finding (replacing an earlier decision); the reason is required."""
        if decision not in DECISIONS:
            raise ReviewError(f"审核结论只能是 {'、'.join(DECISIONS)}，不是 {decision}。")
        reason = reason.strip()
        if not reason:
            raise ReviewError("请填写审核理由。")
        if len(reason) > _REASON_MAX:
            raise ReviewError(f"审核理由不超过 {_REASON_MAX} 个字符。")
        when = datetime.now(UTC) if at is None else at.astimezone(UTC)
        with self._sessions.begin() as session:
            finding = session.get(FindingRow, finding_id)
            if finding is None:
                raise ReviewError(f"没有编号为 {finding_id} 的问题。")
            row = session.scalar(select(ReviewRow).where(ReviewRow.finding_id == finding_id))
            snippet = evidence_text(finding.evidence or [])
            if row is None:
                row = ReviewRow(finding_id=finding_id, rule=finding.rule, decision=decision, reason=reason,
                                reviewer=reviewer[:100], decided_at=when, snippet=snippet, message=finding.message)
                session.add(row)
            else:
                row.decision, row.reason, row.reviewer, row.decided_at = decision, reason, reviewer[:100], when
                row.snippet, row.message = snippet, finding.message
            session.flush()
            return _review(row)

    def review(self, finding_id: int) -> FindingReview | None:
        with self._sessions() as session:
            row = session.scalar(select(ReviewRow).where(ReviewRow.finding_id == finding_id))
            return None if row is None else _review(row)

    def precision(self) -> dict[str, RulePrecision]:
        """Per rule: how many of its findings were confirmed and dismissed."""
        stmt = select(ReviewRow.rule, ReviewRow.decision, func.count(ReviewRow.id)).group_by(
            ReviewRow.rule, ReviewRow.decision)
        counts: dict[str, dict[str, int]] = {}
        with self._sessions() as session:
            for rule, decision, n in session.execute(stmt):
                counts.setdefault(rule, {})[decision] = int(n)
        return {rule: RulePrecision(rule, c.get("confirmed", 0), c.get("dismissed", 0))
                for rule, c in sorted(counts.items())}

    def feedback(self, decision: str | None = None, batch: int = 500) -> Iterator[FindingReview]:
        """Every decision (or those of one ``decision``), oldest first, read in batches."""
        last = 0
        while True:
            stmt = select(ReviewRow).where(ReviewRow.id > last).order_by(ReviewRow.id).limit(batch)
            if decision is not None:
                stmt = stmt.where(ReviewRow.decision == decision)
            with self._sessions() as session:
                rows = list(session.scalars(stmt))
            if not rows:
                return
            for row in rows:
                yield _review(row)
            last = rows[-1].id

    # ---------------------------------------------------------------- the queue

    def _queue_stmt(self, flt: ReviewFilter) -> Select[*tuple[Any, ...]]:
        stmt: Select[*tuple[Any, ...]] = (
            select(FindingRow, PageRow.url, PageRow.kind, PageRow.title, Shop.id, Shop.url, Shop.name,
                   Capture.sha256, Capture.fetched_at, ReviewRow)
            .join(PageRow, FindingRow.page_id == PageRow.id)
            .join(Capture, PageRow.capture_id == Capture.id)
            .outerjoin(Shop, PageRow.shop_id == Shop.id)
            .outerjoin(ReviewRow, ReviewRow.finding_id == FindingRow.id)
        )
        if flt.rule:
            stmt = stmt.where(FindingRow.rule == flt.rule)
        if flt.severity:
            stmt = stmt.where(FindingRow.severity == flt.severity)
        if flt.shop_id is not None:
            stmt = stmt.where(PageRow.shop_id == flt.shop_id)
        if flt.run_id is not None:
            stmt = stmt.where(FindingRow.run_id == flt.run_id)
        if flt.platform:
            host = _like_escape(flt.platform.strip().lower())
            stmt = stmt.where(or_(*(PageRow.url.like(f"{scheme}://{host}{end}", escape="\\")
                                    for scheme in ("http", "https") for end in ("/%", ""))))
        if flt.status == "unreviewed":
            stmt = stmt.where(ReviewRow.id.is_(None))
        elif flt.status in DECISIONS:
            stmt = stmt.where(ReviewRow.decision == flt.status)
        return stmt

    def queue(self, flt: ReviewFilter = ReviewFilter(), *, limit: int = 50, offset: int = 0) -> list[ReviewItem]:
        """Findings matching ``flt``, newest first."""
        stmt = self._queue_stmt(flt).order_by(FindingRow.id.desc()).limit(limit).offset(offset)
        with self._sessions() as session:
            return [self._item(row) for row in session.execute(stmt)]

    def count(self, flt: ReviewFilter = ReviewFilter()) -> int:
        stmt = select(func.count()).select_from(self._queue_stmt(flt).subquery())
        with self._sessions() as session:
            return int(session.scalar(stmt) or 0)

    def item(self, finding_id: int) -> ReviewItem | None:
        stmt = self._queue_stmt(ReviewFilter()).where(FindingRow.id == finding_id)
        with self._sessions() as session:
            row = session.execute(stmt).first()
            return None if row is None else self._item(row)

    @staticmethod
    def _item(row: Any) -> ReviewItem:
        f, url, kind, title, shop_id, shop_url, shop_name, sha, fetched_at, review = row
        return ReviewItem(f.id, f.run_id, f.page_id, url, kind, title, shop_id, shop_url, shop_name, f.rule,
                          f.severity, f.article, f.message, list(f.evidence or []), f.created_at, sha, fetched_at,
                          None if review is None else _review(review))

    def rules(self) -> list[str]:
        with self._sessions() as session:
            return sorted(str(r) for r in session.scalars(select(FindingRow.rule).distinct()))

    def shops(self, limit: int = 500) -> list[tuple[int, str, str | None]]:
        """(id, URL, name) of the shops with findings."""
        stmt = (select(Shop.id, Shop.url, Shop.name).where(
            Shop.id.in_(select(PageRow.shop_id).join(FindingRow, FindingRow.page_id == PageRow.id)))
            .order_by(Shop.id).limit(limit))
        with self._sessions() as session:
            return [(int(i), str(u), n) for i, u, n in session.execute(stmt)]

    def ocr_texts(self, image_urls: Sequence[str]) -> dict[str, list[tuple[str, str]]]:
        """What OCR read in the images first seen at ``image_urls``: URL → [(engine, text)]."""
        urls = [u for u in dict.fromkeys(image_urls) if u]
        if not urls:
            return {}
        stmt = (select(ImageRow.url, OcrRow.engine, OcrRow.text).join(OcrRow, OcrRow.sha256 == ImageRow.sha256)
                .where(ImageRow.url.in_(urls)).order_by(OcrRow.id))
        out: dict[str, list[tuple[str, str]]] = {}
        with self._sessions() as session:
            for url, engine, text in session.execute(stmt):
                out.setdefault(str(url), []).append((str(engine), str(text)))
        return out
