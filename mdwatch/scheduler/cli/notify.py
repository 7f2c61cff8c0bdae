"""``mdwatch notify`` (通知): send a run's critical findings (``notify RUN_ID``, as before, also
``notify run RUN_ID``), try the channels (``notify test``) and read the notification log
(``notify log``). The work is in :mod:`mdwatch.scheduler.outputs.notify`.

Registered in ``cli/__init__.py`` in place of the former single command (``report.notify``),
which is this group's ``run`` subcommand and its default.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import click

from mdwatch.scheduler.cli.report import notify as notify_run_command
from mdwatch.scheduler.settings import option

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2


def _err(message: str) -> None:
    click.echo(f"mdwatch: {message}", err=True)


class _RunByDefault(click.Group):
    """A group whose first argument, when it names no subcommand, is the ``run`` subcommand's:
    ``mdwatch notify 12`` and ``mdwatch notify latest`` keep working in cron scripts."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        if args and args[0] not in self.commands and args[0] not in ctx.help_option_names:
            args = ["run", *args]
        return super().parse_args(ctx, args)


@click.group(name="notify", cls=_RunByDefault,
             help="通知：mdwatch notify RUN_ID 按通知配置发送一次运行的严重问题（同 notify run）；"
                  "notify test 向各渠道发送测试消息；notify log 查看通知记录。"
                  "渠道：邮件、Webhook、企业微信、钉钉、飞书（见 docs/notifications.md）。")
def notify() -> None:
    pass


notify.add_command(notify_run_command, name="run")


@notify.command(name="test", help="向已配置的通知渠道发送一条中文测试消息，每个渠道输出一行结果；结果写入通知记录。")
@click.option("--channel", metavar="NAME",
              help="只测试这个渠道：名称（smtp、webhook、wecom、dingtalk、feishu、lark 或配置中的 name）或类型。")
@click.option("--notify-config", "config_path", envvar="MDWATCH_NOTIFY_CONFIG",
              type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="通知配置 YAML 文件（默认读取环境变量 MDWATCH_NOTIFY_*）。")
@option("db")
def notify_test(channel: str | None, config_path: Path | None, db_url: str | None) -> int:
    from mdwatch.scheduler.outputs.notify import NotifyConfigError, load_notify_config
    from mdwatch.scheduler.outputs.notify import notify_test as send_test

    try:
        result = send_test(load_notify_config(config_path), db_url, channel)
    except NotifyConfigError as exc:
        _err(str(exc))
        return EXIT_USAGE
    for d in result.deliveries:
        name = "" if d.channel in (d.kind, "smtp") else f"（{d.channel}）"
        click.echo(f"{d.label}{name}：{'发送成功' if d.ok else '发送失败'}，{d.detail} — {d.target}")
    if result.log_error:
        _err(f"未能写入通知记录：{result.log_error}")
    return EXIT_OK if result.ok else EXIT_FAILED


@notify.command(name="log", help="查看最近的通知记录（北京时间）：渠道、目标（已隐去密钥）、标题、结果。")
@click.option("--limit", type=click.IntRange(min=1, max=10000), default=50, show_default=True, help="列出的条数。")
@option("json")
@option("db")
def notify_log(limit: int, as_json: bool, db_url: str | None) -> int:
    from mdwatch.scheduler.outputs.notify import KIND_ZH
    from mdwatch.scheduler.settings import display_tz
    from mdwatch.storage.notifications import NotificationStore

    with NotificationStore(db_url) as store:
        records = store.recent(limit)
    if as_json:
        rows = [{**dataclasses.asdict(r), "sent_at": r.sent_at.isoformat()} for r in records]
        click.echo(json.dumps(rows, ensure_ascii=False, indent=2))
        return EXIT_OK
    if not records:
        click.echo("暂无通知记录。")
    tz = display_tz()
    for r in records:
        run = f" 运行 {r.run_id}" if r.run_id is not None else ""
        click.echo(f"{r.sent_at.astimezone(tz):%Y-%m-%d %H:%M:%S} {KIND_ZH.get(r.channel, r.channel)} "
                   f"{'成功' if r.ok else '失败'}{run}：{r.title}｜{r.detail or ''}｜{r.target}")
    return EXIT_OK
