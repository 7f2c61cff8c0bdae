"""Readable Chinese terminal output for scans and summaries (rich tables)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable

from rich.console import Console
from rich.table import Table

from mdwatch.analyzers.catalogue import rules
from mdwatch.scheduler.pipeline import ScanOutcome

SEVERITY_ZH = {"critical": "严重", "high": "高", "medium": "中", "low": "低", "info": "提示"}
SEVERITY_STYLE = {"critical": "bold red", "high": "red", "medium": "yellow", "low": "cyan", "info": "dim"}
KIND_ZH = {"platform": "平台首页", "shop": "店铺页", "product": "商品页"}
SEVERITY_ORDER = {s: i for i, s in enumerate(("critical", "high", "medium", "low", "info"))}


def print_outcome(console: Console, outcome: ScanOutcome) -> None:
    assert outcome.page is not None and outcome.capture is not None
    page, ex = outcome.page, outcome.extracted
    console.print(f"[bold]{page.title or outcome.url}[/bold]")
    console.print(
        f"网址：{outcome.url}\n页面类型：{KIND_ZH[page.kind]}　编码：{page.encoding}　"
        f"抓取时间：{outcome.capture.fetched_at.astimezone().isoformat(timespec='seconds')}\n"
        f"SHA-256：{outcome.capture.sha256}"
    )
    for label, key in (("注册证/备案编号", "registration_numbers"), ("许可/备案编号", "license_numbers"),
                       ("平台备案编号", "platform_filing_numbers")):
        values = ex.get(key) or []
        if values:
            console.print(f"{label}：{'，'.join(map(str, values))}")  # type: ignore[call-overload]
    if not outcome.findings:
        console.print("[green]未发现问题。[/green]\n")
        return
    table = Table(title=f"发现 {len(outcome.findings)} 项问题", show_lines=True)
    table.add_column("级别", no_wrap=True)
    table.add_column("规则", no_wrap=True, min_width=31)
    table.add_column("说明")
    table.add_column("证据")
    for f in sorted(outcome.findings, key=lambda f: SEVERITY_ORDER[f.severity]):
        ev = "\n".join(
            (f"[图片 {e.image_url}] " if e.image_url else "") + e.snippet for e in f.evidence[:3]
        )
        table.add_row(
            f"[{SEVERITY_STYLE[f.severity]}]{SEVERITY_ZH[f.severity]}[/]",
            f.rule,
            f"{f.message}\n[dim]{f.article}[/dim]",
            ev,
        )
    console.print(table)
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
