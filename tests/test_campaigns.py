"""Campaigns end to end: runs against a local site and the demo platform, leads, 整改复查, the CLI."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from localsite import LocalSite, free_port, html

from mdwatch.crawler.capture import FetchSettings
from mdwatch.demo.server import DemoServer, serve
from mdwatch.scheduler.cli import cli
from mdwatch.scheduler.jobs.campaigns import CampaignError, campaign_status, create_campaign, run_campaign
from mdwatch.storage.leads import LeadStore

pytestmark = pytest.mark.network

FAST = FetchSettings(timeout_s=5, retries=0)

PRODUCT = """<html><head><meta charset="utf-8"><title>康泰电子血压计 家用上臂式</title></head><body>
<h1 class="product-title">康泰电子血压计 家用上臂式</h1>
<div class="price">¥199.00</div>
<table class="params"><tr><th>注册证编号</th><td>苏械注准20172200123</td></tr>
<tr><th>型号规格</th><td>KT-100</td></tr><tr><th>结构及组成</th><td>主机、袖带</td></tr>
<tr><th>适用范围</th><td>用于测量人体血压</td></tr><tr><th>注册人</th><td>江苏康泰医疗科技有限公司</td></tr>
<tr><th>禁忌</th><td>无</td></tr></table>
<p>{claim}</p>
<img src="/img/cert.png" alt="医疗器械注册证">
<p>购买和使用前请仔细阅读产品说明书或者在医务人员的指导下购买和使用</p>
</body></html>"""
VIOLATING = PRODUCT.format(claim="专家推荐，根治高血压，无副作用！")
FIXED = PRODUCT.format(claim="测量准确，操作简单。")


class MutableSite:
    """A local site whose pages can be changed between runs (``site.pages[path] = html``)."""

    def __init__(self, pages: dict[str, str]) -> None:
        self.pages = pages
        self.site = LocalSite({path: self._handler(path) for path in pages})

    def _handler(self, path: str) -> Callable[[BaseHTTPRequestHandler], None]:
        def handle(handler: BaseHTTPRequestHandler) -> None:
            html(self.pages[path])(handler)
        return handle

    def url(self, path: str) -> str:
        return self.site.url(path)


@pytest.fixture
def site() -> Iterator[MutableSite]:
    mutable = MutableSite({"/a.html": VIOLATING, "/b.html": VIOLATING})
    with mutable.site:
        yield mutable


@pytest.fixture(scope="module")
def demo() -> Iterator[DemoServer]:
    with serve() as server:
        yield server


def test_resolved_leads_are_rechecked_reopened_or_kept_resolved(site: MutableSite, db_url: str) -> None:
    a, b = site.url("/a.html"), site.url("/b.html")
    create_campaign("整改复查", [a, b], "hainan", db_url=db_url)
    first = run_campaign("整改复查", db_url=db_url, settings=FAST)
    assert first.status == "done" and len(first.run_ids) == 1
    with LeadStore.open(db_url) as leads:
        created = leads.leads("整改复查")
        assert {(x.page_url, x.rule) for x in created} == {
            (u, r) for u in (a, b) for r in ("CLAIM_GUARANTEE", "CLAIM_ENDORSEMENT")}
        assert all(x.status == "new" and x.first_run_id == first.run_ids[0] for x in created)
        for x in created:  # 线索交办 → 核查处置 → 结果反馈
            leads.assign(x.id, "海口市市场监督管理局")
            leads.update(x.id, "resolved", "已责令整改")

    site.pages["/b.html"] = FIXED  # b was fixed, a still violates
    second = run_campaign("整改复查", db_url=db_url, settings=FAST)
    (run2,) = second.run_ids
    assert len(second.sync.reopened) == 2 and len(second.sync.rechecked_fixed) == 2
    assert not second.sync.created
    with LeadStore.open(db_url) as leads:
        after = {(x.page_url, x.rule): x for x in leads.leads("整改复查")}
        assert len(after) == 4  # no duplicates
        for rule in ("CLAIM_GUARANTEE", "CLAIM_ENDORSEMENT"):
            reopened, kept = after[(a, rule)], after[(b, rule)]
            assert reopened.status == "new" and reopened.reopened_count == 1 and reopened.resolved_at is None
            assert reopened.assignee == "海口市市场监督管理局"
            assert reopened.recheck[-1]["result"] == "still_present" and reopened.recheck[-1]["run_id"] == run2
            assert leads.events(reopened.id)[-1].note == "整改复查：问题仍在"
            assert kept.status == "resolved" and kept.resolved_at is not None
            entry = kept.recheck[-1]
            assert entry["result"] == "fixed" and entry["run_id"] == run2 and entry["note"] == "整改复查：已整改"
            assert entry["at"].endswith("+00:00")  # tz-aware UTC
            event = leads.events(kept.id)[-1]
            assert event.kind == "recheck" and event.run_id == run2 and event.at.tzinfo is not None


def test_demo_campaign_second_run_creates_no_duplicates_and_records_unreachable(
        demo: DemoServer, db_url: str) -> None:
    gone = f"http://127.0.0.1:{free_port()}/products/gone.html"
    targets = [demo.url("/products/p037.html"), demo.url("/products/p012.html"),
               demo.url("/platform-b/index.html"), gone]
    create_campaign("海南演示", targets, ["device-national", "hainan"], db_url=db_url)
    first = run_campaign("海南演示", db_url=db_url, settings=FAST)
    assert first.status == "partial" and [t for t, _ in first.unreachable] == [gone]
    assert first.sync.created and first.findings == len(first.sync.created)
    second = run_campaign("海南演示", db_url=db_url, settings=FAST)
    assert not second.sync.created and sorted(second.sync.touched) == sorted(first.sync.created)
    with LeadStore.open(db_url) as leads:
        all_leads = leads.leads("海南演示")
        assert len(all_leads) == len(first.sync.created)
        assert len({(x.page_url, x.rule) for x in all_leads}) == len(all_leads)
        regno = next(x for x in all_leads if x.rule == "PRODUCT_REGNO_MISSING")
        assert regno.severity == "critical"  # the hainan pack's override
        assert regno.seen_count == 2 and regno.last_run_id == second.run_ids[0]
        assert any(x.rule == "PLATFORM_FILING_MISSING" for x in all_leads)
    status = campaign_status("海南演示", db_url)
    assert [r.status for r in status.runs] == ["partial", "partial"]
    by_target = {t.target: t for t in status.campaign.targets}
    assert by_target[gone].last_status == "unreachable" and by_target[gone].last_error
    assert by_target[targets[0]].last_status == "ok"
    assert status.lead_counts["new"] == len(first.sync.created)


def test_campaign_with_no_reachable_target_fails_but_is_recorded(db_url: str) -> None:
    gone = f"http://127.0.0.1:{free_port()}/x.html"
    create_campaign("空跑", [gone], "device-national", db_url=db_url)
    result = run_campaign("空跑", db_url=db_url, settings=FAST)
    assert result.status == "failed" and result.run_ids == ()
    assert campaign_status("空跑", db_url).runs[0].status == "failed"


def test_create_errors(db_url: str, tmp_path: Path) -> None:
    with pytest.raises(CampaignError, match="没有名为"):
        create_campaign("x", ["http://127.0.0.1:1/a"], "no-such-pack", db_url=db_url)
    with pytest.raises(CampaignError, match="既不是"):
        create_campaign("x", ["not a url"], "hainan", db_url=db_url)
    bad = tmp_path / "targets.txt"
    bad.write_text("http://127.0.0.1:1/a\nftp://nope\n", encoding="utf-8")
    with pytest.raises(CampaignError, match="第 2 行"):
        create_campaign("x", [str(bad)], "hainan", db_url=db_url)
    with pytest.raises(CampaignError, match="没有名为"):
        run_campaign("no-such-campaign", db_url=db_url)


def _invoke(*args: str) -> Result:
    result = CliRunner().invoke(cli, list(args), standalone_mode=False, catch_exceptions=False)
    return result


def test_cli_campaign_and_lead_commands(site: MutableSite, sqlite_url: str, tmp_path: Path) -> None:
    targets = tmp_path / "targets.txt"
    targets.write_text(f"# 海口专项\n{site.url('/a.html')}\n", encoding="utf-8")
    db = ["--db", sqlite_url]
    res = _invoke("campaign", "create", "cli专项", "--targets", str(targets), site.url("/b.html"),
                  "--packs", "device-national,hainan", *db)
    assert res.return_value == 0, res.output
    assert "已创建监测任务 cli专项：2 个网址" in res.output
    res = _invoke("campaign", "create", "cli专项", "--targets", site.url("/a.html"), "--packs", "hainan", *db)
    assert res.return_value == 2
    res = _invoke("campaign", "run", "cli专项", "--ocr-engine", "none", "--timeout", "5", *db)
    assert res.return_value == 0, res.output
    assert "线索：新增 4 条" in res.output
    res = _invoke("lead", "list", "--campaign", "cli专项", *db)
    for heading in ("编号", "状态", "规则", "级别", "页面", "承办单位", "更新时间"):
        assert heading in res.output
    assert "待交办" in res.output and "CLAIM_GUARANTEE" in res.output
    leads = json.loads(_invoke("lead", "list", "--json", *db).output)
    first = leads[0]["id"]
    res = _invoke("lead", "assign", str(first), "海口市市场监督管理局", *db)
    assert res.return_value == 0 and "已交办：海口市市场监督管理局" in res.output
    res = _invoke("lead", "update", str(first), "--status", "verified", "--note", "已现场核查", *db)
    assert res.return_value == 0 and "已核查" in res.output
    res = _invoke("lead", "update", str(first), "--status", "resolved", *db)
    assert res.return_value == 0 and "已处置" in res.output
    res = _invoke("lead", "update", "9999", "--status", "resolved", *db)
    assert res.return_value == 2
    res = _invoke("lead", "list", "--status", "resolved", *db)
    assert "海口市市场监督管理局" in res.output and "已处置" in res.output
    res = _invoke("lead", "show", str(first), *db)
    assert "处置记录" in res.output and "已现场核查" in res.output
    res = _invoke("campaign", "run", "cli专项", "--ocr-engine", "none", "--timeout", "5", *db)
    assert "新增 0 条" in res.output and "重新打开 1 条" in res.output
    doc = json.loads(_invoke("campaign", "status", "cli专项", "--json", *db).output)
    assert len(doc["runs"]) == 2 and doc["leads"]["new"] == 4 and doc["packs"] == ["device-national", "hainan"]
    res = _invoke("campaign", "status", "cli专项", *db)
    assert "运行记录" in res.output and "目标" in res.output


def test_cli_campaign_create_with_cron_adds_a_schedule(sqlite_url: str) -> None:
    db = ["--db", sqlite_url]
    res = _invoke("campaign", "create", "定时专项", "--targets", "http://127.0.0.1:1/a.html",
                  "--packs", "hainan", "--cron", "* * * * *", *db)
    assert res.return_value == 0, res.output
    assert "已添加执行计划 campaign-定时专项" in res.output
    schedules = json.loads(_invoke("schedule", "list", "--json", *db).output)
    (entry,) = [s for s in schedules if s["name"] == "campaign-定时专项"]
    assert entry["args"] == ["campaign", "run", "定时专项"]
    res = _invoke("campaign", "create", "坏计划", "--targets", "http://127.0.0.1:1/a.html",
                  "--packs", "hainan", "--cron", "every minute", *db)
    assert res.return_value == 2
    assert campaign_status("定时专项", sqlite_url).campaign.cron == "* * * * *"
