"""Readable Chinese terminal output for scans and summaries (rich tables)."""

from __future__ import annotations

import sys
from collections import Counter
from collections.abc import Iterable
from typing import TYPE_CHECKING

from rich.console import Console
from rich.table import Table

from mdwatch.analyzers.catalogue import rules
from mdwatch.scheduler.outputs.labels import KIND_ZH, SEVERITIES, SEVERITY_STYLE, SEVERITY_ZH
from mdwatch.scheduler.settings import BEIJING

if TYPE_CHECKING:  # the pipeline (and the storage under it) is not imported to print
    from mdwatch.scheduler.pipeline import ScanOutcome

DISPLAY_TZ = BEIJING  # reports and evidence say Beijing time (settings.BEIJING)


def make_console() -> Console:
    """A console for reports: the terminal's width, or 120 columns when piped to a file."""
    return Console() if sys.stdout.isatty() else Console(width=120)

SEVERITY_ORDER = {s: i for i, s in enumerate(SEVERITIES)}


def print_outcome(console: Console, outcome: ScanOutcome) -> None:
    assert outcome.page is not None and outcome.capture is not None
    page, ex = outcome.page, outcome.extracted
    console.print(f"[bold]{page.title or outcome.url}[/bold]")
    console.print(
        f"网址：{outcome.url}\n页面类型：{KIND_ZH[page.kind]}　编码：{page.encoding}　"
        f"抓取时间：{outcome.capture.fetched_at.astimezone(DISPLAY_TZ).isoformat(timespec='seconds')}\n"
        f"SHA-256：{outcome.capture.sha256}"
    )
    for label, key in (("注册证/备案编号", "registration_numbers"), ("许可/备案编号", "license_numbers"),
                       ("平台备案编号", "platform_filing_numbers")):
        values = ex.get(key) or []
        if values:
            console.print(f"{label}：{'，'.join(map(str, values))}")  # type: ignore[call-overload]
    for rel in page.related:
        console.print(f"同时检查资质页：{rel.url}", markup=False)
    if not outcome.findings:
        console.print("[green]未发现问题。[/green]\n")
        return
    console.print(f"[bold]发现 {len(outcome.findings)} 项问题：[/bold]")
    for n, f in enumerate(sorted(outcome.findings, key=lambda f: SEVERITY_ORDER[f.severity]), 1):
        style = SEVERITY_STYLE[f.severity]
        console.print(f"{n}. [{style}]【{SEVERITY_ZH[f.severity]}】[/] [bold]{f.rule}[/bold]  {f.message}", soft_wrap=True)
        console.print(f"   [dim]依据：{f.article}[/dim]", soft_wrap=True)
        for e in f.evidence[:5]:
            where = f"图片 {e.image_url} " if e.image_url else ("" if e.page_url in (None, outcome.url) else f"{e.page_url} ")
            match = f"（命中：{e.match}）" if e.match and e.source != "structure" else ""
            console.print(f"   证据：{where}{e.snippet}{match}", soft_wrap=True, markup=False)
        if len(f.evidence) > 5:
            console.print(f"   …另有 {len(f.evidence) - 5} 处", soft_wrap=True)
    console.print()


def print_rule_summary(console: Console, outcomes: Iterable[ScanOutcome], title: str) -> None:
    pages: Counter[str] = Counter()
    for o in outcomes:
        for rule in {f.rule for f in o.findings}:
            pages[rule] += 1
    catalogue = rules()
    table = Table(title=title)
    table.add_column("规则", no_wrap=True, min_width=31)
    table.add_column("名称")
    table.add_column("级别")
    table.add_column("涉及页面数", justify="right")
    for rule_id, count in sorted(pages.items(), key=lambda kv: (SEVERITY_ORDER[catalogue[kv[0]].severity], kv[0])):
        r = catalogue[rule_id]
        table.add_row(rule_id, r.title, f"[{SEVERITY_STYLE[r.severity]}]{SEVERITY_ZH[r.severity]}[/]", str(count))
    console.print(table)
