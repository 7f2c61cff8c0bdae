"""取证报告: one finding's evidence as a one-page Chinese PDF a bureau can file.

The report is a Jinja2 template (autoescaped) rendered to PDF by headless Chromium (already a
dependency; Debian's build, no download). It shows the URL, platform, shop, rule and its legal
basis, the evidence snippet with the matched words highlighted, the screenshot taken in the run,
the capture time in Beijing time, the SHA-256 of every file it rests on, the tool version, the
operator and the timestamp status. Chromium renders the HTML from memory with every request
refused: nothing is fetched.
"""

from __future__ import annotations

import base64
import getpass
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from jinja2 import Environment, PackageLoader, select_autoescape

from mdwatch import __version__
from mdwatch.analyzers.catalogue import rules
from mdwatch.scheduler.outputs.labels import RUN_KIND_ZH, SEVERITY_ZH
from mdwatch.scheduler.settings import BEIJING
from mdwatch.storage.evidence import EvidenceStore

__all__ = ["ReportError", "ReportFacts", "finding_facts", "render_finding_pdf"]

MACHINE_TIME = "本机时间，未经可信时间戳"


class ReportError(Exception):
    """A report that cannot be made (one Chinese sentence)."""


@dataclass(frozen=True, slots=True)
class ReportFacts:
    """What the report states (plain values; the template only lays them out)."""

    finding_id: int
    run_id: int
    run_kind: str
    url: str
    platform: str
    shop: str
    rule: str
    rule_title: str
    severity_zh: str
    article: str
    message: str
    evidence: list[dict[str, str]]
    captured_at: str
    files: list[dict[str, str]]
    operator: str
    timestamp_status: str
    version: str = __version__
    screenshot: str | None = None  # a data: URI
    screenshot_note: str = ""
    custody: list[str] = field(default_factory=list)


def _highlighted(evidence: list[dict[str, Any]]) -> list[dict[str, str]]:
    out = []
    for e in evidence:
        snippet, match = str(e.get("snippet") or ""), str(e.get("match") or "")
        pos = snippet.find(match) if match else -1
        if pos < 0:
            out.append({"before": snippet, "match": "", "after": ""})
        else:
            out.append({"before": snippet[:pos], "match": match, "after": snippet[pos + len(match):]})
    return out


def _operator(operator: str | None) -> str:
    if operator:
        return operator
    try:
        return os.environ.get("MDWATCH_OPERATOR") or getpass.getuser()
    except Exception:
        return "（未知）"


def _shop(db_url: str | None, run_id: int, finding_id: int) -> str:
    """The shop the finding's page was found on (its URL), or ''."""
    from mdwatch.storage.leads import run_findings
    from mdwatch.storage.store import Store

    with Store.open(db_url) as store:
        found = next((f for f in run_findings(store, run_id) if f.finding_id == finding_id), None)
    return (found.shop_url or "") if found is not None else ""


def finding_facts(db_url: str | None, finding_id: int, *, operator: str | None = None,
                  timestamp_status: str = MACHINE_TIME, custody: list[str] | None = None) -> ReportFacts:
    """The facts of finding ``finding_id`` as stored: its page, capture, run and evidence files."""
    with EvidenceStore(db_url) as store:
        finding = store.finding(finding_id)
        if finding is None:
            raise ReportError(f"没有编号为 {finding_id} 的问题。")
        page = store.page(finding.page_id)
        run = store.run(finding.run_id)
        files = store.files_for_page(finding.page_id) + [f for f in store.files_for_run(finding.run_id)
                                                          if f.kind == "warc"]
        shot = next((f for f in files if f.kind == "screenshot"), None)
        png = store.read(shot) if shot is not None else None
    shop = _shop(db_url, finding.run_id, finding_id)
    captured = page.fetched_at.astimezone(BEIJING).strftime("%Y-%m-%d %H:%M:%S") if page else "—"
    listed = [{"label": "原始页面（抓取内容）", "sha256": finding.capture_sha256}]
    listed += [{"label": {"screenshot": "页面截图", "warc": "WARC 归档"}.get(f.kind, f.kind), "sha256": f.sha256}
               for f in files]
    rule = rules().get(finding.rule)
    return ReportFacts(
        finding_id=finding.id, run_id=finding.run_id,
        run_kind=RUN_KIND_ZH.get(run.kind, run.kind) if run else "—",
        url=finding.page_url, platform=urlsplit(finding.page_url).netloc,
        shop=shop,
        rule=finding.rule, rule_title=rule.title if rule else "", severity_zh=SEVERITY_ZH.get(finding.severity, finding.severity),
        article=finding.article, message=finding.message, evidence=_highlighted(finding.evidence),
        captured_at=captured, files=listed, operator=_operator(operator), timestamp_status=timestamp_status,
        screenshot=f"data:image/png;base64,{base64.b64encode(png).decode()}" if png else None,
        screenshot_note=(f"本次运行中根据抓取内容渲染（{shot.created_at.astimezone(BEIJING):%Y-%m-%d %H:%M:%S}）"
                         if shot is not None else ""),
        custody=list(custody or ()),
    )


def render_html(facts: ReportFacts | list[ReportFacts], title: str = "") -> str:
    reports = facts if isinstance(facts, list) else [facts]
    # *.html.j2 must be named: select_autoescape() alone escapes only *.html, and the report
    # carries text the monitored seller wrote
    env = Environment(loader=PackageLoader("mdwatch.scheduler", "templates"),
                      autoescape=select_autoescape(enabled_extensions=("html", "html.j2")))
    shown = title or f"问题 {reports[0].finding_id}"
    return env.get_template("evidence_report.html.j2").render(reports=reports, title=shown)


def render_finding_pdf(facts: ReportFacts | list[ReportFacts], out_path: Path | str, title: str = "") -> Path:
    """Write the report of ``facts`` (one finding, or a lead's findings one per page) as a PDF (A4)
    with headless Chromium; returns the path."""
    from playwright.sync_api import Error as PlaywrightError
    from playwright.sync_api import sync_playwright

    from mdwatch.crawler.browser import CHROMIUM_ARGS, CHROMIUM_PATH

    out = Path(out_path)
    try:
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=CHROMIUM_PATH, args=list(CHROMIUM_ARGS), headless=True)
            try:
                page = browser.new_page()
                page.route("**/*", lambda route: route.abort())  # the report is self-contained
                page.set_content(render_html(facts, title), wait_until="load")
                page.pdf(path=str(out), format="A4", print_background=True)
            finally:
                browser.close()
    except PlaywrightError as exc:
        raise ReportError(f"无法生成 PDF 取证报告：{str(exc).splitlines()[0]}") from exc
    return out
