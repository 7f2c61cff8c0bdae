"""``mdwatch report`` (监测报告) and ``mdwatch notify`` (通知): click commands; the work is in
:mod:`mdwatch.scheduler.outputs.reports` and :mod:`mdwatch.scheduler.outputs.notify`.

Registered in ``cli.py`` with ``cli.add_command(report)`` (and ``cli.add_command(notify)``).
"""

from __future__ import annotations

import sys
from pathlib import Path

import click

from mdwatch.scheduler.params import RunRef
from mdwatch.scheduler.settings import option

EXIT_OK, EXIT_USAGE, EXIT_FAILED = 0, 2, 1


def _err(message: str) -> None:
    click.echo(f"mdwatch: {message}", err=True)


@click.command(name="report", help="生成监测报告（HTML/XLSX/JSON）：按规则、级别、店铺、平台统计，问题明细与证据截图，重复违规店铺。")
@click.option("--sweep", "sweep_id", type=RunRef(), metavar="ID", help="巡查的运行编号（latest：最近一次巡查）。")
@click.option("--run", "run_ids", type=RunRef(), multiple=True, metavar="ID",
              help="运行编号（可重复，合并为一份报告；latest：最近一次运行）。")
@click.option("--campaign", metavar="NAME", help="专项监测活动名称：报告其全部运行。")
@click.option("--format", "fmt", type=click.Choice(("html", "xlsx", "json")), default="html", show_default=True,
              help="报告格式。")
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path),
              help="输出文件（默认：report-<范围>.<格式>；json 可用 - 输出到标准输出）。")
@option("db")
@click.option("--no-thumbnails", is_flag=True, help="不在报告中嵌入截图缩略图。")
def report(sweep_id: int | str | None, run_ids: tuple[int | str, ...], campaign: str | None, fmt: str, output: Path | None,
           db_url: str | None, no_thumbnails: bool) -> int:
    from mdwatch.scheduler.jobs.runs import RunsError, resolve_run
    from mdwatch.scheduler.outputs.reports import ReportError, build_report, render, write_report

    chosen = sum((sweep_id is not None, bool(run_ids), campaign is not None))
    if chosen != 1:
        raise click.UsageError("请且只能指定 --sweep ID、--run ID 或 --campaign NAME 之一。")
    try:
        ids = ([resolve_run(db_url, sweep_id, "sweep")] if sweep_id is not None
               else [resolve_run(db_url, r) for r in run_ids])
    except RunsError as exc:
        _err(str(exc))
        return EXIT_USAGE
    try:
        doc = build_report(db_url, run_ids=ids, campaign=campaign,
                           scope="sweep" if sweep_id is not None else None, thumbnails=not no_thumbnails)
    except ReportError as exc:
        _err(str(exc))
        return EXIT_USAGE
    if output is not None and str(output) == "-":
        if fmt == "xlsx":
            raise click.UsageError("XLSX 报告不能输出到标准输出，请用 -o 指定文件。")
        sys.stdout.buffer.write(render(doc, fmt))
        sys.stdout.buffer.flush()
        return EXIT_OK
    if output is None:
        if campaign is not None:
            stem = f"report-campaign-{campaign}"
        else:
            stem = "report-" + "-".join(str(i) for i in ids)
        output = Path(f"{stem}.{fmt}")
    path = write_report(doc, fmt, output)
    click.echo(f"监测报告已生成：{path}（{doc.scope_label}，问题 {doc.total_findings} 项，"
               f"涉及页面 {doc.flagged_pages} 个，重复违规店铺 {len(doc.repeat_offenders)} 家）")
    return EXIT_OK


@click.command(name="notify", help="按通知配置（邮件、Webhook）发送一次运行的严重问题通知；没有严重问题时不发送。")
@click.argument("run_ref", type=RunRef(), metavar="RUN_ID")
@click.option("--notify-config", "config_path", envvar="MDWATCH_NOTIFY_CONFIG",
              type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="通知配置 YAML 文件（默认读取环境变量 MDWATCH_NOTIFY_*）。")
@option("db")
def notify(run_ref: int | str, config_path: Path | None, db_url: str | None) -> int:
    from mdwatch.scheduler.outputs.notify import NotifyConfigError, load_notify_config, notify_run

    try:
        config = load_notify_config(config_path)
    except NotifyConfigError as exc:
        _err(str(exc))
        return EXIT_USAGE
    if not config.configured:
        _err("未配置通知渠道（--notify-config 或 MDWATCH_NOTIFY_SMTP_HOST / MDWATCH_NOTIFY_WEBHOOK）。")
        return EXIT_USAGE
    from mdwatch.scheduler.jobs.runs import RunsError, resolve_run

    try:
        run_id = resolve_run(db_url, run_ref)
    except RunsError as exc:
        _err(str(exc))
        return EXIT_USAGE
    result = notify_run(db_url, run_id, config)
    click.echo(result.summary_zh())
    return EXIT_OK if result.ok else EXIT_FAILED
