"""``mdwatch demo run``: serve the bundled demo platform, sweep it with the demo profile, summarise."""

from __future__ import annotations

from rich.console import Console

from mdwatch.demo.registry import registry_paths
from mdwatch.demo.server import serve
from mdwatch.scheduler.jobs.sweep import SweepOptions, print_sweep_summary, run_sweep
from mdwatch.scheduler.outputs.terminal import make_console
from mdwatch.storage.config import default_db_url, normalize_db_url
from mdwatch.storage.registry_import import import_paths


def run_demo(db_url: str | None = None, ocr_engine: str | None = "rapidocr") -> int:
    """Import the demo registry, then sweep the demo platform with OCR of its images (one process: call once)."""
    console = make_console()
    url = normalize_db_url(db_url or default_db_url())
    console.print("导入演示注册证数据库……")
    for report in import_paths(url, registry_paths()):
        console.print(report.summary_zh(), soft_wrap=True)
    with serve() as server:
        console.print(f"演示平台：{server.base_url}/index.html，按平台配置 demo 巡查全平台。")
        result = run_sweep("demo", SweepOptions(db_url=url, base_url=server.base_url, ocr_engine=ocr_engine), console=console)
    print_sweep_summary(console, result)
    _console_hint(console, url)
    return 0 if result.status == "done" and not result.errors else 3


def _console_hint(console: Console, url: str) -> None:
    """How to open the web console on the demo's data (the same --db)."""
    import shlex

    from sqlalchemy.engine import make_url

    db = shlex.quote(make_url(url).render_as_string(hide_password=True))
    console.print("在监测工作台（网页）查看演示数据：先创建管理员账户，再启动工作台，然后用浏览器打开 "
                  "http://127.0.0.1:8080/ 以 admin 登录：", soft_wrap=True)
    console.print(f"  mdwatch user add admin --role admin --db {db}", soft_wrap=True, markup=False, highlight=False)
    console.print(f"  mdwatch serve --db {db}", soft_wrap=True, markup=False, highlight=False)
