"""Monitoring reports (监测报告): HTML in headless Chromium, XLSX reloaded with openpyxl, JSON, the CLI.

Data: the demo registry is imported into a temporary SQLite database and a handful of demo pages
are scanned three times through the real ``scan_urls`` (one server, so URLs and shops repeat);
the third run leaves out one product, so its shop has findings in only two runs. One page of the
last run gets a real screenshot through ``capture_evidence``. The HTML report is opened from
``file://`` in Chromium, screenshotted, and its headings and counts are checked against SQL.
"""

from __future__ import annotations

import io
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from openpyxl import load_workbook
from PIL import Image
from sqlalchemy import create_engine, text

from mdwatch.crawler.evidence import CHROMIUM_PATH
from mdwatch.demo.registry import registry_paths
from mdwatch.demo.server import serve
from mdwatch.scheduler.jobs.scan import scan_urls
from mdwatch.scheduler.outputs.reports import (
    REPEAT_RUNS,
    ReportError,
    build_report,
    render_html,
    render_json,
    render_xlsx,
    thumbnail_data_uri,
    write_report,
)
from mdwatch.storage.leads import LeadStore
from mdwatch.storage.registry_import import import_paths

CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run"]
PAGES = ("/products/p002.html", "/products/p008.html", "/products/p071.html", "/platform-b/index.html",
         "/shops/baijia/index.html", "/shops/huixin/index.html", "/shops/jiankangjia/index.html")
LEFT_OUT_OF_RUN_3 = "/shops/jiankangjia/index.html"
HEADINGS = ("监测报告", "概况", "按级别统计", "按规则统计", "按店铺统计", "按平台统计", "重复违规店铺", "问题明细")

needs_chromium = pytest.mark.skipif(not Path(CHROMIUM_PATH).exists(), reason=f"no Chromium at {CHROMIUM_PATH}")


@dataclass(frozen=True)
class Data:
    db: str
    run_ids: list[int]
    shot_page: int | None  # page of the last run with a stored screenshot
    tmp: Path


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Data]:
    tmp = tmp_path_factory.mktemp("reports")
    db = "sqlite:///" + (tmp / "mdwatch.sqlite3").as_posix()
    for _ in import_paths(db, registry_paths()):
        pass
    run_ids: list[int] = []
    with serve() as server:
        for n in range(3):
            paths = [p for p in PAGES if n < 2 or p != LEFT_OUT_OF_RUN_3]
            result = scan_urls([server.url(p) for p in paths], db_url=db)
            assert result.run_id is not None and not result.failed
            run_ids.append(result.run_id)
        shot_page: int | None = None
        if Path(CHROMIUM_PATH).exists():
            from mdwatch.crawler.evidence import Screenshotter
            from mdwatch.scheduler.jobs.evidence import capture_evidence
            from mdwatch.storage.evidence import EvidenceStore

            with EvidenceStore(db) as store:
                pages = store.pages_with_findings(run_ids[-1])
            target = next(p for p in pages if p.url.endswith("/products/p008.html"))
            with Screenshotter() as shooter:
                shot = capture_evidence(db, run_ids[-1], [target.id], screenshotter=shooter, data_dir=tmp)
            assert target.id in shot.saved, shot.failed
            shot_page = target.id
    yield Data(db=db, run_ids=run_ids, shot_page=shot_page, tmp=tmp)


def _sql(db: str, query: str, **params: object) -> list[tuple[Any, ...]]:
    engine = create_engine(db)
    try:
        with engine.connect() as conn:
            return [tuple(r) for r in conn.execute(text(query), params)]
    finally:
        engine.dispose()


def _in(ids: list[int]) -> str:
    return ",".join(str(int(i)) for i in ids)  # ints only: safe to inline in a test query


