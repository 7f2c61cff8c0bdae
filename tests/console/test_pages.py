"""Every page renders for every role (Chinese, Beijing time), the overview's comparisons and
warnings, reports and evidence of a run, campaigns and schedules, notifications, accounts — and
``mdwatch user add|token|list`` / ``mdwatch serve``'s wiring (TestClient and click's runner)."""

from __future__ import annotations

import io
import json
import zipfile
from datetime import timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner
from fastapi.testclient import TestClient

from mdwatch.scheduler.cli import cli
from mdwatch.scheduler.settings import BEIJING
from mdwatch.storage.leads import LeadStore
from mdwatch.storage.records import PageRecord, RunRecord
from mdwatch.storage.store import Store
from mdwatch.storage.sweeps import start_sweep
from tests.localsite import LocalSite, html

from .support import PRODUCT_A, Clock, Seeded, _capture, _finding, bearer, csrf_of, login, make_console, seed

PAGES = ("/", "/runs", "/runs?kind=sweep", "/review", "/review?status=unreviewed&severity=high", "/leads",
         "/leads?overdue=true", "/scan", "/campaigns", "/notifications")


def _second_sweep(seeded: Seeded, clock: Clock) -> int:
    """The same sweep again: one finding gone (fixed), one new, and a precision-guard warning."""
    at = clock.now + timedelta(hours=1)
    page = PageRecord(capture=_capture(PRODUCT_A, "<title>颈椎治疗仪</title><p>国家认证 销量第一</p>", at), url=PRODUCT_A,
                      kind="product", title="颈椎治疗仪", extracted={"shop_url": "http://shop-a.example/shop/1"},
                      findings=[_finding("CLAIM_ABSOLUTE", "medium", "销量第一", "第一"),
                                _finding("PRODUCT_REGNO_MISSING", "critical", "未标注注册证编号", "")])
    guard = {"share": 0.6, "min_pages": 10, "rules": {}, "pages_by_kind": {"product": 12}, "tripped": True,
             "held_rules": ["PRODUCT_REGNO_MISSING"],
             "alerts": [{"rule": "PRODUCT_REGNO_MISSING", "kind": "product", "pages": 11, "total": 12,
                         "share": 0.9167, "threshold": 0.6, "samples": [PRODUCT_A]}]}
    with Store.open(seeded.db_url) as store:
        return store.save_run(RunRecord(kind="sweep", target="demo", started_at=at, finished_at=at + timedelta(minutes=2),
                                        pages=[page], stats={"pages": 1, "findings": 2, "precision_guard": guard},
                                        status="done"))


@pytest.mark.parametrize("user", ["admin", "viewer", "hk"])
def test_every_page_renders_for_every_role(client: TestClient, seeded: Seeded, clock: Clock, user: str) -> None:
    run_id = _second_sweep(seeded, clock)
    login(client, user)
    finding = seeded.finding_ids["CLAIM_GUARANTEE"]
    lead = seeded.hk_leads[0]
    for path in (*PAGES, f"/runs/{run_id}", f"/findings/{finding}", f"/leads/{lead}"):
        page = client.get(path)
        assert page.status_code == 200, (path, page.text[:300])
        assert '<html lang="zh-CN">' in page.text and "时间均为北京时间" in page.text
    admin_only = client.get("/admin/users")
    assert admin_only.status_code == (200 if user == "admin" else 403)
    if user != "admin":
        assert "无权管理账户" in admin_only.text


def test_the_overview_compares_the_last_two_runs_and_shows_the_guard(client: TestClient, seeded: Seeded,
                                                                      clock: Clock) -> None:
    _second_sweep(seeded, clock)
    data = client.get("/api/overview", headers=bearer(seeded, "viewer")).json()
    change = next(c for c in data["changes"] if c["label"] == "巡查 demo")
    # product A: CLAIM_GUARANTEE fixed, PRODUCT_REGNO_MISSING still there, CLAIM_ABSOLUTE new; the
    # shop page and product B were not checked again, so their findings are not counted as fixed
    assert (change["new"], change["still_present"], change["fixed"]) == (1, 1, 1)
    assert [a["rule"] for a in data["precision_guard"]] == ["PRODUCT_REGNO_MISSING"]
    assert data["shops"][0]["url"] == "http://shop-a.example/shop/1"
    assert sum(data["severity_totals"].values()) == 6
    login(client, "viewer")
    html = client.get("/").text
    assert "精度警戒：PRODUCT_REGNO_MISSING" in html and "已整改 1" in html and 'id="overview-data"' in html


