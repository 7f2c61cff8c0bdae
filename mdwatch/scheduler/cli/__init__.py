"""The ``mdwatch`` command line: a thin click group; the work is done in ``jobs``.

Exit status (shared/DESIGN.md): 0 scanned (findings or not), 2 bad arguments, 3 the target
could not be fetched. Errors go to stderr as one sentence.
"""

from __future__ import annotations

import json
import sys
from typing import TYPE_CHECKING

import click

from mdwatch import __version__
from mdwatch.analyzers.model import PAGE_KINDS
from mdwatch.scheduler.outputs.terminal import make_console
from mdwatch.scheduler.params import check_url
from mdwatch.scheduler.settings import option

if TYPE_CHECKING:
    from mdwatch.analyzers.packs import RuleSelection
    from mdwatch.crawler.fetch import StartedFetch

EXIT_OK, EXIT_USAGE, EXIT_FETCH = 0, 2, 3


def _err(message: str) -> None:
    click.echo(f"mdwatch: {message}", err=True)


@click.group(help="mdwatch：医疗器械（及药品）网络销售合规监测工具。")
@click.version_option(__version__, prog_name="mdwatch")
def cli() -> None:
    pass


def _check_url(url: str) -> str:
    return check_url(url)  # one Chinese usage line, exit 2; a password is never shown


def _selection(packs: str | None) -> RuleSelection:
    """The rule selection of ``--packs`` (every rule without it); an unknown pack is a usage error."""
    from mdwatch.analyzers.packs import PackError, select_packs

    try:
        return select_packs(packs)
    except PackError as exc:
        raise click.UsageError(str(exc)) from exc


def _start_crawl(urls: tuple[str, ...], timeout: float, ocr_engine: str) -> StartedFetch:
    """The scan's crawl, started now in its own process while the rest of the scan loads here
    (the answer comes about half a second sooner); the app uses it if its settings are these."""
    from mdwatch.crawler.capture import FetchSettings
    from mdwatch.crawler.fetch import start_fetch

    return start_fetch(list(urls), FetchSettings(timeout_s=timeout, fetch_images=ocr_engine != "none"))


@cli.command(help="扫描一个或多个店铺、商品或平台页面，输出合规问题。")
@click.argument("urls", nargs=-1, required=True, metavar="URL...")
@click.option("--kind", type=click.Choice(PAGE_KINDS), help="指定页面类型（默认自动识别）。")
@option("json")
@option("db")
@click.option("--no-store", is_flag=True, help="只输出结果，不写入数据库。")
@option("timeout")
@option("ocr-engine")
@option("no-browser")
@option("packs")
@click.option("--no-evidence", is_flag=True,
              help="存储结果但不保存证据（WARC 与有问题页面的截图）；默认在本次扫描中同时固证。")
def scan(urls: tuple[str, ...], kind: str | None, as_json: bool, db_url: str | None, no_store: bool,
         timeout: float, ocr_engine: str, no_browser: bool, packs: str | None = None,
         no_evidence: bool = False) -> int:
    from mdwatch.crawler.capture import FetchResult

    for url in urls:
        _check_url(url)
    selection = _selection(packs)
    started = _start_crawl(urls, timeout, ocr_engine)
    from mdwatch.scheduler.app import AppConfig, build_app
    from mdwatch.scheduler.outputs.terminal import print_outcome
    from mdwatch.scheduler.pipeline import outcome_json
    from mdwatch.scheduler.pipeline.registry import registry_rules

    shown: set[str] = set()

    def refused(fetched: FetchResult) -> None:  # qualification pages and images the fetch policy refused
        for notice in fetched.notices:
            if notice not in shown:
                shown.add(notice)
                _err(notice)

    try:
        app = build_app(AppConfig(db_url=db_url, packs=selection.packs, ocr_engine=ocr_engine,
                                  browser=not no_browser, timeout_s=timeout, evidence=not no_evidence))
    except BaseException:  # a bad --db: nothing is fetched for a command that stops here
        started.discard()
        raise
    # the findings first; the evidence of the stored run is taken right after (a seller waits for
    # the answer, not for the screenshots)
    result = app.scan(list(urls), kind=kind, store=not no_store, progress=refused,  # type: ignore[arg-type]
                      preserve=False, started=started)
    if result.browser_unavailable:
        _err(f"{result.browser_unavailable.rstrip('。')}，需要渲染的页面按静态 HTML 分析。")
    for failed in result.failed:
        _err(failed.error or f"无法获取 {failed.url}。")
    registry = {"loaded": result.registry_loaded, "description": result.registry_description,
                "skipped_rules": [] if result.registry_loaded else list(registry_rules())}
    if as_json:
        docs = [{**outcome_json(o), "registry": registry} for o in result.ok]
        if docs:
            payload = docs[0] if len(urls) == 1 else docs
            click.echo(json.dumps(payload, ensure_ascii=False, indent=2))
    elif result.ok:
        console = make_console()
        for outcome in result.ok:
            print_outcome(console, outcome)
            if note := outcome.extracted.get("browser_note"):
                console.print(f"[yellow]注意：{note}[/yellow]", soft_wrap=True)
        if not result.registry_loaded:
            console.print(f"[yellow]注意：{result.registry_description}，以下规则未执行："
                          f"{'、'.join(registry_rules())}。可用 mdwatch registry import 导入。[/yellow]")
    preserved = app.preserve(result) if not no_store else None
    if preserved is not None and preserved.error:
        _err(f"{preserved.error.rstrip('。')}；扫描结果已保存。")
    return EXIT_FETCH if result.failed else EXIT_OK


