"""The sweep-level precision guard (精度警戒, scheduler/precision_guard.py).

Unit tests of the verdict (threshold, minimum pages, the kind a rule judges, profile / environment
/ option overrides) and of ``LeadStore.sync`` holding findings; and, end to end, a sweep of a
demo-platform variant whose product detail labels the extractor cannot read (参数甲, 参数乙, …):
``PRODUCT_DETAIL_INCOMPLETE`` fires on nearly every product page, the guard says so in the sweep
summary, the run's stats and the reports, and a campaign over that variant files no lead of that
rule (other rules' leads are filed) until a reviewer releases them.
"""

from __future__ import annotations

import io
import json
import shutil
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

from mdwatch.crawler.profile import profile_from_mapping
from mdwatch.demo import server as demo_server
from mdwatch.scheduler.outputs.precision_guard import (
    GuardConfig,
    GuardConfigError,
    evaluate,
    guard_config,
    guard_result,
    judged_kinds,
)
from mdwatch.storage.leads import LeadFinding, LeadStore, UrlCheck

RULE = "PRODUCT_DETAIL_INCOMPLETE"
TIMEOUT = 300

# ---------------------------------------------------------------------------- the verdict


def test_trips_above_the_share_of_the_kind_the_rule_judges() -> None:
    pages = {"product": 130, "shop": 25, "platform": 7}
    verdict = evaluate(pages, {(RULE, "product"): 120, ("CLAIM_GUARANTEE", "product"): 7,
                               ("SHOP_CONTACT_MISSING", "shop"): 5, ("PLATFORM_FILING_MISSING", "platform"): 7},
                       samples={(RULE, "product"): ["http://x/p1.html", "http://x/p2.html", "http://x/p3.html",
                                                    "http://x/p4.html"]})
    assert verdict.tripped and verdict.held_rules == {RULE}
    (alert,) = verdict.alerts
    assert (alert.kind, alert.pages, alert.total) == ("product", 120, 130)
    assert alert.samples == ("http://x/p1.html", "http://x/p2.html", "http://x/p3.html")  # at most three
    assert alert.line() == (
        "精度警戒：PRODUCT_DETAIL_INCOMPLETE 在 92% 的商品页上触发（120/130），可能是页面结构未识别；"
        "该规则本次的线索暂缓提交，待人工复核。示例：http://x/p1.html、http://x/p2.html、http://x/p3.html")
    # 7 of 7 platform pages: below the minimum page count, never judged
    assert "PLATFORM_FILING_MISSING" not in verdict.held_rules


def test_threshold_is_strictly_more_than_the_share() -> None:
    assert not evaluate({"product": 100}, {(RULE, "product"): 60}).tripped
    assert evaluate({"product": 100}, {(RULE, "product"): 61}).tripped
    assert not evaluate({"product": 100}, {(RULE, "product"): 61}, GuardConfig(share=0.7)).tripped
    assert not evaluate({"product": 100}, {(RULE, "product"): 100}, GuardConfig(share=1.0)).tripped  # off


def test_minimum_pages() -> None:
    assert not evaluate({"product": 9}, {(RULE, "product"): 9}).tripped
    assert evaluate({"product": 10}, {(RULE, "product"): 10}).tripped
    assert not evaluate({"product": 10}, {(RULE, "product"): 10}, GuardConfig(min_pages=11)).tripped


