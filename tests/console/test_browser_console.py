"""The console in a real headless Chromium (Playwright, Debian's Chromium as the project's other
browser tests launch it), against uvicorn on 127.0.0.1 in a thread: a reviewer dismisses a finding
and sees the rule's field precision change; an inspector of another bureau neither sees nor
changes the first bureau's lead; a lead handed over with a deadline turns overdue when the clock
moves; a URL on the allow-listed local demo site is scanned; the overview draws its charts.

One server, one browser and one seeded database for the module; each test logs in afresh in its
own browser context and works on its own finding or lead.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from dataclasses import dataclass, replace
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from mdwatch.crawler.browser import CHROMIUM_ARGS, CHROMIUM_PATH
from mdwatch.scheduler.settings import BEIJING
from tests.localsite import LocalSite, html

from .support import HK, PASSWORD, Clock, LiveServer, Seeded, make_console

pytestmark = pytest.mark.network

TIMEOUT_MS = 30_000
PRODUCT_PAGE = ("<title>颈椎治疗仪（演示）</title><h1>颈椎治疗仪</h1>"
                "<p>本品保证治愈颈椎病，无效退款。</p><p>价格：¥199.00</p>")


@dataclass
class Env:
    base: str
    seeded: Seeded
    clock: Clock
    site: LocalSite
    browser: Any


@pytest.fixture(scope="module")
def env(seeded_template: tuple[Path, Seeded], tmp_path_factory: pytest.TempPathFactory) -> Iterator[Env]:
    if not os.access(CHROMIUM_PATH, os.X_OK):
        pytest.skip(f"{CHROMIUM_PATH} is missing")
    from playwright.sync_api import sync_playwright

    source, data = seeded_template
    target = tmp_path_factory.mktemp("browser") / "console.sqlite3"
    shutil.copyfile(source, target)
    seeded = replace(data, db_url="sqlite:///" + target.as_posix())
    clock = Clock()
    with LocalSite({"/item.html": html(PRODUCT_PAGE)}) as site:
        asgi = make_console(seeded.db_url, clock, scan_allow=(site.url("/").rstrip("/"),))
        with LiveServer(asgi) as server, sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=CHROMIUM_PATH, args=list(CHROMIUM_ARGS), headless=True)
            try:
                yield Env(server.url, seeded, clock, site, browser)
            finally:
                browser.close()
        asgi.state.console.close()


@pytest.fixture
def page(env: Env) -> Iterator[Any]:
    context = env.browser.new_context(locale="zh-CN", timezone_id="Asia/Shanghai",
                                      viewport={"width": 1440, "height": 1000})
    context.set_default_timeout(TIMEOUT_MS)
    tab = context.new_page()
    yield tab
    context.close()


def _login(page: Any, env: Env, name: str) -> None:
    page.goto(f"{env.base}/login")
    page.fill("input[name=name]", name)
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"{env.base}/")
    assert page.text_content("#me-name") == name


def test_a_reviewer_dismisses_a_finding_and_sees_the_rules_field_precision_change(page: Any, env: Env) -> None:
    finding = env.seeded.finding_ids["CLAIM_GUARANTEE"]
    _login(page, env, "reviewer")
    page.goto(f"{env.base}/findings/{finding}")
    assert page.text_content("#rule-precision .field-precision") == "—"
    assert page.text_content("blockquote.snippet mark") == "保证治愈"  # the match highlighted
    page.fill("#review-panel textarea[name=reason]", "引用患者留言，非商家宣称")
    page.click("#review-panel button[value=dismissed]")
    page.wait_for_selector("#decision.st-dismissed")
    assert page.text_content("#rule-precision .field-precision") == "0.0%"
    assert "误报驳回：引用患者留言" in page.text_content("#decision")
    page.goto(f"{env.base}/review?rule=CLAIM_GUARANTEE")
    assert page.text_content("#precision-CLAIM_GUARANTEE .field-precision") == "0.0%"
    assert page.text_content(f"#finding-{finding} .review") == "误报驳回"


def test_an_inspector_of_another_bureau_cannot_see_or_change_the_first_bureaus_lead(page: Any, env: Env) -> None:
    lead = env.seeded.hk_leads[1]
    _login(page, env, "sy")
    page.goto(f"{env.base}/leads")
    assert page.locator(f"#lead-{env.seeded.sy_leads[0]}").count() == 1
    assert page.locator(f"#lead-{lead}").count() == 0
    answer = page.goto(f"{env.base}/leads/{lead}")
    assert answer.status == 404 and "无权查看" in page.text_content("main")
    page.goto(f"{env.base}/leads")
    status = page.evaluate(
        """async ([lead, token]) => (await fetch(`/leads/${lead}/advance`, {method: "POST",
             headers: {"Content-Type": "application/x-www-form-urlencoded"},
             body: new URLSearchParams({status: "verified", note: "越权", csrf_token: token})})).status""",
        [lead, page.get_attribute("form[action='/logout'] input[name=csrf_token]", "value")])
    assert status == 404
    hk = page.request.get(f"{env.base}/api/leads/{lead}",
                          headers={"Authorization": f"Bearer {env.seeded.tokens['hk']}"}).json()
    assert hk["status"] == "new" and hk["assignee"] is None


def test_a_lead_handed_over_with_a_deadline_turns_overdue_when_the_clock_moves(page: Any, env: Env) -> None:
    lead = env.seeded.hk_leads[0]
    _login(page, env, "hk")
    page.goto(f"{env.base}/leads/{lead}")
    deadline = (env.clock.now + timedelta(days=2)).astimezone(BEIJING).date().isoformat()
    page.fill("#lead-panel input[name=bureau]", "龙华区市场监督管理局")
    page.fill("#lead-panel input[name=deadline]", deadline)
    page.fill("#lead-panel .assign-form input[name=note]", "请于期限内核查并反馈")
    page.click("#lead-panel .assign-form button[type=submit]")
    page.wait_for_selector("#lead-status.ls-assigned")
    assert page.text_content("#lead-assignee") == "龙华区市场监督管理局"
    assert page.locator("#lead-overdue").count() == 0
    page.goto(f"{env.base}/leads")
    assert "overdue" not in (page.get_attribute(f"#lead-{lead}", "class") or "")
    env.clock.advance(days=3)
    page.reload()
    assert "overdue" in (page.get_attribute(f"#lead-{lead}", "class") or "")
    assert "已逾期" in page.text_content(f"#lead-{lead}")
    page.goto(f"{env.base}/leads/{lead}")
    assert page.text_content("#lead-overdue") == "已逾期"
    page.fill("#lead-panel .advance-form input[name=note]", "已到店核查")
    page.click("#lead-panel .advance-form button[value=verified]")
    page.wait_for_selector("#lead-status.ls-verified")
    assert page.text_content("#lead-status") == "核查中"
    assert HK  # the lead is the 海口 bureau's (its campaign's)


def test_an_inspector_scans_a_url_of_the_allow_listed_demo_site(page: Any, env: Env) -> None:
    _login(page, env, "hk")
    page.goto(f"{env.base}/scan")
    page.fill("input[name=url]", env.site.url("/item.html"))
    page.click(".scan-form button[type=submit]")
    page.wait_for_selector("#scan-job[data-status=done]", timeout=90_000)
    result = page.text_content("#scan-job")
    assert "颈椎治疗仪（演示）" in result and "CLAIM_GUARANTEE" in result and "发现" in result
    assert "保证治愈" in [m.text_content() for m in page.query_selector_all("#scan-job mark")]
    assert "/item.html" in env.site.hits
    page.click("#scan-job a[href^='/runs/']")
    page.wait_for_selector("#run-progress")
    assert "扫描" in page.text_content("h1")


def test_the_overview_draws_its_charts(page: Any, env: Env, tmp_path: Path) -> None:
    _login(page, env, "admin")
    page.goto(f"{env.base}/")
    for chart in ("chart-trend", "chart-rules", "chart-platforms", "chart-shops"):
        canvas = page.wait_for_selector(f"#{chart} canvas, #{chart} svg", state="attached")
        box = canvas.bounding_box()
        assert box is not None and box["width"] > 100 and box["height"] > 100, (chart, box)
    shot = tmp_path / "console-overview.png"
    page.screenshot(path=str(shot), full_page=True)
    assert shot.stat().st_size > 20_000
