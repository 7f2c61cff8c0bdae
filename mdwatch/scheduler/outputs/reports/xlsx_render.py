"""The XLSX report (openpyxl): sheets 汇总 (overview and tables), 问题明细 (findings), 重复违规店铺.

openpyxl is imported inside the functions, as before the split: importing the reports (``notify.py``
does, for its labels) should not pay for loading it.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from .model import FindingItem, Report

if TYPE_CHECKING:
    from openpyxl.worksheet.worksheet import Worksheet

HEAD_FILL = "DDE6F0"  # background of header rows
ALERT_COLOR = "B42318"  # precision-guard lines, in red as in the HTML report
DETAIL_COLUMNS = ("序号", "问题编号", "运行编号", "平台", "店铺", "页面类型", "页面网址", "规则", "名称", "级别", "依据",
                  "问题描述", "证据", "抓取时间（北京时间）", "页面 SHA-256", "截图 SHA-256")
URL_COLUMN = 7  # 页面网址, a hyperlink
WRAPPED_COLUMNS = (11, 12, 13)  # 依据, 问题描述, 证据: long text


def render_xlsx(report: Report) -> bytes:
    """The report as an XLSX workbook: sheets 汇总, 问题明细, 重复违规店铺."""
    from openpyxl import Workbook

    wb = Workbook()
    ws = wb.active
    assert ws is not None
    _summary_sheet(ws, report)
    _detail_sheet(wb.create_sheet("问题明细"), report)
    _repeat_sheet(wb.create_sheet("重复违规店铺"), report)
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()


def _header(ws: Worksheet, row: int, names: Sequence[str]) -> None:
    from openpyxl.styles import Font, PatternFill

    bold, fill = Font(bold=True), PatternFill("solid", fgColor=HEAD_FILL)
    for col, name in enumerate(names, 1):
        cell = ws.cell(row=row, column=col, value=name)
        cell.font = bold
        cell.fill = fill


def _widths(ws: Worksheet, values: Sequence[int]) -> None:
    from openpyxl.utils import get_column_letter

    for col, width in enumerate(values, 1):
        ws.column_dimensions[get_column_letter(col)].width = width


# -------------------------------------------------------------------- 汇总


def _summary_sheet(ws: Worksheet, report: Report) -> None:
    from openpyxl.styles import Font

    ws.title = "汇总"
    ws.append(["监测报告"])
    ws["A1"].font = Font(bold=True, size=14)
    ws.append([report.title])
    for label, value in _overview(report):
        ws.append([label, value])
    for alert in report.precision_alerts:
        ws.append([f"精度警戒（运行 {alert.run_id}）", alert.line])
        ws.cell(row=ws.max_row, column=2).font = Font(bold=True, color=ALERT_COLOR)
    for title, names, rows in _tables(report):
        ws.append([])
        ws.append([title])
        ws.cell(row=ws.max_row, column=1).font = Font(bold=True, size=12)
        _header(ws, ws.max_row + 1, names)
        for row in rows:
            ws.append(row)
    _widths(ws, [34, 30, 14, 48, 12, 20, 20, 10, 10])


def _overview(report: Report) -> list[tuple[str, Any]]:
    return [("监测范围", report.scope_label), ("平台", "、".join(report.platforms)),
            ("监测时间（北京时间）", report.period), ("报告生成时间", report.generated_at),
            ("问题总数", report.total_findings), ("涉及页面", report.flagged_pages),
            ("检查页面", report.total_pages), ("涉及店铺", report.shops_with_findings)]


def _tables(report: Report) -> list[tuple[str, list[str], list[list[Any]]]]:
    """The summary's tables: title, column names, rows."""
    return [
        ("运行", ["运行编号", "类型", "平台", "目标", "状态", "开始时间", "结束时间", "页面数", "问题数"],
         [[r.id, r.kind_zh, r.platform, r.target, r.status, r.started_at, r.finished_at, r.pages, r.findings]
          for r in report.runs]),
        ("按规则统计", ["规则", "名称", "级别", "依据", "问题数", "涉及页面数"],
         [[c.rule, c.title, c.severity_zh, c.article, c.findings, c.pages] for c in report.by_rule]),
        ("按级别统计", ["级别", "问题数", "涉及页面数"],
         [[c.label, c.findings, c.pages] for c in report.by_severity]),
        ("按店铺统计", ["店铺", "网址", "平台", "问题数", "严重问题数", "涉及页面数", "规则数"],
         [[c.name, c.url, c.platform, c.findings, c.critical, c.pages, c.rules] for c in report.by_shop]),
        ("按平台统计", ["平台", "问题数", "严重问题数", "涉及页面数", "涉及店铺数"],
         [[c.platform, c.findings, c.critical, c.pages, c.shops] for c in report.by_platform]),
    ]


# -------------------------------------------------------------------- 问题明细


def _detail_sheet(ws: Worksheet, report: Report) -> None:
    """One row per finding, in the report's page order, filterable, the header row frozen."""
    from openpyxl.styles import Alignment
    from openpyxl.utils import get_column_letter

    wrap = Alignment(wrap_text=True, vertical="top")
    _header(ws, 1, DETAIL_COLUMNS)
    findings = ((page, f) for page in report.pages for f in page.findings)
    for n, (page, f) in enumerate(findings, 1):
        ws.append([n, f.id, f.run_id, page.platform, page.shop_name, page.kind_zh, page.url, f.rule, f.title,
                   f.severity_zh, f.article, f.message, _evidence_text(f), page.fetched_at, page.capture_sha256,
                   page.screenshot.sha256 if page.screenshot else "无截图"])
        ws.cell(row=ws.max_row, column=URL_COLUMN).hyperlink = page.url
        for col in WRAPPED_COLUMNS:
            ws.cell(row=ws.max_row, column=col).alignment = wrap
    ws.freeze_panes = "A2"
    ws.auto_filter.ref = f"A1:{get_column_letter(len(DETAIL_COLUMNS))}{max(1, ws.max_row)}"
    _widths(ws, [6, 9, 9, 12, 22, 9, 40, 30, 24, 6, 36, 40, 60, 20, 66, 66])


def _evidence_text(f: FindingItem) -> str:
    """The finding's snippets, one a line, with image URL and match; the count of those left out."""
    text = "\n".join(
        (f"[图片 {e.image_url}] " if e.image_url else "") + e.snippet + (f"（命中：{e.match}）" if e.match else "")
        for e in f.evidence)
    if f.more_evidence:
        text += f"\n…另有 {f.more_evidence} 处"
    return text


# -------------------------------------------------------------------- 重复违规店铺


def _repeat_sheet(ws: Worksheet, report: Report) -> None:
    from openpyxl.styles import Font

    ws.append([f"重复违规店铺（信用档案）：在 {report.repeat_runs} 次及以上运行中被发现问题的店铺"])
    ws["A1"].font = Font(bold=True)
    _header(ws, 2, ["店铺", "网址", "违规运行次数", "运行编号", "累计问题数", "本报告问题数", "涉及规则",
                    "首次发现", "最近发现"])
    for o in report.repeat_offenders:
        ws.append([o.name, o.url, o.run_count, "、".join(map(str, o.run_ids)), o.findings_total, o.findings_here,
                   "、".join(o.rules), o.first_at, o.last_at])
    _widths(ws, [24, 44, 12, 20, 12, 12, 60, 20, 20])