@cli.command(name="rules", help="列出全部规则及其法律依据和级别。")
@option("json")
def list_rules(as_json: bool) -> int:
    from rich.table import Table

    from mdwatch.analyzers.catalogue import rules
    from mdwatch.analyzers.registry import implemented_rules
    from mdwatch.scheduler.outputs.terminal import SEVERITY_STYLE, SEVERITY_ZH

    implemented = implemented_rules()
    if as_json:
        click.echo(json.dumps(
            [{"rule": r.id, "severity": r.severity, "title": r.title, "article": r.article,
              "pack": r.pack, "implemented": r.id in implemented} for r in rules().values()],
            ensure_ascii=False, indent=2))
        return EXIT_OK
    table = Table(title="mdwatch 规则目录")
    for col in ("规则", "名称", "级别", "依据", "状态"):
        table.add_column(col)
    for r in rules().values():
        table.add_row(r.id, r.title, f"[{SEVERITY_STYLE[r.severity]}]{SEVERITY_ZH[r.severity]}[/]", r.article,
                      "已实现" if r.id in implemented else "[dim]待实现[/dim]")
    make_console().print(table)
    return EXIT_OK


@cli.command(name="packs", help="列出规则包及其启用的规则和调整后的级别。")
@option("json")
def packs_command(as_json: bool) -> int:
    from rich.table import Table

    from mdwatch.analyzers.catalogue import rules
    from mdwatch.analyzers.packs import load_pack, pack_names
    from mdwatch.scheduler.outputs.terminal import SEVERITY_ZH

    catalogue = rules()
    loaded = [load_pack(name) for name in pack_names()]
    if as_json:
        click.echo(json.dumps(
            [{"pack": p.name, "title": p.title,
              "rules": [{"rule": r, "severity": p.severities.get(r, catalogue[r].severity)}
                        for r in catalogue if r in p.rules]} for p in loaded],
            ensure_ascii=False, indent=2))
        return EXIT_OK
    console = make_console()
    for p in loaded:
        table = Table(title=f"{p.name}：{p.title}（{len(p.rules)} 条规则）")
        for col in ("规则", "名称", "级别"):
            table.add_column(col)
        for rule_id, r in catalogue.items():
            if rule_id in p.rules:
                level = p.severities.get(rule_id, r.severity)
                changed = "（调整）" if rule_id in p.severities and level != r.severity else ""
                table.add_row(rule_id, r.title, f"{SEVERITY_ZH[level]}{changed}")
        console.print(table)
    return EXIT_OK


@cli.group(help="注册证数据库：导入、查询、统计。")
def registry() -> None:
    pass


@registry.command(name="import", help="导入 NMPA UDI 数据库发布包（ZIP/XML/目录）或注册证 CSV；可多次导入（日/周更新包覆盖更新）。")
@click.argument("paths", nargs=-1, required=True, type=click.Path(exists=True), metavar="PATH...")
@option("db")
def registry_import(paths: tuple[str, ...], db_url: str | None) -> int:
    from mdwatch.scheduler.jobs.registry import import_files

    return import_files(list(paths), db_url, make_console())


