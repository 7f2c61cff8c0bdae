"""``mdwatch serve``: the web console (监测工作台) and its JSON API, under uvicorn, on the same
application object the other commands build (``scheduler.app.build_app``)."""

from __future__ import annotations

import click

from mdwatch.scheduler.settings import option

EXIT_OK = 0


def _allow_list(value: str | None) -> tuple[str, ...]:
    return tuple(part for part in (value or "").replace(",", " ").split() if part)


@click.command(name="serve", help="启动监测工作台（网页与 JSON API，/api/docs 为接口说明），直到 Ctrl-C。")
@click.option("--host", default="127.0.0.1", show_default=True,
              help="监听地址（默认只在本机；对外提供服务请放在 https 反向代理之后）。")
@click.option("--port", type=click.IntRange(min=0, max=65535), default=8080, show_default=True, help="监听端口。")
@option("db")
@option("scan-allow")
@option("packs")
@option("ocr-engine")
@option("no-browser")
@option("timeout")
@click.option("--secure-cookies/--no-secure-cookies", default=None,
              help="会话 Cookie 是否带 Secure 标志（默认：经 https 访问时带上，含反向代理转发的 https）。")
def serve(host: str, port: int, db_url: str | None, scan_allow: str | None, packs: str | None, ocr_engine: str,
          no_browser: bool, timeout: float, secure_cookies: bool | None) -> int:
    import uvicorn

    from mdwatch.analyzers.packs import PackError
    from mdwatch.console import ConsoleSettings, create_console
    from mdwatch.scheduler.app import AppConfig, build_app

    try:
        app = build_app(AppConfig(db_url=db_url, packs=packs, ocr_engine=ocr_engine, browser=not no_browser,
                                  timeout_s=timeout, scan_allow=_allow_list(scan_allow)))
    except PackError as exc:
        raise click.UsageError(str(exc)) from exc
    asgi = create_console(app, ConsoleSettings(secure_cookies=secure_cookies))
    if not asgi.state.console.accounts.users():
        click.echo("mdwatch: 还没有任何账户：请先运行 mdwatch user add NAME --role admin（同一个 --db）。", err=True)
    shown = f"[{host}]" if ":" in host else host
    click.echo(f"监测工作台：http://{shown}:{port}/（接口说明 /api/docs；Ctrl-C 停止）")
    uvicorn.run(asgi, host=host, port=port, log_level="warning", proxy_headers=True)
    return EXIT_OK
