"""Helpers of the console tests: a seeded database (two bureaus' campaigns and leads, findings on
three pages of two shops, five accounts), the console on it with a clock the test moves, a
logged-in TestClient, and uvicorn on 127.0.0.1 (random port) in a thread for the browser tests.

Nothing here leaves the machine: every URL is 127.0.0.1 or a name under ``.example`` that is
never fetched.
"""

from __future__ import annotations

import re
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from fastapi import FastAPI
from fastapi.testclient import TestClient

from mdwatch.console import ConsoleSettings, create_console
from mdwatch.scheduler.app import AppConfig, build_app
from mdwatch.storage.accounts import AccountStore
from mdwatch.storage.leads import LeadFinding, LeadStore, run_findings
from mdwatch.storage.records import CaptureRecord, FindingRecord, PageRecord, RunRecord
from mdwatch.storage.store import Store

PASSWORD = "password-123"
HK = "海口市市场监督管理局"
SY = "三亚市市场监督管理局"
USCC = "914401016721349840"  # valid check character (a demo-platform shop's)
SHOP_A = "http://shop-a.example/shop/1"
SHOP_B = "http://shop-b.example/shop/2"
PRODUCT_A = "http://shop-a.example/item/11"
PRODUCT_B = "http://shop-b.example/item/22"


@dataclass
class Clock:
    """The application's clock, moved by the test."""

    now: datetime = field(default_factory=lambda: datetime.now(UTC).replace(microsecond=0))

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


@dataclass
class Seeded:
    db_url: str
    finding_ids: dict[str, int]  # rule → finding id
    hk_leads: list[int]
    sy_leads: list[int]
    tokens: dict[str, str]  # user → API token


def _capture(url: str, html: str, at: datetime) -> CaptureRecord:
    import hashlib

    body = html.encode("utf-8")
    return CaptureRecord(url=url, final_url=url, status=200, headers={"content-type": "text/html; charset=utf-8"},
                         body=body, sha256=hashlib.sha256(body).hexdigest(), fetched_at=at, encoding="utf-8")


def _finding(rule: str, severity: str, snippet: str, match: str) -> FindingRecord:
    return FindingRecord(rule=rule, severity=severity, article="《医疗器械网络销售监督管理办法》", message=f"{rule} 示例问题",
                         evidence=[{"source": "text", "snippet": snippet, "match": match}])


def _run(at: datetime) -> RunRecord:
    qualification = _capture("http://shop-a.example/shop/1/qualification",
                             f"<html><body><h1>资质</h1><p>统一社会信用代码：{USCC}</p></body></html>", at)
    shop_a = PageRecord(capture=_capture(SHOP_A, "<html><title>安康医疗器械专营店</title><body>店铺首页</body></html>", at),
                        url=SHOP_A, kind="shop", title="安康医疗器械专营店", related_captures=[qualification],
                        findings=[_finding("SHOP_LICENSE_NO_INVALID", "high", "许可证编号：琼食药监械经营备2099X", "2099X")])
    product_a = PageRecord(
        capture=_capture(PRODUCT_A, "<html><title>颈椎治疗仪</title><body>本品保证治愈颈椎病</body></html>", at),
        url=PRODUCT_A, kind="product", title="颈椎治疗仪", extracted={"shop_url": SHOP_A},
        findings=[_finding("CLAIM_GUARANTEE", "high", "本品保证治愈颈椎病，无效退款", "保证治愈"),
                  _finding("PRODUCT_REGNO_MISSING", "critical", "商品详情未标注注册证编号", "")])
    product_b = PageRecord(
        capture=_capture(PRODUCT_B, "<html><title>血压计</title><body>全网最准的血压计</body></html>", at),
        url=PRODUCT_B, kind="product", title="血压计", extracted={"shop_url": SHOP_B},
        findings=[_finding("CLAIM_ABSOLUTE", "medium", "全网最准的血压计", "最准")])
    return RunRecord(kind="sweep", target="demo", started_at=at - timedelta(minutes=3), finished_at=at,
                     pages=[shop_a, product_a, product_b], stats={"pages": 3, "findings": 4}, status="done")


def seed(db_url: str, now: datetime) -> Seeded:
    with Store.open(db_url) as store:
        run_id = store.save_run(_run(now))
    with LeadStore.open(db_url) as leads:
        found = run_findings(leads.store, run_id)
        ids = {f.rule: f.finding_id for f in found}
        made: dict[str, list[int]] = {}
        for name, org, url in (("海口专项", HK, PRODUCT_A), ("三亚专项", SY, PRODUCT_B)):
            campaign = leads.create_campaign(name, ["device-national"], urls=[url], org=org, at=now)
            crun = leads.start_campaign_run(campaign.id, now)
            result = leads.sync(campaign.id, crun, [
                LeadFinding(f.page_url, f.rule, f.severity, f.message, run_id, f.finding_id, f.shop_url, f.title)
                for f in found if f.page_url == url], [], at=now)
            leads.finish_campaign_run(crun, "done", [run_id], {"findings": len(result.created)}, at=now)
            made[org] = list(result.created)
    tokens: dict[str, str] = {}
    with AccountStore(db_url) as accounts:
        for name, role, org in (("admin", "admin", None), ("reviewer", "reviewer", None), ("viewer", "viewer", None),
                                ("hk", "inspector", HK), ("sy", "inspector", SY)):
            accounts.add_user(name, role, PASSWORD, org=org, at=now)
            tokens[name] = accounts.create_token(name, "tests", at=now)[0]
    return Seeded(db_url, ids, made[HK], made[SY], tokens)


def make_console(db_url: str, clock: Clock, scan_allow: tuple[str, ...] = ()) -> FastAPI:
    app = build_app(AppConfig(db_url=db_url, ocr_engine=None, browser=False, evidence=False, timeout_s=10,
                              clock=clock, scan_allow=scan_allow))
    return create_console(app, ConsoleSettings(session_hours=24 * 365))


def csrf_of(html: str) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert found, "no CSRF token on the page"
    return found.group(1)


def login(client: TestClient, name: str, password: str = PASSWORD) -> str:
    """Log ``name`` in (whoever was logged in before); the session's CSRF token."""
    client.cookies.clear()
    page = client.get("/login")
    response = client.post("/login", data={"name": name, "password": password, "csrf_token": csrf_of(page.text),
                                           "next": "/"}, follow_redirects=False)
    assert response.status_code == 303, response.text
    return csrf_of(client.get("/").text)


def bearer(seeded: Seeded, user: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {seeded.tokens[user]}"}


class LiveServer:
    """uvicorn serving ``asgi`` on 127.0.0.1, a random port, in a thread."""

    def __init__(self, asgi: Any) -> None:
        import uvicorn

        self.server = uvicorn.Server(uvicorn.Config(asgi, host="127.0.0.1", port=0, log_level="warning",
                                                    lifespan="off"))
        self.thread = threading.Thread(target=self.server.run, name="console-test-server", daemon=True)

    def __enter__(self) -> LiveServer:
        self.thread.start()
        deadline = time.monotonic() + 30
        while not self.server.started:  # a condition, not a guess: uvicorn says when it listens
            if not self.thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("uvicorn did not start")
            time.sleep(0.02)
        return self

    @property
    def url(self) -> str:
        port = self.server.servers[0].sockets[0].getsockname()[1]
        return f"http://127.0.0.1:{port}"

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)