@registry.command(name="lookup", help="按注册证/备案编号查询注册信息。")
@click.argument("number")
@option("db")
@option("json")
def registry_lookup(number: str, db_url: str | None, as_json: bool) -> int:
    from mdwatch.scheduler.jobs.registry import lookup

    return lookup(number, db_url, as_json, make_console())


@registry.command(name="stats", help="注册证数据库统计。")
@option("db")
def registry_stats(db_url: str | None) -> int:
    from mdwatch.scheduler.jobs.registry import stats

    return stats(db_url, make_console())


@cli.group(help="内置演示平台。")
def demo() -> None:
    pass


@demo.command(name="serve", help="在 127.0.0.1 上启动演示平台，直到 Ctrl-C。")
@click.option("--port", type=int, default=8000, show_default=True)
def demo_serve(port: int) -> int:
    import time

    from mdwatch.demo.server import serve

    with serve(port=port) as server:
        click.echo(f"演示平台已启动：{server.base_url}/index.html（Ctrl-C 停止）")
        try:
            while True:
                time.sleep(3600)
        except KeyboardInterrupt:
            pass
    return EXIT_OK


@demo.command(name="run", help="启动演示平台，扫描全部页面，写入数据库并输出各规则汇总。")
@option("db")
@option("ocr-engine")
def demo_run(db_url: str | None, ocr_engine: str) -> int:
    from mdwatch.scheduler.jobs.demo import run_demo

    return run_demo(db_url, None if ocr_engine == "none" else ocr_engine)


@cli.command(help="按平台配置巡查整个平台（平台首页 → 店铺 → 商品），对每个页面执行与 scan 相同的检查。")
@click.argument("profile", metavar="PROFILE")
@click.option("--base-url", help="平台地址，填入配置中的 {base}（如 http://127.0.0.1:8000）。")
@option("db")
@click.option("--budget", type=click.IntRange(min=1), help="页面预算：本次巡查最多存储的页面数。")
@click.option("--resume", "resume", type=int, metavar="ID", help="续扫被中断的巡查（运行编号）。")
@click.option("--no-robots", is_flag=True, help="不遵守 robots.txt（默认遵守）。")
@click.option("--concurrency", type=click.IntRange(min=1), default=16, show_default=True, help="每个域名的并发请求数。")
@click.option("--workers", type=click.IntRange(min=0), help="分析进程数（默认按 CPU 数；0 为在抓取进程内分析）。")
@option("no-browser")
@click.option("--no-screenshots", is_flag=True, help="巡查结束后不为有发现的页面截图（更快；WARC 仍然写入）。")
@option("redis")
@click.option("--worker", is_flag=True, help="分布式巡查：作为工作进程加入 --resume ID 指定的巡查。")
@option("ocr-engine")
@click.option("--ocr-queue", is_flag=True,
              help="文字识别交给 --redis 队列中的 mdwatch ocr-worker 进程（可在其他机器上，按需增减）。")
@click.option("--ocr-max-images", type=click.IntRange(min=0), metavar="N",
              help="每个页面最多识别的图片数（去重后；其余记为未读并在证据中注明）。默认按平台配置，否则 12；0 为不设上限。")
@click.option("--guard-share", type=click.FloatRange(min=0, max=1, min_open=True), envvar="MDWATCH_GUARD_SHARE",
              help="精度警戒：一条规则在超过此比例的同类页面上触发时暂缓其线索（默认按平台配置，0.6；1 为关闭）。")
