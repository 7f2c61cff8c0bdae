"""Review (field precision, labelled data), the lead workflow with deadlines and a movable clock,
re-checks that cannot judge a rule, and the scan form's fetch policy (TestClient)."""

from __future__ import annotations

import json
from datetime import timedelta

from fastapi.testclient import TestClient

from mdwatch.scheduler.settings import BEIJING
from mdwatch.storage.leads import LeadFinding, LeadStore, UrlCheck
from mdwatch.storage.store import Store
from tests.localsite import LocalSite, Reply, html

from .support import Clock, Seeded, bearer, csrf_of, login, make_console, seed


def _precision(client: TestClient, seeded: Seeded, rule: str) -> dict[str, object]:
    rows = client.get("/api/precision", headers=bearer(seeded, "viewer")).json()
    return next(r for r in rows if r["rule"] == rule)


def test_review_gives_each_rule_a_field_precision_and_labelled_data(db_url: str, clock: Clock) -> None:
    """On SQLite and PostgreSQL: two decisions on one rule, the precision beside the corpus figure,
    and the JSON Lines a later ``mdwatch model export-feedback`` reads."""
    seeded = seed(db_url, clock.now)
    api = make_console(db_url, clock)
    try:
        with TestClient(api) as client:
            reviewer = bearer(seeded, "reviewer")
            before = _precision(client, seeded, "CLAIM_GUARANTEE")
            assert before["field_precision"] is None and before["corpus_precision"] == 1.0
            finding = seeded.finding_ids["CLAIM_GUARANTEE"]
            answer = client.post(f"/api/findings/{finding}/review", headers=reviewer,
                                 json={"decision": "dismissed", "reason": "“保证治愈”出自患者留言引用，非商家宣称"})
            assert answer.status_code == 200, answer.text
            assert _precision(client, seeded, "CLAIM_GUARANTEE")["field_precision"] == 0.0
            other = seeded.finding_ids["CLAIM_ABSOLUTE"]
            client.post(f"/api/findings/{other}/review", headers=reviewer, json={"decision": "confirmed", "reason": "属实"})
            absolute = _precision(client, seeded, "CLAIM_ABSOLUTE")
            assert (absolute["confirmed"], absolute["dismissed"], absolute["field_precision"]) == (1, 0, 1.0)
            lines = client.get("/api/feedback", headers=reviewer).text.splitlines()
            assert len(lines) == 1
            row = json.loads(lines[0])
            assert set(row) >= {"finding_id", "rule", "decision", "reason", "reviewer", "decided_at", "snippet"}
            assert (row["finding_id"], row["rule"], row["decision"], row["reviewer"]) == (
                finding, "CLAIM_GUARANTEE", "dismissed", "reviewer")
            assert "保证治愈颈椎病" in row["snippet"]
            dismissed = client.get("/api/findings?status=dismissed&rule=CLAIM_GUARANTEE", headers=reviewer).json()
            assert [f["id"] for f in dismissed["findings"]] == [finding]
            bad = client.post(f"/api/findings/{finding}/review", headers=reviewer,
                              json={"decision": "maybe", "reason": "x"})
            assert bad.status_code == 422 and bad.json()["detail"].startswith("请求参数不正确")
    finally:
        api.state.console.close()