def _db_counts(db: str, ids: list[int]) -> dict[str, Any]:
    where = f"run_id IN ({_in(ids)})"
    total = _sql(db, f"SELECT count(*) FROM findings WHERE {where}")[0][0]
    by_rule = dict(_sql(db, f"SELECT rule, count(*) FROM findings WHERE {where} GROUP BY rule"))
    by_severity = dict(_sql(db, f"SELECT severity, count(*) FROM findings WHERE {where} GROUP BY severity"))
    flagged = _sql(db, f"SELECT count(DISTINCT page_id) FROM findings WHERE {where}")[0][0]
    pages = _sql(db, f"SELECT count(*) FROM pages WHERE {where}")[0][0]
    last = max(ids)
    repeat = {
        row[0] for row in _sql(
            db,
            "SELECT p.shop_id FROM findings f JOIN pages p ON p.id = f.page_id "
            "WHERE p.shop_id IS NOT NULL AND f.run_id <= :last "
            f"AND p.shop_id IN (SELECT p2.shop_id FROM findings f2 JOIN pages p2 ON p2.id = f2.page_id WHERE f2.{where}) "
            "GROUP BY p.shop_id HAVING count(DISTINCT f.run_id) >= :n",
            last=last, n=REPEAT_RUNS)
    }
    return {"total": total, "by_rule": by_rule, "by_severity": by_severity, "flagged": flagged, "pages": pages,
            "repeat": repeat}


def test_report_numbers_match_the_database(data: Data) -> None:
    last = data.run_ids[-1]
    report = build_report(data.db, run_ids=[last])
    db = _db_counts(data.db, [last])
    assert report.total_findings == db["total"] > 0
    assert {c.rule: c.findings for c in report.by_rule} == db["by_rule"]
    assert {c.severity: c.findings for c in report.by_severity if c.findings} == db["by_severity"]
    assert report.flagged_pages == db["flagged"] and report.total_pages == db["pages"]
    assert sum(c.findings for c in report.by_shop) == report.total_findings
    assert sum(c.findings for c in report.by_platform) == report.total_findings
    assert sum(len(p.findings) for p in report.pages) == report.total_findings
    # every rule row carries the catalogue's title and article
    assert all(c.title and c.article for c in report.by_rule)
    # the shop of the left-out product has findings in 2 runs only: not a repeat offender
    offenders = {o.shop_id for o in report.repeat_offenders}
    assert offenders == db["repeat"] and offenders
    assert all(o.run_count >= REPEAT_RUNS and len(o.run_ids) == o.run_count for o in report.repeat_offenders)
    urls = {o.url for o in report.repeat_offenders}
    assert any(u.endswith("/shops/baijia/index.html") for u in urls)
    assert not any(u.endswith(LEFT_OUT_OF_RUN_3) for u in urls)


def test_repeat_offenders_count_runs_up_to_the_reports_last_run(data: Data) -> None:
    first_two = build_report(data.db, run_ids=data.run_ids[:2])
    assert first_two.repeat_offenders == []  # only two runs existed by then
    assert any(c.url.endswith(LEFT_OUT_OF_RUN_3) for c in first_two.by_shop)
    assert len(first_two.runs) == 2 and first_two.scope == "run"
    everything = build_report(data.db, run_ids=data.run_ids)
    assert {o.shop_id for o in everything.repeat_offenders} == _db_counts(data.db, data.run_ids)["repeat"]


def test_evidence_is_highlighted_and_escaped(data: Data) -> None:
    report = build_report(data.db, run_ids=[data.run_ids[-1]])
    highlighted = [e for p in report.pages for f in p.findings for e in f.evidence if e.matched]
    assert highlighted and all(e.before + e.matched + e.after == e.snippet for e in highlighted)
    html = render_html(report)
    assert "<mark>" in html
    for e in highlighted:
        assert f"<mark>{_escape(e.matched)}</mark>" in html
    # a page without a screenshot says so
    assert "无截图" in html


def _escape(value: str) -> str:
    from markupsafe import escape

    return str(escape(value))