def test_share_is_over_the_pages_of_the_kind_the_rule_judges() -> None:
    # a product rule on every product page of a sweep of mostly shop pages
    pages = {"product": 20, "shop": 200}
    assert evaluate(pages, {(RULE, "product"): 15}).held_rules == {RULE}
    # a product rule's findings on shop pages do not count for it
    assert not evaluate(pages, {(RULE, "shop"): 200, (RULE, "product"): 2}).tripped
    # a rule of no fixed kind (claims) is judged on each kind it fired on
    claims = evaluate(pages, {("CLAIM_ABSOLUTE", "product"): 3, ("CLAIM_ABSOLUTE", "shop"): 150})
    assert [(a.rule, a.kind) for a in claims.alerts] == [("CLAIM_ABSOLUTE", "shop")]
    assert judged_kinds("SHOP_CONTACT_MISSING", {"product"}) == ("shop",)
    assert judged_kinds("DRUG_SHOP_LICENSE_MISSING", {"product"}) == ("shop",)
    assert judged_kinds("PLATFORM_FILING_MISSING", set()) == ("platform",)
    assert judged_kinds("CLAIM_GUARANTEE", {"shop", "product"}) == ("product", "shop")


def test_per_profile_configuration_and_overrides() -> None:
    raw = {"name": "p", "start_urls": ["http://example.com/"],
           "precision_guard": {"share": 0.8, "min_pages": 50, "rules": {RULE: 0.95}}}
    profile = profile_from_mapping(raw)
    config = guard_config(profile.precision_guard, env={})
    assert (config.share, config.min_pages, config.share_for(RULE), config.share_for("CLAIM_ABSOLUTE")) == (
        0.8, 50, 0.95, 0.8)
    assert not evaluate({"product": 100}, {(RULE, "product"): 94, ("PRODUCT_CERT_MISSING", "product"): 79},
                        config).tripped
    assert evaluate({"product": 100}, {("PRODUCT_CERT_MISSING", "product"): 81}, config).tripped
    assert not evaluate({"product": 40}, {("PRODUCT_CERT_MISSING", "product"): 40}, config).tripped
    # a profile without the mapping: the defaults
    assert guard_config(profile_from_mapping({"name": "q", "start_urls": ["http://e.com/"]}).precision_guard,
                        env={}) == GuardConfig()
    # the environment overrides the profile; the option overrides both (and the profile's per-rule shares)
    env = {"MDWATCH_GUARD_SHARE": "0.5", "MDWATCH_GUARD_MIN_PAGES": "5"}
    assert guard_config(profile.precision_guard, env=env) == GuardConfig(0.5, 5)
    assert guard_config(profile.precision_guard, share=0.9, env=env) == GuardConfig(0.9, 5)
    assert guard_config(profile.precision_guard, min_pages=20, env={}) == GuardConfig(0.8, 20, {RULE: 0.95})
    for bad in ({"share": 0}, {"share": 1.5}, {"share": "x"}, {"min_pages": 0}, {"rules": {RULE: 2}},
                {"shares": 0.5}):
        with pytest.raises(GuardConfigError):
            guard_config(bad, env={})
    with pytest.raises(GuardConfigError):
        guard_config(None, env={"MDWATCH_GUARD_SHARE": "60%"})


def test_result_round_trips_through_the_run_stats() -> None:
    verdict = evaluate({"product": 30}, {(RULE, "product"): 29}, samples={(RULE, "product"): ["http://x/p.html"]})
    stats = json.loads(json.dumps({"pages": 40, "precision_guard": verdict.to_stats()}))
    again = guard_result(stats, run_id=7)
    assert again is not None and again.held_rules == {RULE} and again.lines() == verdict.lines()
    assert again.alerts[0].run_id == 7
    assert stats["precision_guard"]["held_rules"] == [RULE] and stats["precision_guard"]["tripped"] is True
    assert guard_result({"pages": 3}) is None


# ---------------------------------------------------------------------------- LeadStore.sync


