"""The other forms of an export: a WACZ web archive (opens in ReplayWeb.page without mdwatch) and
the 取证报告 PDF of one finding. Both name their target as the ZIP export does, and both are
recorded in the chain of custody."""

from __future__ import annotations

from pathlib import Path

import click

from mdwatch.scheduler.jobs.evidence.custody_log import export_target, record
from mdwatch.scheduler.jobs.evidence.pdf_report import (
    ReportError,
    ReportFacts,
    finding_facts,
    render_finding_pdf,
)
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


def _custody_lines(db_url: str | None, targets: list[tuple[str, str]]) -> list[str]:
    """The chain of custody so far, one line per entry, in Beijing time."""
    from mdwatch.scheduler.settings import BEIJING
    from mdwatch.storage.custody import CustodyStore

    with CustodyStore(db_url) as custody:
        entries = custody.entries(targets)
    action_zh = {"export": "导出", "verify": "校验"}
    return [f"{e.at.astimezone(BEIJING):%Y-%m-%d %H:%M:%S} {e.operator} {action_zh.get(e.action, e.action)}"
            f"（{'成功' if e.result == 'ok' else '失败'}）{(' 清单 ' + e.manifest_sha256[:16] + '…') if e.manifest_sha256 else ''}"
            for e in entries]


def _report_facts(db_url: str | None, target: Target, operator: str | None) -> list[ReportFacts]:
    if target.kind == "finding":
        ids = [int(target.value)]
    else:
        with EvidenceStore(resolve_db_url(db_url)) as store:
            ids = [f.id for f in select_target(store, target, []).findings]
    targets = [(target.kind, target.value), *(("finding", str(i)) for i in ids)]
    custody = _custody_lines(db_url, list(dict.fromkeys(targets)))
    return [finding_facts(db_url, i, operator=operator, custody=custody) for i in ids]


def report_command(db_url: str | None, target: Target, out: str, operator: str | None) -> int:
    """``mdwatch evidence report --finding N | --lead N OUT.pdf``: 0 written, 2 no such target, 3 no PDF."""
    try:
        facts = _report_facts(db_url, target, operator)
        path = render_finding_pdf(facts, out, title=target.scope)
    except (ReportError, EvidenceError) as exc:
        record(db_url, operator=operator, action="export", target=export_target(target), result="failed",
               package=Path(out).name, detail=f"取证报告：{exc}")
        click.echo(f"mdwatch: {exc}", err=True)
        return 3 if isinstance(exc, ReportError) and "PDF" in str(exc) else 2
    import hashlib

    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    record(db_url, operator=operator, action="export", target=export_target(target), result="ok",
           manifest_sha256=digest, package=path.name, detail="取证报告（PDF）")
    click.echo(f"已生成取证报告：{path}（{target.scope}；{len(facts)} 条问题；SHA-256 {digest}）")
    return 0
