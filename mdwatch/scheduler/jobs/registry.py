"""``mdwatch registry import|lookup|stats``: the registration database from the command line."""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path

import click
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, DownloadColumn, Progress, TaskID, TextColumn, TimeRemainingColumn

from mdwatch.storage.config import default_db_url, normalize_db_url
from mdwatch.storage.registry_import import ImportReport, RegistryImportError, import_path
from mdwatch.storage.registry_store import RegistryStore

STATUS_ZH = {"valid": "有效", "cancelled": "注销", "revoked": "撤销", "expired": "过期"}


def import_files(paths: list[str], db_url: str | None, console: Console) -> int:
    """0 imported; 2 a path refused or an import stopped (one line on stderr; earlier paths stay imported)."""
    url = normalize_db_url(db_url or default_db_url())
    reports: list[ImportReport] = []
    failure: str | None = None
    with Progress(TextColumn("{task.description}"), BarColumn(), DownloadColumn(), TimeRemainingColumn(),
                  console=console, transient=True) as bar:
        for path in paths:
            task = bar.add_task(f"导入 {escape(Path(path).name)}", total=None)

            def progress(done: int, total: int, task: TaskID = task) -> None:
                bar.update(task, completed=done, total=total or None)

            try:
                reports.append(import_path(url, path, progress))
            except RegistryImportError as exc:  # refused, or stopped by a limit (issue 10, item 5)
                failure = str(exc)
                break
    for report in reports:
        console.print(report.summary_zh(), soft_wrap=True, markup=False)
    if failure is not None:
        click.echo(f"mdwatch: {failure}", err=True)
        return 2
    with RegistryStore.open(url) as store:
        console.print(store.stats().description_zh(), soft_wrap=True)
    return 0


def lookup(number: str, db_url: str | None, as_json: bool, console: Console) -> int:
    with RegistryStore.open(normalize_db_url(db_url or default_db_url())) as store:
        loaded = store.is_loaded()
        rec = store.lookup(number) if loaded else None
    if as_json:
        doc = {k: (v.isoformat() if hasattr(v, "isoformat") else v) for k, v in asdict(rec).items()} if rec else None
        console.print_json(json.dumps({"number": number, "found": rec is not None, "record": doc},
                                      ensure_ascii=False))
        return 0
    if not loaded:
        console.print("未加载注册证数据库：请先运行 mdwatch registry import。")
        return 0
    if rec is None:
        console.print(f"未找到 {number}。")
        return 0
    rows = [
        ("注册证/备案编号", rec.number), ("产品名称", rec.product_name), ("注册人/备案人", rec.registrant),
        ("生产企业", rec.manufacturer), ("型号规格", "；".join(rec.model_specs)), ("结构及组成", rec.structure),
        ("适用范围", rec.scope), ("管理类别", f"第{rec.device_class}类" if rec.device_class else "未知"),
        ("分类编码", rec.category_code), ("批准日期", str(rec.approved_on or "")),
        ("有效期至", str(rec.valid_until) if rec.valid_until else
         ("未知（UDI 数据不含有效期）" if rec.source == "udid" else "无（备案凭证不设有效期）")),
        ("状态", "未知（UDI 数据不含状态）" if rec.source == "udid" else STATUS_ZH.get(rec.status, rec.status)),
        ("商品名称", "；".join(rec.brand_names)), ("数据来源", rec.source),
    ]
    for label, value in rows:
        if value:
            console.print(f"{label}：{value}", soft_wrap=True, markup=False)
    return 0


def stats(db_url: str | None, console: Console) -> int:
    with RegistryStore.open(normalize_db_url(db_url or default_db_url())) as store:
        st = store.stats()
    console.print(st.description_zh(), soft_wrap=True)
    if st.by_status:
        console.print("按状态：" + "，".join(f"{STATUS_ZH.get(k, k)} {v}" for k, v in st.by_status.items()))
    if st.by_class:
        console.print("按类别：" + "，".join(f"{k} 类 {v}" for k, v in sorted(st.by_class.items())))
    return 0