@needs_chromium
def test_html_report_renders_in_headless_chromium_from_disk(data: Data) -> None:
    from playwright.sync_api import sync_playwright

    last = data.run_ids[-1]
    report = build_report(data.db, run_ids=[last], scope="sweep")
    path = write_report(report, "html", data.tmp / "report.html")
    assert data.shot_page is not None
    with_shot = [p for p in report.pages if p.screenshot is not None]
    assert [p.page_id for p in with_shot] == [data.shot_page]
    assert with_shot[0].screenshot is not None and with_shot[0].screenshot.thumbnail.startswith("data:image/jpeg;base64,")
    db = _db_counts(data.db, [last])

    png_path = data.tmp / "report.png"
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM_PATH, args=CHROMIUM_ARGS, headless=True)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            requests: list[str] = []
            page.on("request", lambda r: requests.append(r.url))
            page.goto(path.as_uri(), wait_until="load")
            page.screenshot(path=str(png_path), full_page=True)
            h1 = page.inner_text("h1")
            h2 = page.eval_on_selector_all("h2", "els => els.map(e => e.textContent.trim())")
            total = int(page.inner_text("#total-findings"))
            flagged = int(page.inner_text("#flagged-pages"))
            rule_counts = page.eval_on_selector_all(
                "#by-rule tr[data-rule]", "rows => rows.map(r => [r.dataset.rule, r.querySelector('.count').textContent])")
            severity_counts = page.eval_on_selector_all(
                "#by-severity tr[data-severity]",
                "rows => rows.map(r => [r.dataset.severity, r.querySelector('.count').textContent])")
            shop_total = page.eval_on_selector_all(
                "#by-shop td.count", "cells => cells.reduce((s, c) => s + Number(c.textContent), 0)")
            repeat_rows = page.eval_on_selector_all(
                "#repeat-offenders tr[data-shop]", "rows => rows.map(r => Number(r.dataset.shop))")
            detail_findings = page.eval_on_selector_all("#details .finding", "els => els.length")
            thumbs = page.eval_on_selector_all(
                "#details img", "imgs => imgs.map(i => [i.src.slice(0, 23), i.naturalWidth, i.complete])")
            no_shot = page.eval_on_selector_all("#details .shot .none", "els => els.length")
        finally:
            browser.close()

    assert h1 == "监测报告"
    for heading in HEADINGS[1:]:
        assert heading in h2
    assert total == db["total"] and flagged == db["flagged"]
    assert {r: int(n) for r, n in rule_counts} == db["by_rule"]
    assert {s: int(n) for s, n in severity_counts if int(n)} == db["by_severity"]
    assert shop_total == db["total"] and detail_findings == db["total"]
    assert set(repeat_rows) == db["repeat"] and repeat_rows
    # the thumbnail is embedded (a data: URI that decoded) and nothing was fetched but the file itself
    assert thumbs == [["data:image/jpeg;base64,", thumbs[0][1], True]] and thumbs[0][1] > 100
    assert no_shot == db["flagged"] - 1
    assert all(u.startswith(("file://", "data:")) for u in requests)

    png = png_path.read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 20_000
    with Image.open(io.BytesIO(png)) as img:
        assert img.width == 1280 and img.height > 900
        assert len(img.convert("L").getcolors(maxcolors=1 << 16) or []) > 16  # not a blank page