def test_a_runs_report_and_evidence_come_from_the_clis_code(client: TestClient, seeded: Seeded) -> None:
    viewer = {"Authorization": f"Bearer {seeded.tokens['viewer']}"}
    run_id = client.get("/api/runs", headers=viewer).json()[0]["id"]
    login(client, "viewer")
    report = client.get(f"/runs/{run_id}/report.html")
    assert report.status_code == 200 and "监测报告" in report.text
    xlsx = client.get(f"/runs/{run_id}/report.xlsx")
    assert xlsx.status_code == 200 and xlsx.content[:2] == b"PK"
    assert json.loads(client.get(f"/runs/{run_id}/report.json").content)["total_findings"] == 4
    assert client.get(f"/runs/{run_id}/report.pdf").status_code == 400
    finding = seeded.finding_ids["CLAIM_ABSOLUTE"]
    refused = client.get(f"/findings/{finding}/evidence.zip")  # an export writes the chain of custody
    assert refused.status_code == 403 and "只读用户无权导出证据包" in refused.text
    login(client, "reviewer")
    package = client.get(f"/findings/{finding}/evidence.zip")
    assert package.status_code == 200
    with zipfile.ZipFile(io.BytesIO(package.content)) as zf:
        assert "manifest.json" in zf.namelist()
    assert client.get("/runs/999999/report.html").status_code == 404


def test_campaigns_and_schedules_from_the_console(client: TestClient, seeded: Seeded) -> None:
    admin = bearer(seeded, "admin")
    made = client.post("/api/campaigns", headers=admin, json={
        "name": "儋州专项", "targets": ["https://shop.example/item/1"], "packs": ["device-national", "hainan"],
        "cron": "0 2 * * *", "org": "儋州市市场监督管理局"})
    assert made.status_code == 201, made.text
    assert made.json()["org"] == "儋州市市场监督管理局"
    schedule = next(s for s in client.get("/api/schedules", headers=admin).json() if s["name"] == "campaign-儋州专项")
    assert schedule["next_run_time"] is not None and not schedule["paused"]
    paused = client.post("/api/schedules/campaign-儋州专项/pause", headers=admin).json()
    assert paused["paused"] and paused["next_run_time"] is None
    assert client.post("/api/schedules/campaign-儋州专项/resume", headers=admin).json()["next_run_time"] is not None
    for body, word in (({"name": "x", "targets": ["http://127.0.0.1:9/"], "packs": ["hainan"]}, "已拒绝"),
                       ({"name": "x", "targets": ["/etc/passwd"], "packs": ["hainan"]}, "已拒绝"),
                       ({"name": "x", "targets": ["https://a.example/"], "packs": ["nope"]}, "nope"),
                       ({"name": "儋州专项", "targets": ["https://a.example/"], "packs": ["hainan"]}, "已存在")):
        refused = client.post("/api/campaigns", headers=admin, json=body)
        assert refused.status_code in (400, 409) and word in refused.json()["detail"], refused.text
    assert client.post("/api/schedules/campaign-儋州专项/pause", headers=bearer(seeded, "hk")).status_code == 403
    token = login(client, "admin")
    page = client.get("/campaigns").text
    assert "儋州专项" in page and "0 2 * * *" in page and "暂停" in page
    created = client.post("/campaigns", data={"name": "文昌专项", "targets": "https://b.example/1\nhttps://b.example/2",
                                              "packs": ["hainan"], "cron": "", "csrf_token": token},
                          follow_redirects=False)
    assert created.status_code == 303
    assert "文昌专项" in client.get("/campaigns").text


def test_notifications_and_their_results(client: TestClient, seeded: Seeded) -> None:
    from mdwatch.storage.notifications import NotificationStore

    with NotificationStore(seeded.db_url) as store:
        store.record(channel="wecom", target="企业微信 key=****", title="严重问题 2 项", ok=True, run_id=1)
        store.record(channel="email", target="ops@****", title="严重问题 2 项", ok=False, detail="SMTP 连接超时")
    got = client.get("/api/notifications", headers=bearer(seeded, "viewer")).json()
    assert got["available"] and [n["ok"] for n in got["notifications"]] == [False, True]
    login(client, "viewer")
    page = client.get("/notifications").text
    assert "企业微信" in page and "SMTP 连接超时" in page and "失败" in page


def test_user_commands_make_accounts_and_tokens_the_console_accepts(client: TestClient, seeded: Seeded) -> None:
    runner = CliRunner()
    db = ["--db", seeded.db_url]
    added = runner.invoke(cli, ["user", "add", "lh", "--role", "inspector", "--org", "龙华区市场监督管理局",
                                "--password-stdin", *db], input="long-password-1\n", standalone_mode=False)
    assert added.return_value == 0, added.output
    assert "已添加账户 lh（核查人员，龙华区市场监督管理局）" in added.output
    again = runner.invoke(cli, ["user", "add", "lh", "--role", "viewer", "--password-stdin", *db], input="x" * 9 + "\n",
                          standalone_mode=False)
    assert again.return_value == 2
    no_org = runner.invoke(cli, ["user", "add", "nobody", "--role", "inspector", "--password-stdin", *db],
                           input="long-password-1\n", standalone_mode=False)
    assert no_org.return_value == 2
    made = runner.invoke(cli, ["user", "token", "lh", "--label", "脚本", *db], standalone_mode=False)
    assert made.return_value == 0
    token = made.stdout.strip()
    assert token.startswith("mdw_") and "\n" not in token
    me = client.get("/api/me", headers={"Authorization": f"Bearer {token}"}).json()
    assert (me["name"], me["role"], me["org"], me["via"]) == ("lh", "inspector", "龙华区市场监督管理局", "token")
    listed = json.loads(runner.invoke(cli, ["user", "list", "--json", *db], standalone_mode=False).output)
    assert {"name": "lh", "tokens": 1}.items() <= next(u for u in listed if u["name"] == "lh").items()
    assert token.encode() not in Path(seeded.db_url.removeprefix("sqlite:///")).read_bytes()  # only its hash
    page = client.get("/login")
    logged = client.post("/login", data={"name": "lh", "password": "long-password-1", "csrf_token": csrf_of(page.text)},
                         follow_redirects=False)
    assert logged.status_code == 303