def test_leads_move_one_step_at_a_time_and_turn_overdue_on_the_clock(client: TestClient, seeded: Seeded,
                                                                      clock: Clock) -> None:
    hk = bearer(seeded, "hk")
    lead = seeded.hk_leads[0]
    early = client.post(f"/api/leads/{lead}/advance", headers=hk, json={"status": "verified", "note": "先核查"})
    assert early.status_code == 409 and "下一步只能是：已交办" in early.json()["detail"]
    deadline = (clock.now + timedelta(days=2)).astimezone(BEIJING).date().isoformat()
    assigned = client.post(f"/api/leads/{lead}/assign", headers=hk,
                           json={"bureau": "龙华区市场监督管理局", "deadline": deadline, "note": "请十日内核查"}).json()
    assert assigned["status"] == "assigned" and assigned["status_zh"] == "已交办" and not assigned["overdue"]
    clock.advance(days=3)
    assert client.get(f"/api/leads/{lead}", headers=hk).json()["overdue"] is True
    overdue = client.get("/api/leads?overdue=true", headers=hk).json()
    assert [x["id"] for c in overdue["companies"] for s in c["shops"] for x in s["leads"]] == [lead]
    assert client.post(f"/api/leads/{lead}/advance", headers=hk, json={"status": "resolved", "note": "跳步"}
                       ).status_code == 409
    for status, zh in (("verified", "核查中"), ("resolved", "已处置")):
        moved = client.post(f"/api/leads/{lead}/advance", headers=hk, json={"status": status, "note": f"{zh}说明"})
        assert moved.status_code == 200 and moved.json()["status_zh"] == zh
    assert client.get(f"/api/leads/{lead}", headers=hk).json()["overdue"] is False  # closed: no longer overdue
    events = client.get(f"/api/leads/{lead}", headers=hk).json()["events"]
    assert [e["to"] for e in events] == ["new", "assigned", "verified", "resolved"]
    assert all(e["actor"] == "hk" for e in events[1:]) and "核查中说明" in events[2]["note"]
    missing_note = client.post(f"/api/leads/{seeded.hk_leads[1]}/assign", headers=hk, json={"bureau": "某局"})
    assert missing_note.status_code == 422


def test_leads_are_grouped_by_company_credit_code_and_shop(client: TestClient, seeded: Seeded) -> None:
    companies = client.get("/api/leads", headers=bearer(seeded, "admin")).json()["companies"]
    by_code = {c["uscc"]: c for c in companies}
    assert set(by_code) == {"914401016721349840", None}
    hk = by_code["914401016721349840"]
    assert [s["shop_url"] for s in hk["shops"]] == ["http://shop-a.example/shop/1"]
    assert {x["rule"] for x in hk["shops"][0]["leads"]} == {"CLAIM_GUARANTEE", "PRODUCT_REGNO_MISSING"}
    login(client, "admin")
    page = client.get("/leads").text
    assert "统一社会信用代码" in page and "914401016721349840" in page and "未识别企业" in page


def test_the_inbox_page_marks_overdue_leads(client: TestClient, seeded: Seeded, clock: Clock) -> None:
    token = login(client, "hk")
    lead = seeded.hk_leads[0]
    page = client.get(f"/leads/{lead}").text
    day = (clock.now + timedelta(days=1)).astimezone(BEIJING).date().isoformat()
    done = client.post(f"/leads/{lead}/assign", data={"bureau": "美兰区市场监督管理局", "deadline": day, "note": "交办",
                                                     "csrf_token": csrf_of(page)}, follow_redirects=False)
    assert done.status_code == 303
    assert "已逾期" not in client.get("/leads").text
    clock.advance(days=2)
    inbox = client.get("/leads").text
    assert f'<tr id="lead-{lead}" class="overdue">' in inbox and "已逾期" in inbox
    assert token


def test_a_recheck_that_could_not_judge_the_rule_never_marks_a_lead_fixed(seeded: Seeded, clock: Clock) -> None:
    with LeadStore.open(seeded.db_url) as leads:
        lead = leads.get_lead(seeded.hk_leads[0])
        assert lead is not None
        leads.assign(lead.id, "龙华区市场监督管理局", at=clock.now)
        leads.update(lead.id, "resolved", "已责令整改", at=clock.now)
        campaign = leads.require_campaign(lead.campaign)
        crun = leads.start_campaign_run(campaign.id, clock.now)
        undetermined = leads.sync(campaign.id, crun, [], [UrlCheck(lead.page_url, True, None, None,
                                                                   frozenset({lead.rule}))], at=clock.now)
        assert lead.id in undetermined.rechecked_undetermined and not undetermined.rechecked_fixed
        again = leads.get_lead(lead.id)
        assert again is not None and again.recheck[-1]["result"] == "undetermined"
        fixed = leads.sync(campaign.id, crun, [], [UrlCheck(lead.page_url, True)], at=clock.now)
        assert fixed.rechecked_fixed == (lead.id,)
        back = leads.sync(campaign.id, crun, [LeadFinding(lead.page_url, lead.rule, "high", "又出现")],
                          [UrlCheck(lead.page_url, True)], at=clock.now)
        assert back.reopened == (lead.id,)


