"""线索: each organisation's inbox grouped by company (统一社会信用代码) and shop, a lead's history,
handing it to a bureau with a deadline, and moving it along 新建 → 已交办 → 核查中 → 已处置 /
不予处理, one step at a time, each with a note. Overdue is judged by the app's clock."""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from datetime import date, datetime, time
from typing import TYPE_CHECKING, Any

from mdwatch.console.auth import Principal, lead_scope, may_act_on_lead, may_assign_lead, may_see_lead
from mdwatch.console.errors import bad_request, conflict, forbidden, not_found
from mdwatch.scheduler.settings import BEIJING
from mdwatch.storage.dashboard import shop_captures
from mdwatch.storage.leads import (
    LEAD_STATUSES,
    OPEN_STATUSES,
    WORKFLOW,
    WORKFLOW_ZH,
    Lead,
    LeadError,
    LeadEvent,
)

if TYPE_CHECKING:
    from mdwatch.console.core import Console
    from mdwatch.storage.records import CaptureRecord

__all__ = ["CompanyGroup", "LeadDetail", "advance", "assign", "inbox", "lead_detail", "lead_json", "parse_deadline"]

SEVERITY_RANK = {"critical": 0, "high": 1, "medium": 2, "low": 3, "info": 4}
UNKNOWN_COMPANY = "未识别企业"


@dataclass(slots=True)
class ShopGroup:
    shop_url: str | None
    leads: list[Lead] = field(default_factory=list)


@dataclass(slots=True)
class CompanyGroup:
    uscc: str | None
    shops: dict[str | None, ShopGroup] = field(default_factory=dict)

    @property
    def leads(self) -> list[Lead]:
        return [lead for group in self.shops.values() for lead in group.leads]

    def overdue(self, now: datetime) -> int:
        return sum(1 for lead in self.leads if lead.overdue(now))

    @property
    def worst(self) -> str:
        return min((lead.severity for lead in self.leads), key=lambda s: SEVERITY_RANK.get(s, 9), default="info")


def parse_deadline(text: str | None) -> datetime | None:
    """A deadline as typed: ``YYYY-MM-DD`` (the end of that day, Beijing time),
    ``YYYY-MM-DDTHH:MM`` (Beijing time) or ISO 8601 with an offset."""
    text = (text or "").strip()
    if not text:
        return None
    try:
        if len(text) == 10:
            day = date.fromisoformat(text)
            return datetime.combine(day, time(23, 59, 59), BEIJING)
        at = datetime.fromisoformat(text)
    except ValueError as exc:
        raise bad_request(f"办理期限格式不对：{text[:40]}（应为 2027-01-31 或 2027-01-31T17:00）。") from exc
    return at.replace(tzinfo=BEIJING) if at.tzinfo is None else at


@functools.lru_cache(maxsize=4096)
def _uscc_in_capture(sha256: str, url: str, body: bytes, encoding: str | None) -> str | None:
    """The first valid 统一社会信用代码 in a capture's text (captures never change: cached by hash)."""
    from mdwatch.analyzers.extract import ExtractError, extract_page
    from mdwatch.analyzers.numbers import extract_numbers

    try:
        page = extract_page(url, body, encoding=encoding)
    except ExtractError:
        return None
    for number in extract_numbers(page.all_text(), year_now=datetime.now(BEIJING).year):
        if number.kind == "uscc" and number.valid:
            return number.normalized
    return None


def companies_of(console: Console, shop_urls: list[str]) -> dict[str, str | None]:
    """Shop URL → the credit code its stored page (or its qualification pages) shows."""
    found: dict[str, str | None] = {}
    for shop, captures in shop_captures(console.engine, shop_urls).items():
        found[shop] = next((code for code in (_code(c) for c in captures) if code), None)
    return found


def _code(capture: CaptureRecord) -> str | None:
    return _uscc_in_capture(capture.sha256, capture.final_url, capture.body, capture.encoding)


def inbox(console: Console, who: Principal, *, status: str | None = None, overdue: bool = False,
          campaign: str | None = None) -> list[CompanyGroup]:
    """The leads ``who`` may see, grouped by company and shop; companies with overdue or the most
    serious leads first."""
    if status and status not in LEAD_STATUSES:
        raise bad_request(f"线索状态只能是 {'、'.join(LEAD_STATUSES)}。")
    scope = lead_scope(who.user)
    if scope == "":
        return []
    now = console.now()
    leads = console.leads.leads(campaign or None, status or None, org=scope)
    if overdue:
        leads = [lead for lead in leads if lead.overdue(now)]
    shops = sorted({lead.shop_url for lead in leads if lead.shop_url})
    codes = companies_of(console, shops)
    groups: dict[str | None, CompanyGroup] = {}
    for lead in leads:
        code = codes.get(lead.shop_url) if lead.shop_url else None
        group = groups.setdefault(code, CompanyGroup(code))
        group.shops.setdefault(lead.shop_url, ShopGroup(lead.shop_url)).leads.append(lead)
    return sorted(groups.values(), key=lambda g: (-g.overdue(now), SEVERITY_RANK.get(g.worst, 9), -len(g.leads)))


