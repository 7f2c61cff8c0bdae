"""The summary printed at the end of ``mdwatch sweep`` / ``mdwatch demo run``."""

from __future__ import annotations

from collections.abc import Mapping

from rich.console import Console
from rich.table import Table

from mdwatch.analyzers.catalogue import rules
from mdwatch.analyzers.model import NAVIGATION_KINDS, PAGE_KINDS
from mdwatch.crawler.traps import TrapCount
from mdwatch.scheduler.jobs.sweep.model import SweepResult
from mdwatch.scheduler.outputs import precision_guard as pguard
from mdwatch.scheduler.outputs.labels import KIND_ZH
from mdwatch.scheduler.outputs.terminal import SEVERITY_ORDER, SEVERITY_STYLE, SEVERITY_ZH

__all__ = ["print_sweep_summary"]


def print_sweep_summary(console: Console, result: SweepResult, max_errors: int = 10) -> None:
    """The end of ``mdwatch sweep`` / ``mdwatch demo run``: totals and a per-rule table (Chinese)."""
    for message in result.error_messages[:max_errors]:
        console.print(f"[yellow]{message}[/yellow]", soft_wrap=True, markup=True)
    if len(result.error_messages) > max_errors:
        console.print(f"[yellow]…另有 {len(result.error_messages) - max_errors} 个错误[/yellow]")
    _print_totals(console, result)
    verdict = pguard.guard_result(result.stats)
    _print_kinds(console, verdict.pages_by_kind if verdict is not None else {})
    _print_traps(console, result)
    held = verdict.held_rules if verdict is not None else frozenset()
    for line in verdict.lines() if verdict is not None else ():
        console.print(line, style="bold yellow", soft_wrap=True, markup=False, highlight=False)
    _print_rule_table(console, result, held)


def _print_totals(console: Console, result: SweepResult) -> None:
    """How the sweep ended (and, distributed, this process's part in it), then its totals."""
    state = "已完成" if result.status == "done" else f"已中断（可用 --resume {result.run_id} 续扫）"
    if result.distributed is not None:
        role = "发起进程" if result.distributed == "seeder" else "工作进程"
        if result.last:
            console.print(f"分布式巡查：本进程（{role}）最后退出，已汇总整个巡查。")
        else:
            state = "（本进程部分）已完成"
            console.print(f"分布式巡查：本进程（{role}）已完成自己的部分，其余进程仍在运行；"
                          f"下列统计为此刻整个巡查的进度。", soft_wrap=True)
    resumed = f"（续扫：此前已完成 {result.resumed_from} 页）" if result.resumed_from else ""
    browser = f"，其中 {result.via_browser} 页经浏览器渲染" if result.via_browser else ""
    console.print(
        f"巡查{state}：平台配置 {result.profile}，共 {result.pages} 个页面{resumed}，"
        f"{result.flagged} 个页面存在问题，共 {result.findings} 项发现；本次抓取 {result.pages_this_run} 页{browser}，"
        f"错误 {result.errors} 个，用时 {result.seconds:.1f} 秒（{result.pages_per_second:.1f} 页/秒）；"
        f"运行编号 {result.run_id}（已写入数据库）。",
        soft_wrap=True,
    )


def _print_kinds(console: Console, pages_by_kind: Mapping[str, int]) -> None:
    """Stored pages per kind; listing and navigation pages are said apart: they are no listings."""
    judged = [f"{KIND_ZH[k]} {pages_by_kind[k]} 个" for k in PAGE_KINDS
              if k not in NAVIGATION_KINDS and pages_by_kind.get(k)]
    navigation = [f"{KIND_ZH[k]} {pages_by_kind[k]} 个" for k in NAVIGATION_KINDS if pages_by_kind.get(k)]
    if not judged and not navigation:
        return
    line = "页面类型：" + ("、".join(judged) or "无商品、店铺或平台页面")
    if navigation:
        line += f"；另有{'、'.join(navigation)}（仅作抓取导航，不计为商品，不适用规则）"
    console.print(line + "。", soft_wrap=True, markup=False, highlight=False)


def _print_traps(console: Console, result: SweepResult) -> None:
    """What the crawl-trap guard stopped in this run: one line per rule and URL pattern."""
    for raw in result.stats.get("traps_this_run") or ():
        console.print(TrapCount.from_stats(raw).line(), style="yellow", soft_wrap=True, markup=False,
                      highlight=False)


def _print_rule_table(console: Console, result: SweepResult, held: frozenset[str]) -> None:
    """Pages per rule, most severe first; a rule the precision guard held is marked."""
    catalogue = rules()
    table = Table(title="各规则汇总（涉及页面数）")
    table.add_column("规则", no_wrap=True, min_width=31)
    table.add_column("名称")
    table.add_column("级别")
    table.add_column("涉及页面数", justify="right")
    ordered = sorted(
        result.rule_pages,
        key=lambda r: (SEVERITY_ORDER.get(r[1], 9), r[0]),
    )
    for rule_id, severity, count in ordered:
        spec = catalogue.get(rule_id)
        style = SEVERITY_STYLE.get(severity, "")
        table.add_row(rule_id, spec.title if spec else rule_id,
                      f"[{style}]{SEVERITY_ZH.get(severity, severity)}[/]",
                      f"{count}（精度警戒）" if rule_id in held else str(count))
    console.print(table)
