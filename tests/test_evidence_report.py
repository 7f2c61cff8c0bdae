"""取证报告 (PDF): one finding's report, rendered by headless Chromium and read back with pdftotext."""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from mdwatch.demo.server import DemoServer, serve
from mdwatch.scheduler.app import AppConfig, build_app
from mdwatch.scheduler.jobs.evidence.pdf_report import finding_facts, render_finding_pdf
from mdwatch.storage.store import Store

pytestmark = pytest.mark.skipif(shutil.which("pdftotext") is None, reason="pdftotext (poppler-utils) missing")


@pytest.fixture(scope="module")
def demo() -> Iterator[DemoServer]:
    with serve() as server:
        yield server


@pytest.mark.network
def test_the_report_states_what_a_bureau_needs(demo: DemoServer, tmp_path: Path,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    db_url = f"sqlite:///{tmp_path / 'r.db'}"
    url = demo.url("/products/p037.html")
    result = build_app(AppConfig(db_url=db_url, ocr_engine="none", browser=False)).scan([url])
    assert result.run_id is not None
    with Store.open(db_url) as store:
        finding = store.findings(result.run_id)[0]
    facts = finding_facts(db_url, finding.id, operator="海口市市场监管局 张三")
    assert facts.screenshot is not None  # taken in the run, shown in the report
    pdf = render_finding_pdf(facts, tmp_path / "report.pdf")
    text = subprocess.run(["pdftotext", "-layout", str(pdf), "-"], capture_output=True, text=True,
                          check=True).stdout
    squeezed = "".join(text.split())
    for expected in (url, finding.rule, "取证报告", "海口市市场监管局张三", "本机时间", "mdwatch",
                     facts.captured_at.replace(" ", ""), finding.capture_sha256[:32]):
        assert "".join(expected.split()) in squeezed, expected
    assert "".join(finding.article.split())[:12] in squeezed
    info = subprocess.run(["pdfinfo", str(pdf)], capture_output=True, text=True, check=True).stdout
    assert "Pages:" in info


def test_page_text_in_the_report_is_escaped() -> None:
    from mdwatch.scheduler.jobs.evidence.pdf_report import ReportFacts, render_html

    hostile = "<script>alert(1)</script><img src=x onerror=alert(2)>"
    facts = ReportFacts(finding_id=1, run_id=1, run_kind="scan", url="http://shop.test/p?a=<b>", platform="平台",
                        shop=hostile, rule="CLAIM_ABSOLUTE", rule_title="绝对化用语", severity_zh="中",
                        article="广告法 9(3)", message=hostile,
                        evidence=[{"before": hostile, "match": "最好", "after": "</mark><b>"}],
                        captured_at="2026-12-05 10:00", files=[], operator="测试", timestamp_status="本机时间")
    html = render_html(facts)
    assert "<script>" not in html and "<img src=x" not in html and "</mark><b>" not in html
    assert "&lt;script&gt;" in html
