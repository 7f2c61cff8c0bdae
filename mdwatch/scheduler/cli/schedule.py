"""``mdwatch schedule add|list|pause|resume|remove|runs`` and ``mdwatch scheduler run``.

Thin click commands over :mod:`mdwatch.scheduler.service`; registered on the main group in
``mdwatch/scheduler/cli.py``.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import TypeVar

import click

from mdwatch.scheduler.params import Seconds
from mdwatch.scheduler.settings import option

EXIT_OK, EXIT_USAGE = 0, 2
DB_HELP = "数据库 URL（默认：用户数据目录下的 SQLite）。"

F = TypeVar("F", bound=Callable[..., object])


def _db_option(f: F) -> F:
    return option("db")(f)


def _err(message: str) -> None:
    click.echo(f"mdwatch: {message}", err=True)


def _known_commands() -> set[str]:
    root = click.get_current_context().find_root().command
    return set(root.list_commands(click.get_current_context())) if isinstance(root, click.Group) else set()


@click.group(help="计划任务：按 cron 定时运行 mdwatch 命令（巡查、专项监测等）。")
def schedule() -> None:
    pass


@schedule.command(name="add", help=(
    "添加计划：NAME 之后用 -- 隔开要运行的 mdwatch 命令，例如："
    "mdwatch schedule add 夜间巡查 --cron '0 2 * * *' -- sweep demo"))
@click.argument("name")
@click.argument("command", nargs=-1, required=True, metavar="-- COMMAND...")
@click.option("--cron", help="cron 表达式：5 个字段（分 时 日 月 周），或 6 个字段（秒 分 时 日 月 周）。")
@click.option("--every", type=click.IntRange(min=1), metavar="SECONDS", help="每隔若干秒运行一次（代替 --cron）。")
@option("tz")
@click.option("--misfire-grace", type=click.IntRange(min=1), default=3600, show_default=True, metavar="SECONDS",
              help="错过的运行（调度器未在运行时）在多少秒内仍补跑一次（多次错过合并为一次）。")
@click.option("--replace", is_flag=True, help="同名计划已存在时替换它。")
@_db_option
def schedule_add(name: str, command: tuple[str, ...], cron: str | None, every: int | None, tz: str | None,
                 misfire_grace: int, replace: bool, db_url: str | None) -> int:
    from mdwatch.scheduler.service import ScheduleBook, ScheduleError

    known = _known_commands()
    if known and command[0] not in known:
        raise click.UsageError(f"未知的 mdwatch 命令：{command[0]}")
    try:
        with ScheduleBook(db_url, tz) as book:
            info = book.add(name, command, cron=cron, every=every, tz=tz, misfire_grace=misfire_grace,
                            replace=replace)
            when = _when(info.next_run_time, book.tz)
    except ScheduleError as exc:
        raise click.UsageError(str(exc)) from exc
    click.echo(f"已添加计划 {info.name}：{info.plan}，下次运行 {when}。命令：mdwatch {_cmdline(info.args)}")
    return EXIT_OK


def _cmdline(args: list[str]) -> str:
    import shlex

    return shlex.join(args)


def _when(value: datetime | None, tz: object) -> str:
    from mdwatch.scheduler.service import _fmt_time

    if value is None:
        return "—"
    text = _fmt_time(value, tz)  # type: ignore[arg-type]
    if value < datetime.now(UTC):
        text += "（已过，调度器运行时补跑）"
    return text


@schedule.command(name="list", help="列出全部计划：名称、计划、下次运行、状态、命令。")
@option("json")
@option("tz")
@_db_option
def schedule_list(as_json: bool, tz: str | None, db_url: str | None) -> int:
    from rich.table import Table

    from mdwatch.scheduler.outputs.terminal import make_console
    from mdwatch.scheduler.service import ScheduleBook, ScheduleError

    try:
        with ScheduleBook(db_url, tz) as book:
            infos = book.schedules()
            zone = book.tz
    except ScheduleError as exc:
        raise click.UsageError(str(exc)) from exc
    if as_json:
        click.echo(json.dumps([i.to_json() for i in infos], ensure_ascii=False, indent=2))
        return EXIT_OK
    if not infos:
        click.echo("还没有计划。用 mdwatch schedule add 添加。")
        return EXIT_OK
    table = Table(title="计划任务")
    for col in ("名称", "计划", "下次运行", "状态", "命令"):
        table.add_column(col)
    for info in infos:
        state = info.state
        if info.running is not None:
            state += f"（进程 {info.running.pid}）"
        table.add_row(info.name, info.plan, "—" if info.paused else _when(info.next_run_time, zone), state,
                      "mdwatch " + _cmdline(info.args))
    make_console().print(table)
    return EXIT_OK


def _simple(action: str, done: str) -> Callable[[str, str | None], int]:
    def command(name: str, db_url: str | None) -> int:
        from mdwatch.scheduler.service import ScheduleBook, ScheduleError

        try:
            with ScheduleBook(db_url) as book:
                if action == "remove":
                    book.remove(name)
                    click.echo(f"已删除计划 {name}。")
                    return EXIT_OK
                info = book.pause(name) if action == "pause" else book.resume(name)
                when = _when(info.next_run_time, book.tz)
        except ScheduleError as exc:
            raise click.UsageError(str(exc)) from exc
        click.echo(f"{done}计划 {name}。" + ("" if info.paused else f"下次运行 {when}。"))
        return EXIT_OK

    return command


for _action, _done, _help in (("pause", "已暂停", "暂停计划（正在运行的任务不受影响）。"),
                              ("resume", "已恢复", "恢复已暂停的计划。"),
                              ("remove", "已删除", "删除计划（正在运行的任务不受影响）。")):
    schedule.command(name=_action, help=_help)(
        click.argument("name")(_db_option(_simple(_action, _done))))


@schedule.command(name="runs", help="最近的运行记录：开始、结束、退出码、进程号、日志。")
@click.argument("name", required=False)
@click.option("--limit", type=click.IntRange(min=1), default=20, show_default=True)
@option("json")
@_db_option
def schedule_runs(name: str | None, limit: int, as_json: bool, db_url: str | None) -> int:
    from rich.table import Table

    from mdwatch.scheduler.outputs.terminal import make_console
    from mdwatch.scheduler.service import ScheduleBook, _fmt_time

    with ScheduleBook(db_url) as book:
        runs = book.runs(name, limit)
        zone = book.tz
    if as_json:
        click.echo(json.dumps([
            {"id": r.id, "name": r.name, "started_at": r.started_at.isoformat(),
             "finished_at": r.finished_at.isoformat() if r.finished_at else None, "exit_code": r.exit_code,
             "pid": r.pid, "host": r.host, "status": r.status, "command": r.command, "log": r.log_path}
            for r in runs], ensure_ascii=False, indent=2))
        return EXIT_OK
    status_zh = {"running": "运行中", "finished": "已结束", "orphaned": "调度器中断（结束时间为发现时间）"}
    table = Table(title="计划运行记录")
    for col in ("名称", "开始", "结束", "退出码", "进程", "状态", "日志"):
        table.add_column(col)
    for r in runs:
        table.add_row(r.name, _fmt_time(r.started_at, zone), _fmt_time(r.finished_at, zone),
                      "—" if r.exit_code is None else str(r.exit_code), str(r.pid),
                      status_zh.get(r.status, r.status), r.log_path or "")
    make_console().print(table)
    return EXIT_OK


@click.group(name="scheduler", help="调度器：在前台运行计划任务。")
def scheduler_group() -> None:
    pass


@scheduler_group.command(name="run", help=(
    "在前台运行调度器，按计划启动任务（每个任务在独立进程中运行）。SIGTERM 或 Ctrl-C：不再启动新任务，"
    "等待运行中的任务结束（至多 --stop-timeout 秒），之后保留其锁让其继续运行并退出。"))
@_db_option
@option("tz")
@click.option("--log-dir", type=click.Path(file_okay=False, path_type=Path),
              help="任务输出日志目录（默认：用户数据目录下的 schedule-logs）。")
@click.option("--max-workers", type=click.IntRange(min=1), default=8, show_default=True, help="同时运行的任务数上限。")
@click.option("--poll", "poll_seconds", type=Seconds(min=0.1, min_open=False), default=5.0, show_default=True,
              metavar="SECONDS", help="多久检查一次其他进程对计划的修改。")
@click.option("--stop-timeout", type=Seconds(min=0, min_open=False, max=86400), default=10.0, show_default=True, metavar="SECONDS",
              help="停止时等待运行中任务的秒数。")
def scheduler_run(db_url: str | None, tz: str | None, log_dir: Path | None, max_workers: int,
                  poll_seconds: float, stop_timeout: float) -> int:
    from mdwatch.scheduler.service import ScheduleError, ServeOptions, serve

    options = ServeOptions(db_url=db_url, tz=tz, log_dir=log_dir, max_workers=max_workers,
                           poll_seconds=poll_seconds, stop_timeout=stop_timeout)
    try:
        return serve(options, click.echo)
    except ScheduleError as exc:
        raise click.UsageError(str(exc)) from exc


@scheduler_group.command(name="_sleep", hidden=True,
                         help="测试用：睡眠若干秒（--hold 文件存在时一直等待），并在 MARK 文件中记录开始和结束。")
@click.argument("seconds", type=float)
@click.option("--mark", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--hold", type=click.Path(dir_okay=False, path_type=Path))
def scheduler_sleep(seconds: float, mark: Path | None, hold: Path | None) -> int:
    import os

    def note(what: str) -> None:
        if mark is not None:
            with open(mark, "a", encoding="utf-8") as fh:
                fh.write(f"{what} {os.getpid()} {time.time():.6f}\n")

    note("start")
    while hold is not None and hold.exists():
        time.sleep(0.1)
    time.sleep(seconds)
    note("end")
    return EXIT_OK