def test_xlsx_reloads_with_three_sheets(data: Data) -> None:
    last = data.run_ids[-1]
    report = build_report(data.db, run_ids=[last])
    wb = load_workbook(io.BytesIO(render_xlsx(report)))
    assert wb.sheetnames == ["汇总", "问题明细", "重复违规店铺"]
    summary = wb["汇总"]
    assert summary["A1"].value == "监测报告"
    labels = {row[0]: row[1] for row in summary.iter_rows(values_only=True) if row and row[0]}
    assert labels["问题总数"] == _db_counts(data.db, [last])["total"]
    assert "按规则统计" in labels and "按级别统计" in labels and "按店铺统计" in labels and "按平台统计" in labels
    detail = list(wb["问题明细"].iter_rows(values_only=True))
    assert detail[0][:3] == ("序号", "问题编号", "运行编号")
    assert len(detail) - 1 == report.total_findings
    ids = {row[1] for row in detail[1:]}
    assert ids == {r[0] for r in _sql(data.db, f"SELECT id FROM findings WHERE run_id = {int(last)}")}
    assert any(row[-1] == "无截图" for row in detail[1:])
    repeat = list(wb["重复违规店铺"].iter_rows(min_row=3, values_only=True))
    assert {row[0] for row in repeat} == {o.name for o in report.repeat_offenders}


def test_json_is_the_same_data(data: Data) -> None:
    report = build_report(data.db, run_ids=[data.run_ids[-1]])
    doc = json.loads(render_json(report))
    assert doc["format"] == "mdwatch-report/1"
    assert doc["total_findings"] == report.total_findings
    assert {c["rule"]: c["findings"] for c in doc["by_rule"]} == {c.rule: c.findings for c in report.by_rule}
    assert len(doc["repeat_offenders"]) == len(report.repeat_offenders)
    shots = [p["screenshot"] for p in doc["pages"] if p["screenshot"]]
    assert all("thumbnail" not in s and len(s["sha256"]) == 64 for s in shots)


def test_campaign_report_resolves_the_campaigns_runs(data: Data) -> None:
    with LeadStore.open(data.db) as leads:
        campaign = leads.create_campaign("海南网售专项", ["hainan"], urls=["http://127.0.0.1/"])
        for run_id in data.run_ids[1:]:
            crun = leads.start_campaign_run(campaign.id)
            leads.finish_campaign_run(crun, "done", [run_id], {})
    report = build_report(data.db, campaign="海南网售专项")
    assert report.scope == "campaign" and [r.id for r in report.runs] == data.run_ids[1:]
    assert report.total_findings == _db_counts(data.db, data.run_ids[1:])["total"]
    with pytest.raises(ReportError):
        build_report(data.db, campaign="没有这个活动")


def test_unknown_run_is_refused(data: Data) -> None:
    with pytest.raises(ReportError, match="不存在"):
        build_report(data.db, run_ids=[99999])


def test_cli_report_in_each_format(data: Data) -> None:
    from mdwatch.scheduler.cli import cli

    runner = CliRunner()
    last = str(data.run_ids[-1])
    for fmt in ("html", "xlsx", "json"):
        out = data.tmp / f"cli-report.{fmt}"
        result = runner.invoke(cli, ["report", "--sweep", last, "--format", fmt, "-o", str(out), "--db", data.db])
        assert result.exit_code == 0, result.output
        assert "监测报告已生成" in result.output and out.stat().st_size > 1000
    assert re.search(r"<h1>监测报告</h1>", (data.tmp / "cli-report.html").read_text(encoding="utf-8"))
    bad = runner.invoke(cli, ["report", "--sweep", last, "--run", last, "--db", data.db])
    assert bad.exit_code != 0
    missing = runner.invoke(cli, ["report", "--run", "99999", "--db", data.db], standalone_mode=False)
    assert missing.return_value == 2


def test_thumbnail_of_a_tall_screenshot_is_small_and_of_garbage_empty() -> None:
    img = Image.new("RGB", (1280, 6000), "white")
    buf = io.BytesIO()
    img.save(buf, format="PNG")
    uri = thumbnail_data_uri(buf.getvalue())
    import base64

    with Image.open(io.BytesIO(base64.b64decode(uri.split(",", 1)[1]))) as thumb:
        assert thumb.format == "JPEG" and thumb.width <= 360 and thumb.height <= 540
    assert thumbnail_data_uri(b"not a png") == ""