def test_serve_builds_the_console_on_the_clis_application(monkeypatch: pytest.MonkeyPatch, seeded: Seeded) -> None:
    import uvicorn

    seen: dict[str, object] = {}

    def fake_run(asgi: object, **kwargs: object) -> None:
        seen["asgi"], seen["kwargs"] = asgi, kwargs

    monkeypatch.setattr(uvicorn, "run", fake_run)
    result = CliRunner().invoke(cli, ["serve", "--db", seeded.db_url, "--port", "18080",
                                      "--scan-allow", "http://127.0.0.1:8000, intranet.example"],
                                standalone_mode=False)
    assert result.return_value == 0, result.output
    assert "监测工作台：http://127.0.0.1:18080/" in result.output
    console = seen["asgi"].state.console  # type: ignore[attr-defined]
    assert console.app.db_url == seeded.db_url
    assert console.app.config.scan_allow == ("http://127.0.0.1:8000", "intranet.example")
    assert seen["kwargs"] == {"host": "127.0.0.1", "port": 18080, "log_level": "warning", "proxy_headers": True}
    console.close()


def test_a_running_sweep_is_polled_and_shows_its_progress(client: TestClient, seeded: Seeded, clock: Clock) -> None:
    with Store.open(seeded.db_url) as store:
        run_id = start_sweep(store, "demo", {"profile": "demo"}, started_at=clock.now)
    login(client, "viewer")
    table = client.get("/runs").text
    assert 'hx-get="/runs/table"' in table and 'hx-trigger="every 2s"' in table and "运行中" in table
    progress = client.get(f"/runs/{run_id}/progress").text
    assert f'hx-get="/runs/{run_id}/progress"' in progress and "已完成 0 页" in progress
    assert client.get(f"/api/runs/{run_id}", headers=bearer(seeded, "viewer")).json()["status"] == "running"


def test_run_now_starts_the_campaign_in_its_own_process(seeded: Seeded, clock: Clock) -> None:
    with LocalSite({"/p.html": html("<title>理疗贴</title><p>本品保证治愈，无效退款</p>")}) as site:
        api = make_console(seeded.db_url, clock, scan_allow=(site.url("/").rstrip("/"),))
        try:
            with TestClient(api) as client:
                admin = bearer(seeded, "admin")
                made = client.post("/api/campaigns", headers=admin, json={
                    "name": "本地专项", "targets": [site.url("/p.html")], "packs": ["device-national"]})
                assert made.status_code == 201, made.text
                started = client.post("/api/campaigns/本地专项/run", headers=admin)
                assert started.status_code == 202
                process = api.state.console.children[-1]
                assert process.wait(timeout=120) == 0
            with LeadStore.open(seeded.db_url) as leads:
                campaign = leads.require_campaign("本地专项")
                runs = leads.campaign_runs(campaign.id)
                assert [r.status for r in runs] == ["done"]
                assert {lead.rule for lead in leads.leads("本地专项")} >= {"CLAIM_GUARANTEE"}
            assert "/p.html" in site.hits
        finally:
            api.state.console.close()


def test_the_dashboard_queries_run_on_postgresql(postgres_url: str, clock: Clock) -> None:
    """The overview's grouped queries (days in Beijing time, shops by severity), the inbox's
    credit codes and the review filters, on PostgreSQL (SQLite runs them in the tests above)."""
    seeded = seed(postgres_url, clock.now)
    _second_sweep(seeded, clock)
    api = make_console(postgres_url, clock)
    try:
        with TestClient(api) as client:
            viewer = bearer(seeded, "viewer")
            data = client.get("/api/overview", headers=viewer).json()
            today = clock.now.astimezone(BEIJING).strftime("%Y-%m-%d")
            assert data["charts"]["days"][-1] == today
            assert sum(sum(s["data"]) for s in data["charts"]["severities"]) == 6
            assert data["shops"][0]["by_severity"]["critical"] == 2
            assert next(c for c in data["changes"] if c["label"] == "巡查 demo")["fixed"] == 1
            companies = client.get("/api/leads", headers=viewer).json()["companies"]
            assert {c["uscc"] for c in companies} == {"914401016721349840", None}
            hosts = client.get("/api/findings?platform=shop-b.example", headers=viewer).json()
            assert [f["rule"] for f in hosts["findings"]] == ["CLAIM_ABSOLUTE"]
            shop = data["shops"][0]["id"]
            assert client.get(f"/api/findings?shop_id={shop}", headers=viewer).json()["total"] == 5
    finally:
        api.state.console.close()