def test_sync_holds_findings_and_recheck_of_the_held_rule(db_url: str) -> None:
    with LeadStore.open(db_url) as leads:
        campaign = leads.create_campaign("精度警戒", ["device-national"], urls=["http://x/a.html"])
        # an earlier run filed a lead of the rule on a.html, since resolved
        first = leads.sync(campaign.id, None, [LeadFinding("http://x/a.html", RULE, "low", "缺项")], [])
        (resolved,) = first.created
        leads.update(resolved, status="resolved", note="已补全")
        findings = [LeadFinding(f"http://x/p{i}.html", RULE, "low", "缺项") for i in range(5)]
        findings.append(LeadFinding("http://x/p0.html", "CLAIM_GUARANTEE", "high", "保证"))
        # a.html checked by the held run, finding absent there: not judged 已整改
        checks = [UrlCheck("http://x/a.html", True, None)] + [UrlCheck(f.page_url, True, None) for f in findings]
        result = leads.sync(campaign.id, None, findings, checks, held={(None, RULE)})
        assert len(result.created) == 1 and result.as_dict()["leads_held"] == 5
        assert result.rechecked_fixed == ()
        assert [(lead.page_url, lead.rule) for lead in leads.leads("精度警戒", status="new")] == [
            ("http://x/p0.html", "CLAIM_GUARANTEE")]
        lead = leads.get_lead(resolved)
        assert lead is not None and lead.status == "resolved" and lead.recheck == ()


# ---------------------------------------------------------------------------- end to end

# the detail labels of GSP-NET 13 as the demo's product pages write them, renamed to labels no
# lexicon knows (the registration number keeps its label: other rules keep working)
UNREADABLE = {"产品名称": "参数甲", "型号规格": "参数乙", "规格型号": "参数乙", "结构及组成": "参数丙",
              "适用范围": "参数丁", "禁忌症": "参数戊", "注册人/备案人": "参数己", "备案人": "参数己",
              "生产企业": "参数庚"}


def _variant_site(root: Path) -> Path:
    """A copy of the demo site whose product pages' detail labels are unreadable."""
    site = root / "site"
    shutil.copytree(Path(str(demo_server.site_root())), site)
    for entry in demo_server.manifest():
        if entry["kind"] != "product":
            continue
        path = site / entry["path"].lstrip("/")
        text = path.read_bytes().decode(entry["encoding"])
        for label, unreadable in UNREADABLE.items():
            for before, after in ((">", "<"), (">", "："), (">", ":"), ("\n", "："), ("【", "】")):
                text = text.replace(f"{before}{label}{after}", f"{before}{unreadable}{after}")
            text = text.replace(f'"{label}"', f'"{unreadable}"')  # JS pages' inline JSON
        path.write_bytes(text.encode(entry["encoding"]))
    return site


PROFILE = """\
name: variant
title: 演示平台变体（详情标签无法识别）
start_urls: ["{base}/index.html"]
shop_links: ['/shops/[^/]+/index\\.html$']
product_links: ['/products/p\\d+\\.html$']
pagination: ['/shops/[^/]+/index(?:-\\d+)?\\.html$', '/index(?:-\\d+)?\\.html$']
browser: ['/js/']
precision_guard: {share: 0.6, min_pages: 10}
"""


@pytest.fixture(scope="module")
def variant(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    """The variant served by the demo server (its site root swapped): (base URL, profile path)."""
    root = tmp_path_factory.mktemp("variant")
    site = _variant_site(root)
    profile = root / "variant.yaml"
    profile.write_text(PROFILE, encoding="utf-8")
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(demo_server, "site_root", lambda: site)
        with demo_server.serve() as server:
            yield server.base_url, profile


def _python(code: str) -> subprocess.CompletedProcess[str]:
    """Run ``code`` in a fresh interpreter (a sweep needs its own process: one Twisted reactor)."""
    return subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True,
                          timeout=TIMEOUT)