def test_the_scan_form_refuses_a_loopback_target_unless_allow_listed(client: TestClient, seeded: Seeded) -> None:
    with LocalSite({"/item.html": html("<title>测试商品</title><p>本品保证治愈</p>")}) as site:
        url = site.url("/item.html")
        token = login(client, "hk")
        refused = client.post("/scan", data={"url": url, "csrf_token": token})
        assert refused.status_code == 400
        assert "已拒绝" in refused.text and "本机回环地址" in refused.text and "扫描白名单" in refused.text
        api = client.post("/api/scans", json={"url": url}, headers=bearer(seeded, "reviewer"))
        assert api.status_code == 400 and "工作台只检测公网地址" in api.json()["detail"]
        for target in ("http://169.254.169.254/latest/meta-data/", "http://[::1]:8080/", "file:///etc/passwd",
                       "http://10.0.0.8/"):
            answer = client.post("/api/scans", json={"url": target}, headers=bearer(seeded, "reviewer"))
            assert answer.status_code == 400 and answer.json()["detail"].startswith("已拒绝"), target
        assert site.hits == []  # nothing was fetched
    with Store.open(seeded.db_url) as store:
        assert [r.kind for r in store.runs()] == ["sweep"]


def test_an_allow_listed_origin_is_scanned_through_the_api(seeded: Seeded, clock: Clock) -> None:
    page = html("<title>颈椎治疗仪</title><p>本品保证治愈颈椎病，无效退款。</p>")
    with LocalSite({"/item.html": page}) as site:
        api = make_console(seeded.db_url, clock, scan_allow=(site.url("/").rstrip("/"),))
        try:
            with TestClient(api) as client:
                result = client.post("/api/scans", json={"url": site.url("/item.html")},
                                     headers=bearer(seeded, "reviewer"))
                assert result.status_code == 200, result.text
                doc = result.json()
                assert doc["failed"] == [] and doc["run_id"] is not None
                assert "CLAIM_GUARANTEE" in {f["rule"] for f in doc["pages"][0]["findings"]}
                other_port = site.url("/item.html").rsplit(":", 1)[0] + ":9/item.html"
                assert client.post("/api/scans", json={"url": other_port},
                                   headers=bearer(seeded, "reviewer")).status_code == 400
        finally:
            api.state.console.close()


def test_the_crawl_itself_refuses_what_the_form_would_every_hop(seeded: Seeded, clock: Clock) -> None:
    """Behind the form's check, the crawl judges the address it connects to at every hop: a target
    the pre-check never saw (a name that resolves differently later) and a redirect off the
    allow-listed origin are both refused, and nothing of them is fetched or stored."""
    from mdwatch.scheduler.app import AppConfig, build_app

    with LocalSite({"/secret.html": html("<title>内网</title><p>机密</p>")}) as inner, \
         LocalSite({"/go.html": Reply(status=302, headers={"Location": inner.url("/secret.html")})}) as outer:
        app = build_app(AppConfig(db_url=seeded.db_url, ocr_engine=None, browser=False, evidence=False,
                                  timeout_s=10, scan_allow=(outer.url("/").rstrip("/"),)))
        direct = app.scan([inner.url("/secret.html")], web=True)
        hop = app.scan([outer.url("/go.html")], web=True)
        assert inner.hits == [] and outer.hits == ["/go.html"]
    for result in (direct, hop):
        assert result.run_id is None and len(result.failed) == 1
        assert "已拒绝" in (result.failed[0].error or "")
