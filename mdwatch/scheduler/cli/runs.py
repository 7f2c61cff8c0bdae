"""``mdwatch runs``: the stored runs, newest first, for operators and for cron scripts."""

from __future__ import annotations

import dataclasses
import json

import click

from mdwatch.scheduler.settings import option

EXIT_OK = 0


@click.command(name="runs", help="列出最近的运行（扫描、巡查、演示、专项监测）：编号、类型、状态、开始时间、用时、页面数、问题数。"
               "其他命令的运行编号处可写 latest（最近一次）。")
@click.option("--limit", type=click.IntRange(min=1, max=10000), default=20, show_default=True, help="列出的条数。")
@option("json")
@option("db")
def runs(limit: int, as_json: bool, db_url: str | None) -> int:
    from rich.table import Table

    from mdwatch.scheduler.jobs.runs import recent_runs, run_line
    from mdwatch.scheduler.outputs.labels import RUN_KIND_ZH
    from mdwatch.scheduler.outputs.terminal import make_console
    from mdwatch.scheduler.settings import display_tz

    stored = recent_runs(db_url, limit)
    if as_json:
        click.echo(json.dumps([dataclasses.asdict(run_line(r)) for r in stored], ensure_ascii=False, indent=2))
        return EXIT_OK
    table = Table(title="最近的运行")
    for col in ("编号", "类型", "状态", "开始（北京时间）", "用时", "页面", "问题", "目标"):
        table.add_column(col)
    tz = display_tz()
    for run in stored:
        line = run_line(run)
        took = "—" if line.seconds is None else f"{line.seconds:.0f} 秒"
        table.add_row(str(run.id), RUN_KIND_ZH.get(run.kind, run.kind), run.status,
                      run.started_at.astimezone(tz).strftime("%Y-%m-%d %H:%M:%S"), took, str(line.pages),
                      str(line.findings), run.target[:60])
    make_console().print(table)
    return EXIT_OK