@pytest.mark.network
def test_sweep_of_the_variant_raises_the_guard(variant: tuple[str, Path], tmp_path: Path) -> None:
    from mdwatch.scheduler.outputs.reports import build_report, render_html, render_json, render_xlsx
    from mdwatch.storage.store import Store
    from mdwatch.storage.sweeps import get_sweep

    base_url, profile = variant
    db = f"sqlite:///{tmp_path / 'sweep.db'}"
    proc = subprocess.run(
        [sys.executable, "-m", "mdwatch.scheduler.cli", "sweep", str(profile), "--base-url", base_url, "--db", db,
         "--no-browser", "--no-screenshots", "--ocr-engine", "none", "--workers", "0"],
        capture_output=True, text=True, timeout=TIMEOUT)
    assert proc.returncode == 0, proc.stderr + proc.stdout
    # the summary and stderr: one line with the share and sample product pages
    summary = [line for line in proc.stdout.splitlines() if line.startswith("精度警戒：")]
    assert len(summary) == 1 and summary[0].startswith(f"精度警戒：{RULE} 在 "), proc.stdout
    assert "的商品页上触发（" in summary[0] and "可能是页面结构未识别" in summary[0]
    samples = summary[0].split("示例：", 1)[1].split("、")
    assert len(samples) == 3 and all(u.startswith(base_url) and "/products/p" in u for u in samples)
    assert f"精度警戒：{RULE}" in proc.stderr
    with Store.open(db) as store:
        run = get_sweep(store, 1)
    assert run is not None
    guard = run.stats["precision_guard"]
    assert guard["tripped"] is True and guard["held_rules"] == [RULE]
    (alert,) = guard["alerts"]
    assert alert["kind"] == "product" and alert["share"] > 0.8 and alert["total"] >= 100
    assert len(alert["samples"]) == 3
    # the reports
    report = build_report(db, run_ids=[1], thumbnails=False)
    assert [a.rule for a in report.precision_alerts] == [RULE]
    html = render_html(report)
    assert 'id="precision-guard"' in html and f"精度警戒：{RULE}" in html
    doc = json.loads(render_json(report))
    assert doc["precision_alerts"][0]["rule"] == RULE and doc["precision_alerts"][0]["line"].startswith("精度警戒：")
    from openpyxl import load_workbook

    sheet = load_workbook(io.BytesIO(render_xlsx(report)))["汇总"]
    cells = [str(c.value) for row in sheet.iter_rows() for c in row if c.value is not None]
    assert any(c.startswith(f"精度警戒：{RULE}") for c in cells)


@pytest.mark.network
def test_campaign_over_the_variant_files_no_lead_of_the_guarded_rule(variant: tuple[str, Path],
                                                                      tmp_path: Path) -> None:
    from mdwatch.scheduler.jobs.campaigns import campaign_status, release_held

    base_url, profile = variant
    db = f"sqlite:///{tmp_path / 'campaign.db'}"
    proc = _python(f"""
        from mdwatch.scheduler.jobs.campaigns import create_campaign, run_campaign
        create_campaign("变体巡查", [], "device-national", profile={str(profile)!r}, base_url={base_url!r},
                        db_url={db!r})
        result = run_campaign("变体巡查", db_url={db!r}, ocr_engine=None,
                              sweep_options={{"browser": False, "workers": 0,
                                              "extra_settings": (("MDWATCH_SCREENSHOTS", False),)}})
        print(result.status)
    """)
    assert proc.returncode == 0, proc.stderr + proc.stdout
    with LeadStore.open(db) as leads:
        filed = leads.leads("变体巡查")
    rules = {lead.rule for lead in filed}
    assert RULE not in rules
    assert {"CLAIM_GUARANTEE", "PRODUCT_REGNO_MISSING", "SHOP_LICENSE_EXPIRED"} <= rules  # others are filed
    (crun,) = campaign_status("变体巡查", db).runs
    (held,) = crun.stats["precision_guard"]
    assert held["rule"] == RULE and held["held"] >= 100 and crun.stats["leads_held"] == held["held"]
    assert held["line"].startswith(f"精度警戒：{RULE}")
    # a reviewer who confirms the rule on this platform releases the held findings as leads
    released = release_held("变体巡查", crun.id, RULE, db_url=db)
    assert len(released.created) == held["held"]
    with LeadStore.open(db) as leads:
        assert sum(1 for lead in leads.leads("变体巡查") if lead.rule == RULE) == held["held"]
