"""The bodies of ``mdwatch evidence export`` and ``mdwatch evidence verify``: output, exit status and
the chain-of-custody entry each appends (:mod:`.custody_log`)."""

from __future__ import annotations

from pathlib import Path

from mdwatch.scheduler.jobs.evidence.custody_log import export_target, package_target, record
from mdwatch.scheduler.jobs.evidence.exporting import EvidenceError, export
from mdwatch.scheduler.jobs.evidence.selection import Target
from mdwatch.scheduler.jobs.evidence.verification import verify


def export_command(db_url: str | None, out_zip: str, *, finding_id: int | None = None, run_id: int | None = None,
                   lead_id: int | None = None, campaign: str | None = None, screenshots: bool = True,
                   operator: str | None = None, tsa_url: str | None = None) -> int:
    """``mdwatch evidence export``: 0 written, 2 unknown finding, lead, run or campaign."""
    import click

    try:
        result = export(db_url, out_zip, finding_id=finding_id, run_id=run_id, lead_id=lead_id, campaign=campaign,
                        screenshots=screenshots, tsa_url=tsa_url)
    except EvidenceError as exc:
        target = _target(finding_id, run_id, lead_id, campaign)
        record(db_url, operator=operator, action="export", target=target, result="failed",
               package=Path(out_zip).name, detail=str(exc))
        click.echo(f"mdwatch: {exc}", err=True)
        return 2
    assert result.target is not None
    record(db_url, operator=operator, action="export", target=export_target(result.target), result="ok",
           manifest_sha256=result.manifest_sha256, package=result.path.name,
           detail=f"{result.findings} 条问题，{result.files} 个文件")
    click.echo(f"已导出证据包：{result.path}（{result.scope}；共 {result.findings} 条问题，{result.files} 个文件）")
    for note in result.notes:
        click.echo(f"说明：{note}")
    click.echo(f"清单 manifest.json 的 SHA-256：{result.manifest_sha256}（请另行记录，供日后核对）")
    return 0


def _target(finding_id: int | None, run_id: int | None, lead_id: int | None, campaign: str | None) -> tuple[str, str]:
    for kind, value in (("finding", finding_id), ("lead", lead_id), ("run", run_id), ("campaign", campaign)):
        if value is not None:
            return export_target(Target(kind, str(value)))
    return "unknown", ""


def verify_command(zip_path: str, db_url: str | None = None, operator: str | None = None,
                   custody: bool = True, tsa_cert: str | None = None) -> int:
    """``mdwatch evidence verify``: 0 intact, 1 failed (one line per problem on stdout, a summary on stderr).

    The check is offline; with ``custody`` it is then recorded in the chain of custody of the
    database at ``db_url`` (the default database when None).
    """
    import click

    try:
        report = verify(zip_path, tsa_cert=tsa_cert)
    except Exception as exc:  # last resort: a hostile package must never end in a traceback
        click.echo(f"校验失败：无法处理该证据包（{type(exc).__name__}）。", err=True)
        _record_verify(db_url, operator, zip_path, None, f"无法处理该证据包（{type(exc).__name__}）", custody)
        return 1
    if report.ok:
        click.echo(f"校验通过：{report.checked} 个文件的 SHA-256 均与清单一致。")
        click.echo(f"清单 SHA-256：{report.manifest_sha256}；导出时间（北京时间）：{report.exported_at}；"
                   f"mdwatch {report.tool_version}")
        for line in report.seal:  # the timestamp (which TSA, what time) or the machine's own signature
            click.echo(line)
        _record_verify(db_url, operator, zip_path, report.manifest_sha256, None, custody)
        return 0
    for problem in report.problems:  # one line per problem (a broken seal is one of them)
        click.echo(problem.line())
    click.echo(f"校验失败：发现 {len(report.problems)} 个问题。", err=True)
    _record_verify(db_url, operator, zip_path, report.manifest_sha256 or None,
                   f"发现 {len(report.problems)} 个问题", custody)
    return 1


def _record_verify(db_url: str | None, operator: str | None, zip_path: str, manifest_sha256: str | None,
                   failure: str | None, custody: bool) -> None:
    """Append the verify entry (``failure`` None: passed); a database that cannot take it is said on stderr."""
    if not custody:
        return
    import click

    try:
        record(db_url, operator=operator, action="verify", target=package_target(zip_path),
               result="ok" if failure is None else "failed", manifest_sha256=manifest_sha256,
               package=Path(zip_path).name, detail=failure)
    except Exception as exc:  # the check stands; the database that cannot record it is said once
        reason = str(getattr(exc, "message", "") or type(exc).__name__)
        click.echo(f"mdwatch: 校验结果未能记入保管链：{reason}", err=True)
