"""Leads in storage: creation, no duplicates, assign/update, 整改复查 (reopen / stays resolved)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select

from mdwatch.storage.leads import (
    LeadError,
    LeadEventRow,
    LeadFinding,
    LeadRow,
    LeadStore,
    UrlCheck,
)

URL_A = "http://shop.example/products/a.html"
URL_B = "http://shop.example/products/b.html"
T0 = datetime(2026, 11, 1, 2, 0, tzinfo=UTC)


@pytest.fixture
def leads(db_url: str) -> Iterator[LeadStore]:
    with LeadStore.open(db_url) as store:
        yield store


def _f(url: str, rule: str, severity: str = "high") -> LeadFinding:
    return LeadFinding(page_url=url, rule=rule, severity=severity, message=f"{rule} 信息")


def _count(store: LeadStore, model: type[LeadRow] | type[LeadEventRow]) -> int:
    with store.store.transaction() as session:
        return int(session.scalar(select(func.count()).select_from(model)) or 0)


def test_campaign_create_and_duplicates(leads: LeadStore) -> None:
    c = leads.create_campaign("海南专项", ["hainan"], urls=[URL_A, URL_B, URL_A], at=T0)
    assert c.packs == ("hainan",) and c.url_targets == [URL_A, URL_B]
    assert c.created_at == T0 and c.created_at.tzinfo is not None
    assert leads.require_campaign("海南专项").id == c.id
    with pytest.raises(LeadError, match="已存在"):
        leads.create_campaign("海南专项", ["hainan"], urls=[URL_A])
    with pytest.raises(LeadError):
        leads.create_campaign("空", ["hainan"])
    with pytest.raises(LeadError, match="没有名为"):
        leads.require_campaign("nope")


def test_sync_creates_once_and_touches_later(leads: LeadStore) -> None:
    c = leads.create_campaign("c", ["device-national"], urls=[URL_A, URL_B])
    first = leads.sync(c.id, None, [_f(URL_A, "CLAIM_ABSOLUTE"), _f(URL_A, "CLAIM_ABSOLUTE"),
                                    _f(URL_B, "PRODUCT_REGNO_MISSING")], [UrlCheck(URL_A, True)], at=T0)
    assert len(first.created) == 2 and not first.touched
    later = T0 + timedelta(days=1)
    second = leads.sync(c.id, None, [_f(URL_A, "CLAIM_ABSOLUTE", "critical"), _f(URL_B, "PRODUCT_REGNO_MISSING")],
                        [UrlCheck(URL_A, True), UrlCheck(URL_B, True)], at=later)
    assert not second.created and sorted(second.touched) == sorted(first.created)
    assert _count(leads, LeadRow) == 2
    lead = next(x for x in leads.leads("c") if x.rule == "CLAIM_ABSOLUTE")
    assert lead.status == "new" and lead.seen_count == 2 and lead.severity == "critical"
    assert lead.first_seen == T0 and lead.last_seen == later
    assert [e.kind for e in leads.events(lead.id)] == ["created"]


def test_assign_update_and_errors(leads: LeadStore) -> None:
    c = leads.create_campaign("c", ["hainan"], urls=[URL_A])
    (lead_id,) = leads.sync(c.id, None, [_f(URL_A, "CLAIM_GUARANTEE")], []).created
    lead = leads.assign(lead_id, "海口市市场监督管理局", at=T0)
    assert lead.status == "assigned" and lead.assignee == "海口市市场监督管理局" and lead.assigned_at == T0
    lead = leads.update(lead_id, "verified", "已现场核查", at=T0 + timedelta(hours=1))
    assert lead.status == "verified" and lead.notes[-1]["text"] == "已现场核查"
    lead = leads.update(lead_id, "resolved", "商家已删除违规用语", at=T0 + timedelta(hours=2))
    assert lead.status == "resolved" and lead.resolved_at == T0 + timedelta(hours=2)
    with pytest.raises(LeadError):
        leads.update(lead_id, "verified")  # closed
    with pytest.raises(LeadError):
        leads.assign(lead_id, "某局")
    with pytest.raises(LeadError, match="状态只能是"):
        leads.update(lead_id, "assigned")
    with pytest.raises(LeadError, match="没有编号"):
        leads.update(99999, "verified")
    kinds = [e.kind for e in leads.events(lead_id)]
    assert kinds == ["created", "assigned", "status", "status"]
    assert leads.counts(c.id)["resolved"] == 1


def test_recheck_reopens_when_back_and_records_when_fixed(leads: LeadStore) -> None:
    c = leads.create_campaign("c", ["hainan"], urls=[URL_A, URL_B])
    created = leads.sync(c.id, None, [_f(URL_A, "CLAIM_GUARANTEE"), _f(URL_B, "CLAIM_ABSOLUTE")], [], at=T0)
    for lead_id in created.created:
        leads.update(lead_id, "resolved", "已整改", at=T0 + timedelta(hours=1))
    later = T0 + timedelta(days=2)
    result = leads.sync(c.id, None, [LeadFinding(URL_A, "CLAIM_GUARANTEE", "high", "x", run_id=None)],
                        [UrlCheck(URL_A, True, None), UrlCheck(URL_B, True, None)], at=later)
    assert len(result.reopened) == 1 and len(result.rechecked_fixed) == 1 and not result.created
    a = next(x for x in leads.leads("c") if x.page_url == URL_A)
    b = next(x for x in leads.leads("c") if x.page_url == URL_B)
    assert a.status == "new" and a.resolved_at is None and a.reopened_count == 1
    assert a.recheck[-1]["result"] == "still_present"
    assert leads.events(a.id)[-1].kind == "reopened" and leads.events(a.id)[-1].note == "整改复查：问题仍在"
    assert b.status == "resolved" and b.recheck[-1]["result"] == "fixed"
    assert b.recheck[-1]["at"] == later.isoformat()
    assert leads.events(b.id)[-1].note == "整改复查：已整改"
    assert _count(leads, LeadRow) == 2
    # an unreachable re-check keeps the lead resolved and says so
    result = leads.sync(c.id, None, [], [UrlCheck(URL_B, False, None, "HTTP 404")], at=later + timedelta(days=1))
    assert result.rechecked_unreachable == (b.id,)
    assert leads.get_lead(b.id) is not None and leads.get_lead(b.id).status == "resolved"  # type: ignore[union-attr]


def test_dismissed_lead_is_not_duplicated_or_reopened(leads: LeadStore) -> None:
    c = leads.create_campaign("c", ["hainan"], urls=[URL_A])
    (lead_id,) = leads.sync(c.id, None, [_f(URL_A, "CLAIM_ABSOLUTE")], []).created
    leads.update(lead_id, "dismissed", "误报")
    result = leads.sync(c.id, None, [_f(URL_A, "CLAIM_ABSOLUTE")], [UrlCheck(URL_A, True)])
    assert result.touched == (lead_id,) and not result.created and not result.reopened
    assert leads.leads("c", status="dismissed")[0].id == lead_id
