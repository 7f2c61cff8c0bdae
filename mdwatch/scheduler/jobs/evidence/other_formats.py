"""The other forms of an export: a WACZ web archive (opens in ReplayWeb.page without mdwatch) and
the 取证报告 PDF of one finding. Both name their target as the ZIP export does, and both are
recorded in the chain of custody."""

from __future__ import annotations

from pathlib import Path

import click

from mdwatch.scheduler.jobs.evidence.custody_log import export_target, record
from mdwatch.scheduler.jobs.evidence.pdf_report import ReportError, finding_facts, render_finding_pdf
from mdwatch.scheduler.jobs.evidence.selection import EvidenceError, Target, select_target
from mdwatch.scheduler.jobs.evidence.wacz_package import write_wacz
from mdwatch.storage.database import resolve_db_url
from mdwatch.storage.evidence import EvidenceStore

__all__ = ["report_command", "wacz_command"]


def _pages(db_url: str, target: Target) -> list[int] | int:
    """What to archive: a run's every page, else the pages of the target's findings."""
    if target.kind == "run":
        return int(target.value)
    with EvidenceStore(db_url) as store:
        selection = select_target(store, target, [])
    return list(dict.fromkeys(f.page_id for f in selection.findings))


def wacz_command(db_url: str | None, out: str, target: Target, operator: str | None) -> int:
    """``mdwatch evidence export … OUT.wacz``: 0 written, 2 nothing to archive."""
    url = resolve_db_url(db_url)
    try:
        result = write_wacz(url, _pages(url, target), out, title=f"mdwatch 固证：{target.scope}")
    except EvidenceError as exc:
        record(db_url, operator=operator, action="export", target=export_target(target), result="failed",
               package=Path(out).name, detail=f"WACZ：{exc}")
        click.echo(f"mdwatch: {exc}", err=True)
        return 2
    record(db_url, operator=operator, action="export", target=export_target(target), result="ok",
           manifest_sha256=result.datapackage_sha256, package=result.path.name,
           detail=f"WACZ：{result.pages} 个页面，{result.records} 条 WARC 记录")
    click.echo(f"已导出网页归档（WACZ）：{result.path}（{target.scope}；{result.pages} 个页面，"
               f"{result.screenshots} 张截图）")
    for note in result.notes:
        click.echo(f"说明：{note}")
    click.echo(f"datapackage.json 的 SHA-256：{result.datapackage_sha256}；可用 ReplayWeb.page 打开。")
    return 0


def report_command(db_url: str | None, finding_id: int, out: str, operator: str | None) -> int:
    """``mdwatch evidence report --finding N OUT.pdf``: 0 written, 2 no such finding, 3 no PDF."""
    target = Target("finding", str(finding_id))
    try:
        facts = finding_facts(db_url, finding_id, operator=operator)
        path = render_finding_pdf(facts, out)
    except ReportError as exc:
        record(db_url, operator=operator, action="export", target=export_target(target), result="failed",
               package=Path(out).name, detail=f"取证报告：{exc}")
        click.echo(f"mdwatch: {exc}", err=True)
        return 2 if "没有编号" in str(exc) else 3
    import hashlib

    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    record(db_url, operator=operator, action="export", target=export_target(target), result="ok",
           manifest_sha256=digest, package=path.name, detail="取证报告（PDF）")
    click.echo(f"已生成取证报告：{path}（问题 {finding_id}；SHA-256 {digest}）")
    return 0
