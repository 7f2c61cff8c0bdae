"""Campaigns and leads (线索) in storage: HAINAN (13) 线上固证 → 线索交办 → 核查处置 → 结果反馈.

Tables: ``campaigns`` (name, rule packs, profile, cron), ``campaign_targets`` (URL or profile
targets with the last check's outcome), ``campaign_runs`` (one row per run of a campaign, linked
to the ``runs`` it stored), ``leads`` (one per campaign, page URL and rule; unique) and
``lead_events`` (what happened to a lead, when, in which run).

Lead status: ``new`` → ``assigned`` → ``verified`` → ``resolved`` | ``dismissed``. The console's
workflow (:meth:`LeadStore.advance`) moves a lead only along that line, one step at a time, each
step with a note (新建 → 已交办 → 核查中 → 已处置 / 不予处理, :data:`WORKFLOW_ZH`); the command
line's ``lead update`` keeps its freer moves and its labels (:data:`STATUS_ZH`).

A campaign may belong to an organisation (``campaigns.org``, the bureau that runs it); a lead is an
organisation's when its campaign is, or when it was handed to it (``assignee``). A handed lead may
have a deadline (``leads.deadline``), and each event says who acted (``lead_events.actor``).
:meth:`LeadStore.sync` turns a run's findings into leads: a new (campaign, URL, rule) becomes a
``new`` lead; an existing one is only touched (``last_seen``), never duplicated; a ``resolved``
lead whose URL the run checked again (整改复查) is reopened when its finding is back, and stays
resolved with the re-check recorded when it is gone — unless the run could not evaluate the lead's
rule on that page (``UrlCheck.unevaluated``, e.g. a registry rule without the registry): then the
re-check says so and the lead is not counted as fixed.

Imports nothing else of ours beyond this package. All datetimes are time-zone aware (UTC).
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    Engine,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    or_,
    select,
)
from sqlalchemy.orm import Mapped, Session, mapped_column

from mdwatch.lead_status import (
    CLOSED_STATUSES,
    LEAD_STATUSES,
    OPEN_STATUSES,
    STATUS_ZH,
    UPDATE_STATUSES,
    WORKFLOW,
    WORKFLOW_ZH,
)

from .schema import Base, FindingRow, IdType, JsonType, PageRow, Shop, UTCDateTime
from .store import Store

__all__ = [
    "CLOSED_STATUSES",
    "LEAD_STATUSES",
    "OPEN_STATUSES",
    "STATUS_ZH",
    "UPDATE_STATUSES",
    "WORKFLOW",
    "WORKFLOW_ZH",
    "Campaign",
    "CampaignRun",
    "CampaignTarget",
    "Lead",
    "LeadError",
    "LeadEvent",
    "LeadFinding",
    "LeadStore",
    "RunFinding",
    "SyncResult",
    "UrlCheck",
    "campaign_run_ids_by_name",
    "lead_finding_ids",
    "run_findings",
    "run_page_urls",
]

TARGET_KINDS = ("url", "profile")

# lead_events.kind
EVENT_CREATED = "created"
EVENT_ASSIGNED = "assigned"
EVENT_STATUS = "status"
EVENT_NOTE = "note"
EVENT_REOPENED = "reopened"
EVENT_RECHECK = "recheck"

# recheck results
RECHECK_FIXED = "fixed"
RECHECK_STILL_PRESENT = "still_present"
RECHECK_UNREACHABLE = "unreachable"
RECHECK_UNDETERMINED = "undetermined"
RECHECK_NOTES = {
    RECHECK_FIXED: "整改复查：已整改",
    RECHECK_STILL_PRESENT: "整改复查：问题仍在",
    RECHECK_UNREACHABLE: "整改复查：页面无法访问（可能已下架）",
    RECHECK_UNDETERMINED: "整改复查：本次未能判定该规则（如未导入注册证数据库），不视为已整改",
}


class LeadError(Exception):
    """A campaign or lead operation that cannot be done; the message is one Chinese sentence."""


# ============================================================================ tables


class CampaignRow(Base):
    __tablename__ = "campaigns"

    id: Mapped[int] = mapped_column(IdType, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    packs: Mapped[list[str]] = mapped_column(JsonType)
    profile: Mapped[str | None] = mapped_column(String(200))
    base_url: Mapped[str | None] = mapped_column(Text)
    cron: Mapped[str | None] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())
    org: Mapped[str | None] = mapped_column(String(200), index=True)  # the bureau running it


class CampaignTargetRow(Base):
    __tablename__ = "campaign_targets"
    __table_args__ = (UniqueConstraint("campaign_id", "kind", "target", name="uq_campaign_targets"),)

    id: Mapped[int] = mapped_column(IdType, primary_key=True, autoincrement=True)
    campaign_id: Mapped[int] = mapped_column(IdType, ForeignKey("campaigns.id"), index=True)
    kind: Mapped[str] = mapped_column(String(16))  # url | profile
    target: Mapped[str] = mapped_column(Text)
    last_status: Mapped[str | None] = mapped_column(String(16))  # ok | unreachable
    last_error: Mapped[str | None] = mapped_column(Text)
    last_checked_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    last_run_id: Mapped[int | None] = mapped_column(IdType, ForeignKey("runs.id"))


class CampaignRunRow(Base):
    __tablename__ = "campaign_runs"

    id: Mapped[int] = mapped_column(IdType, primary_key=True, autoincrement=True)
    campaign_id: Mapped[int] = mapped_column(IdType, ForeignKey("campaigns.id"), index=True)
    run_id: Mapped[int | None] = mapped_column(IdType, ForeignKey("runs.id"), index=True)
    run_ids: Mapped[list[int]] = mapped_column(JsonType)  # every ``runs`` row this campaign run stored
    status: Mapped[str] = mapped_column(String(16))  # running | done | partial | failed
    started_at: Mapped[datetime] = mapped_column(UTCDateTime())
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    stats: Mapped[dict[str, Any]] = mapped_column(JsonType)


class LeadRow(Base):
    __tablename__ = "leads"
    __table_args__ = (
        UniqueConstraint("campaign_id", "page_url", "rule", name="uq_leads_campaign_url_rule"),
        Index("ix_leads_campaign_status", "campaign_id", "status"),
    )

    id: Mapped[int] = mapped_column(IdType, primary_key=True, autoincrement=True)
    campaign_id: Mapped[int] = mapped_column(IdType, ForeignKey("campaigns.id"), index=True)
    page_url: Mapped[str] = mapped_column(Text)
    rule: Mapped[str] = mapped_column(String(64))
    severity: Mapped[str] = mapped_column(String(16))
    message: Mapped[str] = mapped_column(Text)
    shop_url: Mapped[str | None] = mapped_column(Text)
    title: Mapped[str | None] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16), index=True)
    assignee: Mapped[str | None] = mapped_column(Text)
    notes: Mapped[list[dict[str, Any]]] = mapped_column(JsonType)
    recheck: Mapped[list[dict[str, Any]]] = mapped_column(JsonType)
    first_run_id: Mapped[int | None] = mapped_column(IdType, ForeignKey("runs.id"))
    last_run_id: Mapped[int | None] = mapped_column(IdType, ForeignKey("runs.id"))
    last_finding_id: Mapped[int | None] = mapped_column(IdType, ForeignKey("findings.id"))
    seen_count: Mapped[int] = mapped_column(Integer)
    reopened_count: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())
    first_seen: Mapped[datetime] = mapped_column(UTCDateTime())
    last_seen: Mapped[datetime] = mapped_column(UTCDateTime())
    assigned_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    resolved_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    deadline: Mapped[datetime | None] = mapped_column(UTCDateTime())


class LeadEventRow(Base):
    __tablename__ = "lead_events"

    id: Mapped[int] = mapped_column(IdType, primary_key=True, autoincrement=True)
    lead_id: Mapped[int] = mapped_column(IdType, ForeignKey("leads.id"), index=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime())
    kind: Mapped[str] = mapped_column(String(32))
    from_status: Mapped[str | None] = mapped_column(String(16))
    to_status: Mapped[str | None] = mapped_column(String(16))
    run_id: Mapped[int | None] = mapped_column(IdType, ForeignKey("runs.id"))
    campaign_run_id: Mapped[int | None] = mapped_column(IdType, ForeignKey("campaign_runs.id"))
    note: Mapped[str] = mapped_column(Text)
    actor: Mapped[str | None] = mapped_column(String(200))


LEAD_TABLES = ("campaigns", "campaign_targets", "campaign_runs", "leads", "lead_events")


# ============================================================================ records


@dataclass(frozen=True, slots=True)
class CampaignTarget:
    id: int
    kind: str  # url | profile
    target: str
    last_status: str | None  # None (never checked) | ok | unreachable
    last_error: str | None
    last_checked_at: datetime | None
    last_run_id: int | None


@dataclass(frozen=True, slots=True)
class Campaign:
    id: int
    name: str
    packs: tuple[str, ...]
    profile: str | None
    base_url: str | None
    cron: str | None
    created_at: datetime
    updated_at: datetime
    targets: tuple[CampaignTarget, ...] = ()
    org: str | None = None

    @property
    def url_targets(self) -> list[str]:
        return [t.target for t in self.targets if t.kind == "url"]


@dataclass(frozen=True, slots=True)
class CampaignRun:
    id: int
    campaign_id: int
    run_id: int | None
    run_ids: tuple[int, ...]
    status: str
    started_at: datetime
    finished_at: datetime | None
    stats: dict[str, Any]


@dataclass(frozen=True, slots=True)
class Lead:
    id: int
    campaign_id: int
    campaign: str
    page_url: str
    rule: str
    severity: str
    message: str
    shop_url: str | None
    title: str | None
    status: str
    assignee: str | None
    notes: tuple[dict[str, Any], ...]
    recheck: tuple[dict[str, Any], ...]
    first_run_id: int | None
    last_run_id: int | None
    last_finding_id: int | None
    seen_count: int
    reopened_count: int
    created_at: datetime
    updated_at: datetime
    first_seen: datetime
    last_seen: datetime
    assigned_at: datetime | None
    resolved_at: datetime | None
    deadline: datetime | None = None
    campaign_org: str | None = None

    def belongs_to(self, org: str | None) -> bool:
        """True if the lead is ``org``'s: its campaign's bureau, or the bureau it was handed to."""
        return bool(org) and org in (self.assignee, self.campaign_org)

    def overdue(self, now: datetime) -> bool:
        """Handed with a deadline that has passed, and not yet closed."""
        return self.deadline is not None and self.status in OPEN_STATUSES and self.deadline < now


@dataclass(frozen=True, slots=True)
class LeadEvent:
    id: int
    lead_id: int
    at: datetime
    kind: str
    from_status: str | None
    to_status: str | None
    run_id: int | None
    campaign_run_id: int | None
    note: str
    actor: str | None = None


@dataclass(frozen=True, slots=True)
class LeadFinding:
    """One finding of a campaign run, as :meth:`LeadStore.sync` needs it."""

    page_url: str
    rule: str
    severity: str
    message: str
    run_id: int | None = None
    finding_id: int | None = None
    shop_url: str | None = None
    title: str | None = None


@dataclass(frozen=True, slots=True)
class RunFinding:
    """A stored finding of a run with its page URL, title and shop (what leads are made from)."""

    finding_id: int
    run_id: int
    page_url: str
    page_kind: str
    title: str | None
    shop_url: str | None
    rule: str
    severity: str
    message: str


@dataclass(frozen=True, slots=True)
class UrlCheck:
    """A URL a campaign run tried: fetched and analysed (``ok``) or not (``error``)."""

    url: str
    ok: bool
    run_id: int | None = None
    error: str | None = None
    unevaluated: frozenset[str] = frozenset()  # rules the run could not judge on this page


@dataclass(frozen=True, slots=True)
class SyncResult:
    created: tuple[int, ...] = ()
    touched: tuple[int, ...] = ()
    reopened: tuple[int, ...] = ()
    rechecked_fixed: tuple[int, ...] = ()
    rechecked_unreachable: tuple[int, ...] = ()
    extra: dict[str, int] = field(default_factory=dict)
    held: tuple[tuple[str, str], ...] = ()  # (page URL, rule) not filed: held by the precision guard
    rechecked_undetermined: tuple[int, ...] = ()  # the run could not judge the lead's rule

    def as_dict(self) -> dict[str, int]:
        return {"leads_created": len(self.created), "leads_touched": len(self.touched),
                "leads_reopened": len(self.reopened), "rechecked_fixed": len(self.rechecked_fixed),
                "rechecked_unreachable": len(self.rechecked_unreachable), "leads_held": len(self.held),
                "rechecked_undetermined": len(self.rechecked_undetermined)}


def _now() -> datetime:
    return datetime.now(UTC)


def _aware(at: datetime | None) -> datetime:
    if at is None:
        return _now()
    if at.tzinfo is None or at.utcoffset() is None:
        raise ValueError(f"naive datetime refused: {at!r}")
    return at.astimezone(UTC)


def _target(row: CampaignTargetRow) -> CampaignTarget:
    return CampaignTarget(row.id, row.kind, row.target, row.last_status, row.last_error, row.last_checked_at,
                          row.last_run_id)


def _campaign(row: CampaignRow, targets: Iterable[CampaignTargetRow]) -> Campaign:
    return Campaign(row.id, row.name, tuple(row.packs), row.profile, row.base_url, row.cron, row.created_at,
                    row.updated_at, tuple(_target(t) for t in targets), row.org)


def _campaign_run(row: CampaignRunRow) -> CampaignRun:
    return CampaignRun(row.id, row.campaign_id, row.run_id, tuple(row.run_ids or ()), row.status,
                       row.started_at, row.finished_at, dict(row.stats or {}))


def _lead(row: LeadRow, campaign: str, campaign_org: str | None = None) -> Lead:
    return Lead(
        id=row.id, campaign_id=row.campaign_id, campaign=campaign, page_url=row.page_url, rule=row.rule,
        severity=row.severity, message=row.message, shop_url=row.shop_url, title=row.title, status=row.status,
        assignee=row.assignee, notes=tuple(row.notes or ()), recheck=tuple(row.recheck or ()),
        first_run_id=row.first_run_id, last_run_id=row.last_run_id, last_finding_id=row.last_finding_id,
        seen_count=row.seen_count, reopened_count=row.reopened_count, created_at=row.created_at,
        updated_at=row.updated_at, first_seen=row.first_seen, last_seen=row.last_seen,
        assigned_at=row.assigned_at, resolved_at=row.resolved_at, deadline=row.deadline,
        campaign_org=campaign_org,
    )


def _event(row: LeadEventRow) -> LeadEvent:
    return LeadEvent(row.id, row.lead_id, row.at, row.kind, row.from_status, row.to_status, row.run_id,
                     row.campaign_run_id, row.note, row.actor)


# ============================================================================ repository


class LeadStore:
    """Campaigns, campaign runs and leads on a :class:`Store` (SQLite or PostgreSQL)."""

    def __init__(self, store: Store) -> None:
        self.store = store
        tables = [Base.metadata.tables[name] for name in LEAD_TABLES]
        Base.metadata.create_all(store.engine, tables=tables)

    @classmethod
    def open(cls, url: str | None = None) -> LeadStore:
        return cls(Store.open(url))

    def close(self) -> None:
        self.store.close()

    def __enter__(self) -> LeadStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ---------------------------------------------------------------- campaigns

    def create_campaign(
        self,
        name: str,
        packs: Sequence[str],
        *,
        urls: Sequence[str] = (),
        profile: str | None = None,
        base_url: str | None = None,
        cron: str | None = None,
        at: datetime | None = None,
        org: str | None = None,
    ) -> Campaign:
        """A new campaign with its URL targets (and the profile, as a target of kind ``profile``);
        ``org``: the bureau running it (its leads are that bureau's)."""
        name = name.strip()
        if not name:
            raise LeadError("监测任务名称不能为空。")
        if not packs:
            raise LeadError("监测任务至少需要一个规则包。")
        if not urls and not profile:
            raise LeadError("监测任务至少需要一个目标（网址或平台配置）。")
        now = _aware(at)
        with self.store.transaction() as session:
            if session.scalar(select(CampaignRow.id).where(CampaignRow.name == name)) is not None:
                raise LeadError(f"监测任务 {name} 已存在。")
            row = CampaignRow(name=name, packs=list(packs), profile=profile, base_url=base_url, cron=cron,
                              created_at=now, updated_at=now, org=(org or "").strip() or None)
            session.add(row)
            session.flush()
            seen: set[tuple[str, str]] = set()
            targets = [("profile", profile)] if profile else []
            targets += [("url", u.strip()) for u in urls if u.strip()]
            for kind, target in targets:
                if (kind, target) in seen:
                    continue
                seen.add((kind, target))
                session.add(CampaignTargetRow(campaign_id=row.id, kind=kind, target=target))
            session.flush()
            return self._load_campaign(session, row)

    def _load_campaign(self, session: Session, row: CampaignRow) -> Campaign:
        targets = session.scalars(
            select(CampaignTargetRow).where(CampaignTargetRow.campaign_id == row.id).order_by(CampaignTargetRow.id)
        )
        return _campaign(row, targets)

    def get_campaign(self, name: str) -> Campaign | None:
        with self.store.transaction() as session:
            row = session.scalar(select(CampaignRow).where(CampaignRow.name == name))
            return None if row is None else self._load_campaign(session, row)

    def require_campaign(self, name: str) -> Campaign:
        campaign = self.get_campaign(name)
        if campaign is None:
            raise LeadError(f"没有名为 {name} 的监测任务。")
        return campaign

    def campaigns(self) -> list[Campaign]:
        with self.store.transaction() as session:
            rows = list(session.scalars(select(CampaignRow).order_by(CampaignRow.id)))
            return [self._load_campaign(session, r) for r in rows]

    def set_cron(self, campaign_id: int, cron: str | None, at: datetime | None = None) -> None:
        with self.store.transaction() as session:
            row = session.get(CampaignRow, campaign_id)
            if row is None:
                raise LeadError(f"没有编号为 {campaign_id} 的监测任务。")
            row.cron, row.updated_at = cron, _aware(at)

    def set_org(self, campaign_id: int, org: str | None, at: datetime | None = None) -> None:
        """The bureau running the campaign (its leads become that bureau's)."""
        with self.store.transaction() as session:
            row = session.get(CampaignRow, campaign_id)
            if row is None:
                raise LeadError(f"没有编号为 {campaign_id} 的监测任务。")
            row.org, row.updated_at = (org or "").strip()[:200] or None, _aware(at)

    def record_targets(self, campaign_id: int, checks: Iterable[tuple[str, str, UrlCheck]],
                       at: datetime | None = None) -> None:
        """Store the outcome of each target ``(kind, target, check)`` of a run (``last_*`` columns)."""
        now = _aware(at)
        with self.store.transaction() as session:
            rows = {(r.kind, r.target): r for r in session.scalars(
                select(CampaignTargetRow).where(CampaignTargetRow.campaign_id == campaign_id))}
            for kind, target, check in checks:
                row = rows.get((kind, target))
                if row is None:
                    continue
                row.last_status = "ok" if check.ok else "unreachable"
                row.last_error = None if check.ok else (check.error or "无法访问")
                row.last_checked_at = now
                row.last_run_id = check.run_id

    # ---------------------------------------------------------------- campaign runs

    def start_campaign_run(self, campaign_id: int, at: datetime | None = None) -> int:
        with self.store.transaction() as session:
            row = CampaignRunRow(campaign_id=campaign_id, run_id=None, run_ids=[], status="running",
                                 started_at=_aware(at), finished_at=None, stats={})
            session.add(row)
            session.flush()
            return row.id

    def finish_campaign_run(self, campaign_run_id: int, status: str, run_ids: Sequence[int],
                            stats: Mapping[str, Any], at: datetime | None = None) -> None:
        """Record how a campaign run ended (``done`` | ``partial`` | ``failed``) and the runs it stored."""
        with self.store.transaction() as session:
            row = session.get(CampaignRunRow, campaign_run_id)
            if row is None:
                raise LeadError(f"没有编号为 {campaign_run_id} 的监测运行。")
            row.status = status
            row.run_ids = list(run_ids)
            row.run_id = run_ids[0] if run_ids else None
            row.finished_at = _aware(at)
            row.stats = {**dict(row.stats or {}), **dict(stats)}

    def campaign_runs(self, campaign_id: int) -> list[CampaignRun]:
        """Runs of a campaign, oldest first."""
        with self.store.transaction() as session:
            rows = session.scalars(
                select(CampaignRunRow).where(CampaignRunRow.campaign_id == campaign_id).order_by(CampaignRunRow.id)
            )
            return [_campaign_run(r) for r in rows]

    def campaign_run_ids(self, name: str) -> list[int]:
        """Every ``runs.id`` stored by the campaign ``name``, oldest first (for reports)."""
        campaign = self.require_campaign(name)
        return [rid for r in self.campaign_runs(campaign.id) for rid in r.run_ids]

    # ---------------------------------------------------------------- leads: sync

    def sync(
        self,
        campaign_id: int,
        campaign_run_id: int | None,
        findings: Sequence[LeadFinding],
        checked: Iterable[UrlCheck],
        at: datetime | None = None,
        held: Collection[tuple[int | None, str]] = (),
    ) -> SyncResult:
        """Turn one campaign run's findings into leads, in one transaction (see the module doc).

        ``checked`` are the URLs the run tried; a resolved lead whose URL is among them and whose
        finding is absent stays resolved with a re-check entry (已整改, or 无法访问 when the
        page could not be fetched).

        ``held`` are ``(run id, rule)`` pairs the sweep-level precision guard holds for review:
        their findings become no lead and touch none, and a resolved lead of that rule whose URL
        that run checked is not re-checked (the rule's verdicts in that run are not trusted).
        """
        now = _aware(at)
        checks = {c.url: c for c in checked}
        held_pairs = frozenset(held)
        held_out: dict[tuple[str, str], None] = {}
        created: list[int] = []
        touched: list[int] = []
        reopened: list[int] = []
        fixed: list[int] = []
        unreachable: list[int] = []
        undetermined: list[int] = []
        outcome = {RECHECK_FIXED: fixed, RECHECK_UNREACHABLE: unreachable, RECHECK_UNDETERMINED: undetermined}
        with self.store.transaction() as session:
            existing = {
                (r.page_url, r.rule): r
                for r in session.scalars(select(LeadRow).where(LeadRow.campaign_id == campaign_id))
            }
            present: set[tuple[str, str]] = set()
            for f in findings:
                key = (f.page_url, f.rule)
                if (f.run_id, f.rule) in held_pairs:
                    held_out.setdefault(key, None)
                    continue
                if key in present:
                    continue
                present.add(key)
                row = existing.get(key)
                if row is None:
                    row = LeadRow(
                        campaign_id=campaign_id, page_url=f.page_url, rule=f.rule, severity=f.severity,
                        message=f.message, shop_url=f.shop_url, title=f.title, status="new", assignee=None,
                        notes=[], recheck=[], first_run_id=f.run_id, last_run_id=f.run_id,
                        last_finding_id=f.finding_id, seen_count=1, reopened_count=0, created_at=now,
                        updated_at=now, first_seen=now, last_seen=now, assigned_at=None, resolved_at=None,
                    )
                    session.add(row)
                    session.flush()
                    existing[key] = row
                    self._add_event(session, row, EVENT_CREATED, None, "new", f.run_id, campaign_run_id, now,
                                    f"线上固证：发现 {f.rule}")
                    created.append(row.id)
                    continue
                row.last_seen, row.last_run_id = now, f.run_id
                row.last_finding_id = f.finding_id
                row.seen_count = (row.seen_count or 0) + 1
                row.severity, row.message = f.severity, f.message
                if f.shop_url:
                    row.shop_url = f.shop_url
                if f.title:
                    row.title = f.title
                if row.status == "resolved":
                    note = RECHECK_NOTES[RECHECK_STILL_PRESENT]
                    row.recheck = [*(row.recheck or []), self._recheck_entry(now, f.run_id, campaign_run_id,
                                                                             RECHECK_STILL_PRESENT)]
                    row.status, row.resolved_at, row.updated_at = "new", None, now
                    row.reopened_count = (row.reopened_count or 0) + 1
                    self._add_event(session, row, EVENT_REOPENED, "resolved", "new", f.run_id, campaign_run_id,
                                    now, note)
                    reopened.append(row.id)
                else:
                    touched.append(row.id)
            for key, row in existing.items():
                if key in present or row.status != "resolved" or row.page_url not in checks:
                    continue
                check = checks[row.page_url]
                if (check.run_id, row.rule) in held_pairs:
                    continue
                if not check.ok:
                    result = RECHECK_UNREACHABLE
                elif row.rule in check.unevaluated:  # absent because not judged: not fixed
                    result = RECHECK_UNDETERMINED
                else:
                    result = RECHECK_FIXED
                row.recheck = [*(row.recheck or []), self._recheck_entry(now, check.run_id, campaign_run_id,
                                                                         result, check.error)]
                row.updated_at = now
                self._add_event(session, row, EVENT_RECHECK, "resolved", "resolved", check.run_id, campaign_run_id,
                                now, RECHECK_NOTES[result])
                outcome[result].append(row.id)
        return SyncResult(tuple(created), tuple(touched), tuple(reopened), tuple(fixed), tuple(unreachable),
                          held=tuple(k for k in held_out if k not in present),
                          rechecked_undetermined=tuple(undetermined))

    @staticmethod
    def _recheck_entry(at: datetime, run_id: int | None, campaign_run_id: int | None, result: str,
                       error: str | None = None) -> dict[str, Any]:
        entry: dict[str, Any] = {"at": at.isoformat(), "run_id": run_id, "campaign_run_id": campaign_run_id,
                                 "result": result, "note": RECHECK_NOTES[result]}
        if error:
            entry["error"] = error
        return entry

    @staticmethod
    def _add_event(session: Session, row: LeadRow, kind: str, from_status: str | None, to_status: str | None,
                   run_id: int | None, campaign_run_id: int | None, at: datetime, note: str,
                   actor: str | None = None) -> None:
        session.add(LeadEventRow(lead_id=row.id, at=at, kind=kind, from_status=from_status, to_status=to_status,
                                 run_id=run_id, campaign_run_id=campaign_run_id, note=note, actor=actor))

    # ---------------------------------------------------------------- leads: handling

    def _row(self, session: Session, lead_id: int) -> LeadRow:
        row = session.get(LeadRow, lead_id)
        if row is None:
            raise LeadError(f"没有编号为 {lead_id} 的线索。")
        return row

    def assign(self, lead_id: int, bureau: str, note: str | None = None, at: datetime | None = None, *,
               deadline: datetime | None = None, actor: str | None = None) -> Lead:
        """线索交办: hand a lead to a bureau (status ``assigned``), optionally with a deadline."""
        bureau = bureau.strip()
        if not bureau:
            raise LeadError("承办单位不能为空。")
        if len(bureau) > 200:
            raise LeadError("承办单位名称不超过 200 个字符。")
        now = _aware(at)
        due = None if deadline is None else _aware(deadline)
        with self.store.transaction() as session:
            row = self._row(session, lead_id)
            if row.status in CLOSED_STATUSES:
                raise LeadError(f"线索 {lead_id} 已{STATUS_ZH[row.status]}，不能交办。")
            before = row.status
            row.assignee, row.assigned_at, row.updated_at = bureau, now, now
            row.deadline = due
            if row.status == "new":
                row.status = "assigned"
            text = f"交办：{bureau}" + (f"（{note}）" if note else "")
            if due is not None:
                text += f"；办理期限 {due.isoformat()}"
            if note:
                row.notes = [*(row.notes or []), {"at": now.isoformat(), "text": note, "status": row.status}]
            self._add_event(session, row, EVENT_ASSIGNED, before, row.status, None, None, now, text, actor)
            return self._lead_out(session, row)

    def advance(self, lead_id: int, status: str, note: str, *, actor: str | None = None,
                at: datetime | None = None) -> Lead:
        """The console's workflow: move a lead one step along :data:`WORKFLOW`, with a note
        (新建 → 已交办 goes through :meth:`assign`, which names the bureau)."""
        note = (note or "").strip()
        if not note:
            raise LeadError("每一步处置都需要填写说明。")
        if status not in WORKFLOW:
            raise LeadError(f"未知的线索状态：{status}。")
        now = _aware(at)
        with self.store.transaction() as session:
            row = self._row(session, lead_id)
            before = row.status
            if status not in WORKFLOW.get(before, ()):
                allowed = "、".join(WORKFLOW_ZH[s] for s in WORKFLOW.get(before, ())) or "无（已办结）"
                raise LeadError(f"线索 {lead_id} 当前为{WORKFLOW_ZH.get(before, before)}，"
                                f"不能改为{WORKFLOW_ZH[status]}；下一步只能是：{allowed}。")
            if status == "assigned":
                raise LeadError("交办请指定承办单位和办理期限。")
            row.status, row.updated_at = status, now
            row.resolved_at = now if status == "resolved" else None
            row.notes = [*(row.notes or []), {"at": now.isoformat(), "text": note, "status": status}]
            text = f"{WORKFLOW_ZH[before]} → {WORKFLOW_ZH[status]}：{note}"
            self._add_event(session, row, EVENT_STATUS, before, status, None, None, now, text, actor)
            return self._lead_out(session, row)

    def update(self, lead_id: int, status: str | None = None, note: str | None = None,
               at: datetime | None = None) -> Lead:
        """核查处置 / 结果反馈: set ``verified`` | ``resolved`` | ``dismissed`` and/or add a note."""
        if status is None and not note:
            raise LeadError("请指定新状态（--status）或备注（--note）。")
        if status is not None and status not in UPDATE_STATUSES:
            raise LeadError(f"状态只能是 {'、'.join(UPDATE_STATUSES)}，不是 {status}。")
        now = _aware(at)
        with self.store.transaction() as session:
            row = self._row(session, lead_id)
            before = row.status
            if status is not None and status != before:
                if before in CLOSED_STATUSES:
                    raise LeadError(f"线索 {lead_id} 已{STATUS_ZH[before]}，不能改为{STATUS_ZH[status]}。")
                row.status = status
                row.resolved_at = now if status == "resolved" else None
                text = f"{STATUS_ZH[before]} → {STATUS_ZH[status]}" + (f"：{note}" if note else "")
                self._add_event(session, row, EVENT_STATUS, before, status, None, None, now, text)
            elif note:
                self._add_event(session, row, EVENT_NOTE, before, before, None, None, now, note)
            if note:
                row.notes = [*(row.notes or []), {"at": now.isoformat(), "text": note, "status": row.status}]
            row.updated_at = now
            return self._lead_out(session, row)

    def _lead_out(self, session: Session, row: LeadRow) -> Lead:
        session.flush()
        found = session.execute(select(CampaignRow.name, CampaignRow.org).where(CampaignRow.id == row.campaign_id)
                                ).first()
        name, org = (found[0], found[1]) if found is not None else ("", None)
        return _lead(row, name, org)

    # ---------------------------------------------------------------- leads: reading

    def get_lead(self, lead_id: int) -> Lead | None:
        with self.store.transaction() as session:
            row = session.get(LeadRow, lead_id)
            return None if row is None else self._lead_out(session, row)

    def leads(self, campaign: str | None = None, status: str | Sequence[str] | None = None, *,
              org: str | None = None, limit: int | None = None) -> list[Lead]:
        """Leads, oldest first; optionally of one campaign (by name), status(es) and organisation
        (``org``: the leads of its campaigns and those handed to it, see :meth:`Lead.belongs_to`)."""
        stmt = select(LeadRow, CampaignRow.name, CampaignRow.org).join(
            CampaignRow, LeadRow.campaign_id == CampaignRow.id)
        if campaign is not None:
            stmt = stmt.where(CampaignRow.name == campaign)
        if status is not None:
            statuses = [status] if isinstance(status, str) else list(status)
            stmt = stmt.where(LeadRow.status.in_(statuses))
        if org is not None:
            stmt = stmt.where(or_(LeadRow.assignee == org, CampaignRow.org == org))
        stmt = stmt.order_by(LeadRow.id)
        if limit is not None:
            stmt = stmt.limit(limit)
        with self.store.transaction() as session:
            return [_lead(row, name, corg) for row, name, corg in session.execute(stmt)]

    def events(self, lead_id: int) -> list[LeadEvent]:
        with self.store.transaction() as session:
            rows = session.scalars(
                select(LeadEventRow).where(LeadEventRow.lead_id == lead_id).order_by(LeadEventRow.id))
            return [_event(r) for r in rows]

    def lead_urls(self, campaign_id: int, status: str | Sequence[str]) -> list[str]:
        """Distinct page URLs of a campaign's leads in ``status`` (e.g. ``resolved``: what to re-check)."""
        statuses = [status] if isinstance(status, str) else list(status)
        with self.store.transaction() as session:
            urls = session.scalars(
                select(LeadRow.page_url).where(LeadRow.campaign_id == campaign_id, LeadRow.status.in_(statuses))
                .order_by(LeadRow.id))
            return list(dict.fromkeys(urls))

    def counts(self, campaign_id: int) -> dict[str, int]:
        """Leads of a campaign by status (every status present, zeros included)."""
        out = dict.fromkeys(LEAD_STATUSES, 0)
        with self.store.transaction() as session:
            for status in session.scalars(select(LeadRow.status).where(LeadRow.campaign_id == campaign_id)):
                out[status] = out.get(status, 0) + 1
        return out



def run_findings(store: Store, run_id: int) -> list[RunFinding]:
    """Every finding of one run with its page (URL, kind, title) and shop URL, in storage order."""
    stmt = (
        select(FindingRow, PageRow.url, PageRow.kind, PageRow.title, Shop.url)
        .join(PageRow, FindingRow.page_id == PageRow.id)
        .outerjoin(Shop, PageRow.shop_id == Shop.id)
        .where(FindingRow.run_id == run_id)
        .order_by(FindingRow.id)
    )
    with store.transaction() as session:
        return [
            RunFinding(f.id, f.run_id, url, kind, title, shop_url, f.rule, f.severity, f.message)
            for f, url, kind, title, shop_url in session.execute(stmt)
        ]


def run_page_urls(store: Store, run_id: int) -> list[str]:
    """URLs of the pages one run stored (what it checked successfully)."""
    with store.transaction() as session:
        return list(dict.fromkeys(session.scalars(
            select(PageRow.url).where(PageRow.run_id == run_id).order_by(PageRow.id))))


def lead_finding_ids(engine: Engine, lead_id: int) -> list[int] | None:
    """Every stored finding a lead rests on, oldest first: the findings of its campaign's runs on
    its page URL under its rule (one per run that saw it). ``None`` when there is no such lead."""
    with Session(engine) as session:
        row = session.get(LeadRow, lead_id)
        if row is None:
            return None
        run_ids = set(_campaign_run_ids(session, row.campaign_id))
        run_ids.update(r for r in (row.first_run_id, row.last_run_id) if r is not None)
        stmt = (
            select(FindingRow.id)
            .join(PageRow, FindingRow.page_id == PageRow.id)
            .where(FindingRow.run_id.in_(sorted(run_ids)), PageRow.url == row.page_url, FindingRow.rule == row.rule)
            .order_by(FindingRow.id)
        )
        found = list(session.scalars(stmt))
        if row.last_finding_id is not None and row.last_finding_id not in found:
            found = sorted([*found, row.last_finding_id])
        return found


def campaign_run_ids_by_name(engine: Engine, name: str) -> list[int] | None:
    """Every ``runs.id`` the campaign ``name`` stored, oldest first; ``None`` when there is no such campaign."""
    with Session(engine) as session:
        campaign_id = session.scalar(select(CampaignRow.id).where(CampaignRow.name == name))
        return None if campaign_id is None else _campaign_run_ids(session, campaign_id)


def _campaign_run_ids(session: Session, campaign_id: int) -> list[int]:
    rows = session.scalars(select(CampaignRunRow.run_ids).where(CampaignRunRow.campaign_id == campaign_id)
                           .order_by(CampaignRunRow.id))
    return list(dict.fromkeys(int(rid) for ids in rows for rid in (ids or ())))