@dataclass(frozen=True, slots=True)
class LeadDetail:
    lead: Lead
    events: list[LeadEvent]
    overdue: bool
    next_statuses: tuple[str, ...]
    may_act: bool
    may_assign: bool
    company: str | None


def _visible(console: Console, who: Principal, lead_id: int) -> Lead:
    lead = console.leads.get_lead(lead_id)
    if lead is None or not may_see_lead(who.user, lead):  # another bureau's lead is not shown to exist
        raise not_found(f"没有编号为 {lead_id} 的线索，或无权查看。")
    return lead


def lead_detail(console: Console, who: Principal, lead_id: int) -> LeadDetail:
    lead = _visible(console, who, lead_id)
    company = companies_of(console, [lead.shop_url]).get(lead.shop_url) if lead.shop_url else None
    steps = tuple(s for s in WORKFLOW.get(lead.status, ()) if s != "assigned")
    return LeadDetail(lead, console.leads.events(lead_id), lead.overdue(console.now()), steps,
                      may_act_on_lead(who.user, lead), may_assign_lead(who.user, lead), company)


def assign(console: Console, who: Principal, lead_id: int, bureau: str, deadline: str | None,
           note: str) -> Lead:
    """交办: hand the lead to ``bureau`` with a deadline (admins, or inspectors of the campaign's bureau)."""
    lead = _visible(console, who, lead_id)
    if not may_assign_lead(who.user, lead):
        raise forbidden("只有管理员或本监测任务所属单位的核查人员可以交办线索。")
    if not (note or "").strip():
        raise bad_request("交办需要填写说明。")
    due = parse_deadline(deadline)
    now = console.now()
    if due is not None and due <= now:
        raise bad_request("办理期限应晚于当前时间。")
    try:
        updated = console.leads.assign(lead_id, bureau, note.strip(), at=now, deadline=due, actor=who.user.name)
    except LeadError as exc:
        raise (conflict(str(exc)) if "不能" in str(exc) else bad_request(str(exc))) from exc
    console.audit(who.user, who.address, "lead.assign", "lead", lead_id,
                  {"bureau": updated.assignee, "deadline": due.isoformat() if due else None, "note": note.strip()})
    return updated


def advance(console: Console, who: Principal, lead_id: int, status: str, note: str) -> Lead:
    """核查中 / 已处置 / 不予处理: one step along the workflow, with a note."""
    lead = _visible(console, who, lead_id)
    if not may_act_on_lead(who.user, lead):
        raise forbidden("只有管理员或承办单位的核查人员可以处置线索。")
    if status not in WORKFLOW:
        raise bad_request(f"线索状态只能是 {'、'.join(LEAD_STATUSES)}。")
    try:
        updated = console.leads.advance(lead_id, status, note, actor=who.user.name, at=console.now())
    except LeadError as exc:
        raise (bad_request(str(exc)) if "说明" in str(exc) else conflict(str(exc))) from exc
    console.audit(who.user, who.address, "lead.status", "lead", lead_id,
                  {"from": lead.status, "to": status, "note": note.strip()})
    return updated


def lead_json(lead: Lead, now: datetime) -> dict[str, Any]:
    def iso(at: datetime | None) -> str | None:
        return at.isoformat() if at else None

    return {
        "id": lead.id, "campaign": lead.campaign, "campaign_org": lead.campaign_org, "page_url": lead.page_url,
        "rule": lead.rule, "severity": lead.severity, "message": lead.message, "shop_url": lead.shop_url,
        "title": lead.title, "status": lead.status, "status_zh": WORKFLOW_ZH.get(lead.status, lead.status),
        "assignee": lead.assignee, "deadline": iso(lead.deadline), "overdue": lead.overdue(now),
        "open": lead.status in OPEN_STATUSES, "notes": list(lead.notes), "recheck": list(lead.recheck),
        "first_seen": iso(lead.first_seen), "last_seen": iso(lead.last_seen), "seen_count": lead.seen_count,
        "assigned_at": iso(lead.assigned_at), "resolved_at": iso(lead.resolved_at),
        "updated_at": iso(lead.updated_at),
    }