@option("packs")
def sweep(profile: str, base_url: str | None, db_url: str | None, budget: int | None, resume: int | None,
          no_robots: bool, concurrency: int, workers: int | None, no_browser: bool,
          redis_url: str | None, worker: bool, no_screenshots: bool, ocr_engine: str,
          guard_share: float | None = None, packs: str | None = None, ocr_queue: bool = False,
          ocr_max_images: int | None = None) -> int:
    from mdwatch.scheduler.app import AppConfig, build_app
    from mdwatch.scheduler.jobs.sweep import (
        SweepError,
        SweepFinishedElsewhere,
        SweepOptions,
        print_sweep_summary,
    )

    if base_url is not None:
        _check_url(base_url)
    if ocr_queue and not redis_url:
        raise click.UsageError("--ocr-queue 需要 --redis（或环境变量 MDWATCH_REDIS_URL）。")
    console = make_console()
    app = build_app(AppConfig(db_url=db_url, packs=_selection(packs).packs, ocr_engine=ocr_engine,
                              browser=not no_browser))
    options = SweepOptions(base_url=base_url, budget=budget, resume=resume,
                           obey_robots=not no_robots, concurrency=concurrency, workers=workers,
                           redis_url=redis_url or None, worker=worker, guard_share=guard_share,
                           ocr_queue=redis_url if ocr_queue else None, ocr_max_images=ocr_max_images,
                           extra_settings=(("MDWATCH_SCREENSHOTS", False),) if no_screenshots else ())
    try:
        result = app.sweep(profile, options, console=console)
    except SweepFinishedElsewhere as exc:
        console.print(str(exc))
        return EXIT_OK
    except SweepError as exc:
        _err(str(exc))
        return EXIT_USAGE
    print_sweep_summary(console, result)
    return EXIT_OK if result.status == "done" else 130


@cli.command(name="ocr-worker", help="文字识别工作进程：从 Redis 队列读取巡查的图片并识别（可在多台机器上运行）。")
@option("redis")
@click.option("--processes", type=click.IntRange(min=1), help="工作进程数（默认按 CPU 数）。")
@click.option("--burst", is_flag=True, help="队列为空时退出（默认一直等待新任务）。")
def ocr_worker(redis_url: str | None, processes: int | None, burst: bool) -> int:
    import os

    from mdwatch.scheduler.pipeline.ocr_queue import run_workers

    if not redis_url:
        raise click.UsageError("需要 --redis（或环境变量 MDWATCH_REDIS_URL）。")
    return run_workers(redis_url, processes=processes or os.cpu_count() or 1, burst=burst)


@cli.group(name="profile", help="平台配置（crawler/profiles/*.yaml）。")
def profile_group() -> None:
    pass


@profile_group.command(name="check", help="抓取一个页面，显示平台配置从中识别出的内容。")
@click.argument("profile", metavar="PROFILE")
@click.argument("url", metavar="URL")
@option("timeout")
def profile_check(profile: str, url: str, timeout: float) -> int:
    from mdwatch.scheduler.jobs.sweep import check_profile

    _check_url(url)
    return check_profile(profile, url, make_console(), timeout_s=timeout)


# the command groups defined in their own modules, added in one place
from mdwatch.scheduler.cli.campaign import campaign, lead  # noqa: E402
from mdwatch.scheduler.cli.evidence import evidence  # noqa: E402
from mdwatch.scheduler.cli.model import model  # noqa: E402
from mdwatch.scheduler.cli.notify import notify  # noqa: E402
from mdwatch.scheduler.cli.report import report  # noqa: E402
from mdwatch.scheduler.cli.runs import runs  # noqa: E402
from mdwatch.scheduler.cli.schedule import schedule, scheduler_group  # noqa: E402
from mdwatch.scheduler.cli.serve import serve  # noqa: E402
from mdwatch.scheduler.cli.users import user_group  # noqa: E402

for _group in (evidence, schedule, scheduler_group, campaign, lead, report, notify, runs, model, serve, user_group):
    cli.add_command(_group)


def main(argv: list[str] | None = None) -> None:
    try:
        rv = cli.main(args=argv, prog_name="mdwatch", standalone_mode=False)
    except click.UsageError as exc:
        _err(exc.format_message().replace("\n", " "))
        sys.exit(EXIT_USAGE)
    except click.ClickException as exc:
        _err(exc.format_message().replace("\n", " "))
        sys.exit(exc.exit_code)
    except click.Abort:
        _err("已中断。")
        sys.exit(130)
    except Exception as exc:
        # an unusable --db or default database: one line, exit 2 or 3. Only a command that opened
        # a database can raise it, so the storage stack is not imported to start every command
        database = sys.modules.get("mdwatch.storage.database")
        if database is None or not isinstance(exc, database.DatabaseError):
            raise
        _err(exc.message)
        sys.exit(exc.exit_code)
    sys.exit(rv if isinstance(rv, int) else EXIT_OK)


if __name__ == "__main__":
    main()
