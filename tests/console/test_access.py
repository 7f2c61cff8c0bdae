"""Accounts, sessions, CSRF and roles: who may see and change what (TestClient, no browser)."""

from __future__ import annotations

from fastapi.testclient import TestClient

from mdwatch.storage.audit import AuditStore

from .support import Seeded, bearer, csrf_of, login


def test_login_sets_an_httponly_lax_session_cookie_secure_over_https(api: object) -> None:
    from fastapi import FastAPI

    assert isinstance(api, FastAPI)
    for base, secure in (("http://127.0.0.1", False), ("https://console.example", True)):
        with TestClient(api, base_url=base) as client:
            page = client.get("/login")
            done = client.post("/login", data={"name": "viewer", "password": "password-123",
                                               "csrf_token": csrf_of(page.text), "next": "/"}, follow_redirects=False)
            assert done.status_code == 303 and done.headers["location"] == "/"
            cookie = next(h for h in done.headers.get_list("set-cookie") if h.startswith("mdwatch_session="))
            flags = cookie.lower()
            assert "httponly" in flags and "samesite=lax" in flags
            assert ("secure" in flags.split("; ")) is secure


def test_a_login_without_its_form_token_or_with_a_wrong_password_is_refused(client: TestClient) -> None:
    client.get("/login")
    refused = client.post("/login", data={"name": "admin", "password": "password-123", "next": "/"},
                          follow_redirects=False)
    assert refused.status_code == 403 and "CSRF" in refused.text
    page = client.get("/login")
    wrong = client.post("/login", data={"name": "admin", "password": "nope-nope", "csrf_token": csrf_of(page.text)})
    assert wrong.status_code == 401 and "用户名或密码错误" in wrong.text
    assert client.get("/", follow_redirects=False).status_code == 303  # still logged out: to the login page


def test_a_form_post_without_the_csrf_token_is_refused(client: TestClient, seeded: Seeded) -> None:
    token = login(client, "reviewer")
    finding = seeded.finding_ids["CLAIM_GUARANTEE"]
    refused = client.post(f"/findings/{finding}/review", data={"decision": "dismissed", "reason": "误报"},
                          follow_redirects=False)
    assert refused.status_code == 403 and "CSRF" in refused.text
    forged = client.post(f"/findings/{finding}/review",
                         data={"decision": "dismissed", "reason": "误报", "csrf_token": "x" + token[1:]})
    assert forged.status_code == 403
    assert client.get(f"/api/findings/{finding}").json()["review"] is None  # nothing was recorded
    done = client.post(f"/findings/{finding}/review", data={"decision": "dismissed", "reason": "误报",
                                                            "csrf_token": token}, follow_redirects=False)
    assert done.status_code == 303
    assert client.get(f"/api/findings/{finding}").json()["review"]["decision"] == "dismissed"


def test_api_writes_with_a_session_need_the_csrf_header(client: TestClient, seeded: Seeded) -> None:
    token = login(client, "reviewer")
    finding = seeded.finding_ids["CLAIM_ABSOLUTE"]
    body = {"decision": "confirmed", "reason": "宣称绝对化用语"}
    refused = client.post(f"/api/findings/{finding}/review", json=body)
    assert refused.status_code == 403 and refused.json()["detail"].startswith("安全校验")
    assert client.post(f"/api/findings/{finding}/review", json=body, headers={"X-CSRF-Token": token}).status_code == 200


def test_a_viewers_api_token_reads_but_cannot_write(client: TestClient, seeded: Seeded) -> None:
    viewer = bearer(seeded, "viewer")
    assert client.get("/api/findings", headers=viewer).json()["total"] == 4
    finding = seeded.finding_ids["CLAIM_GUARANTEE"]
    for path, body in ((f"/api/findings/{finding}/review", {"decision": "dismissed", "reason": "x"}),
                       (f"/api/leads/{seeded.hk_leads[0]}/assign", {"bureau": "某局", "note": "x"}),
                       ("/api/campaigns", {"name": "n", "targets": ["http://shop.example/"], "packs": ["hainan"]}),
                       ("/api/scans", {"url": "http://shop.example/"})):
        answer = client.post(path, json=body, headers=viewer)
        assert answer.status_code == 403, (path, answer.text)
        assert "只读用户无权" in answer.json()["detail"]
    assert client.get(f"/api/findings/{finding}", headers=viewer).json()["review"] is None


def test_missing_or_invalid_credentials_are_401_with_a_chinese_message(client: TestClient) -> None:
    anonymous = client.get("/api/findings")
    assert anonymous.status_code == 401 and anonymous.json() == {"detail": "请先登录。"}
    forged = client.get("/api/findings", headers={"Authorization": "Bearer mdw_forged"})
    assert forged.status_code == 401 and "令牌无效" in forged.json()["detail"]
    assert client.get("/api/nothing-here").json()["detail"] == "没有这个页面或接口。"


def test_an_inspector_of_another_bureau_can_neither_see_nor_change_a_lead(client: TestClient, seeded: Seeded) -> None:
    hk_lead = seeded.hk_leads[0]
    sy = bearer(seeded, "sy")
    listed = client.get("/api/leads", headers=sy).json()
    ids = {lead["id"] for c in listed["companies"] for s in c["shops"] for lead in s["leads"]}
    assert ids == set(seeded.sy_leads) and hk_lead not in ids
    assert client.get(f"/api/leads/{hk_lead}", headers=sy).status_code == 404
    for path, body in ((f"/api/leads/{hk_lead}/assign", {"bureau": SY_NAME, "note": "抢办"}),
                       (f"/api/leads/{hk_lead}/advance", {"status": "verified", "note": "越权"})):
        assert client.post(path, json=body, headers=sy).status_code == 404
    assert client.get(f"/api/leads/{hk_lead}", headers=bearer(seeded, "hk")).json()["status"] == "new"
    login(client, "sy")
    page = client.get("/leads")
    assert page.status_code == 200 and f'id="lead-{hk_lead}"' not in page.text
    assert f'id="lead-{seeded.sy_leads[0]}"' in page.text
    assert client.get(f"/leads/{hk_lead}").status_code == 404


SY_NAME = "三亚市市场监督管理局"


def test_every_change_is_audited_with_who_when_and_where(client: TestClient, seeded: Seeded) -> None:
    finding = seeded.finding_ids["CLAIM_GUARANTEE"]
    client.post(f"/api/findings/{finding}/review", json={"decision": "confirmed", "reason": "属实"},
                headers=bearer(seeded, "reviewer"))
    client.post(f"/api/leads/{seeded.hk_leads[0]}/assign", json={"bureau": "琼山区市场监督管理局", "note": "请核查"},
                headers=bearer(seeded, "hk"))
    with AuditStore(seeded.db_url) as audit:
        entries = audit.entries(limit=10)
    by_action = {e.action: e for e in entries}
    review, assign = by_action["review.confirm"], by_action["lead.assign"]
    assert (review.actor, review.role, review.target, review.address) == ("reviewer", "reviewer", str(finding),
                                                                          "testclient")
    assert assign.actor == "hk" and assign.org == "海口市市场监督管理局"
    assert assign.detail["bureau"] == "琼山区市场监督管理局"
    admin = client.get("/api/audit", headers=bearer(seeded, "admin")).json()
    assert {"review.confirm", "lead.assign"} <= {e["action"] for e in admin}
    assert client.get("/api/audit", headers=bearer(seeded, "reviewer")).status_code == 403
