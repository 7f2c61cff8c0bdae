"""``mdwatch demo run``: serve the bundled demo platform, scan every page, store, summarise."""

from __future__ import annotations

from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from mdwatch.crawler.capture import FetchResult
from mdwatch.demo.registry import registry_paths
from mdwatch.demo.server import page_paths, serve
from mdwatch.scheduler.jobs import scan_urls
from mdwatch.scheduler.render import make_console, print_rule_summary
from mdwatch.storage.config import default_db_url, normalize_db_url
from mdwatch.storage.registry_import import import_paths


def run_demo(db_url: str | None = None) -> int:
    console = make_console()
    paths = [p for kind in ("platform", "shop", "product") for p in page_paths(kind)]
    url = normalize_db_url(db_url or default_db_url())
    console.print("导入演示注册证数据库……")
    for report in import_paths(url, registry_paths()):
        console.print(report.summary_zh(), soft_wrap=True)
    with serve() as server:
        console.print(f"演示平台：{server.base_url}/index.html，共 {len(paths)} 个页面待扫描。")
        urls = [server.base_url + p for p in paths]
        with Progress(TextColumn("扫描中"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                      console=console, transient=False) as bar:
            task = bar.add_task("scan", total=len(urls))

            def advance(_: FetchResult) -> None:
                bar.advance(task)

            result = scan_urls(urls, db_url=url, run_kind="demo", progress=advance)
    for failed in result.failed:
        console.print(f"[red]抓取失败：{failed.error}[/red]")
    findings = sum(len(o.findings) for o in result.ok)
    flagged = sum(1 for o in result.ok if o.findings)
    console.print(
        f"扫描完成：{len(result.ok)} 个页面，{flagged} 个页面存在问题，共 {findings} 项发现；"
        f"运行编号 {result.run_id}（已写入数据库）。",
        soft_wrap=True,
    )
    print_rule_summary(console, result.ok, "各规则汇总（涉及页面数）")
    return 0 if not result.failed else 3
