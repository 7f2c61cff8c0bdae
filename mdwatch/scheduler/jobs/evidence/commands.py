"""The bodies of ``mdwatch evidence export`` and ``mdwatch evidence verify``: output and exit status."""

from __future__ import annotations

from mdwatch.scheduler.jobs.evidence.exporting import EvidenceError, export
from mdwatch.scheduler.jobs.evidence.verification import verify


def export_command(db_url: str | None, out_zip: str, *, finding_id: int | None, run_id: int | None,
                   screenshots: bool = True) -> int:
    """``mdwatch evidence export``: 0 written, 2 unknown finding or run."""
    import click

    try:
        result = export(db_url, out_zip, finding_id=finding_id, run_id=run_id, screenshots=screenshots)
    except EvidenceError as exc:
        click.echo(f"mdwatch: {exc}", err=True)
        return 2
    click.echo(f"已导出证据包：{result.path}（{result.findings} 条线索，{result.files} 个文件）")
    for note in result.notes:
        click.echo(f"说明：{note}")
    click.echo(f"清单 manifest.json 的 SHA-256：{result.manifest_sha256}（请另行记录，供日后核对）")
    return 0


def verify_command(zip_path: str) -> int:
    """``mdwatch evidence verify``: 0 intact, 1 failed (one line per problem on stdout, a summary on stderr)."""
    import click

    try:
        report = verify(zip_path)
    except Exception as exc:  # last resort: a hostile package must never end in a traceback
        click.echo(f"校验失败：无法处理该证据包（{type(exc).__name__}）。", err=True)
        return 1
    if report.ok:
        click.echo(f"校验通过：{report.checked} 个文件的 SHA-256 均与清单一致。")
        click.echo(f"清单 SHA-256：{report.manifest_sha256}；导出时间（北京时间）：{report.exported_at}；"
                   f"mdwatch {report.tool_version}")
        return 0
    for problem in report.problems:
        click.echo(problem.line())
    click.echo(f"校验失败：发现 {len(report.problems)} 个问题。", err=True)
    return 1
