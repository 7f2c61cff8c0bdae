"""Every option shared by several commands, declared once as data (name, parameter, environment
variable, type, default, help) and turned into a click option by :func:`option`. The docs test
(tests/test_docs.py) reads the same table."""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar
from zoneinfo import ZoneInfo

import click

from mdwatch.scheduler.params import Seconds

__all__ = ["BEIJING", "DEFAULT_TZ", "ENV_TZ", "SETTINGS", "Setting", "display_tz", "option"]

# Times are stored in UTC and shown in Beijing time: reports, evidence and the terminal. Users of
# another region may set MDWATCH_TZ (or --tz) for what is shown on their terminal and schedules;
# evidence and reports handed to a bureau always say Beijing time.
DEFAULT_TZ = "Asia/Shanghai"
ENV_TZ = "MDWATCH_TZ"
BEIJING = ZoneInfo(DEFAULT_TZ)


def display_tz() -> ZoneInfo:
    """The time zone times are shown in on the terminal: $MDWATCH_TZ, else Beijing time."""
    name = os.environ.get(ENV_TZ, "").strip()
    try:
        return ZoneInfo(name) if name else BEIJING
    except (ValueError, KeyError):
        return BEIJING

F = TypeVar("F", bound=Callable[..., Any])


@dataclass(frozen=True, slots=True)
class Setting:
    flag: str  # the command-line option (--db)
    param: str  # the parameter the command receives
    help: str
    envvar: str | None = None
    default: Any = None
    type: Any = None
    is_flag: bool = False
    metavar: str | None = None
    callback: Callable[[click.Context, click.Parameter, Any], Any] | None = None  # checks the value first

    def decorator(self, required: bool = False) -> Callable[[F], F]:
        extra: dict[str, Any] = {"required": True} if required else {}
        if self.is_flag:
            extra["is_flag"] = True
        else:
            if self.type is not None:
                extra["type"] = self.type
            if self.default is not None:
                extra["default"] = self.default
                extra["show_default"] = True
        if self.metavar:
            extra["metavar"] = self.metavar
        if self.callback is not None:
            extra["callback"] = self.callback
        return click.option(self.flag, self.param, envvar=self.envvar, help=self.help, **extra)


OCR_ENGINES = ("rapidocr", "tesseract", "none")


def _check_db(ctx: click.Context, param: click.Parameter, value: Any) -> str | None:
    """``--db`` is opened before the command does any work: one Chinese line and exit 2 (a URL
    wrong as written) or 3 (a database that cannot be used), from ``cli.main``."""
    if value is None:
        return None
    from mdwatch.storage.database import open_engine, resolve_db_url

    url = resolve_db_url(str(value))
    open_engine(url).dispose()
    return url

SETTINGS: dict[str, Setting] = {
    s.flag.removeprefix("--"): s
    for s in (
        Setting("--db", "db_url", "数据库 URL（默认：用户数据目录下的 SQLite）。", envvar="MDWATCH_DB_URL",
                callback=_check_db),
        Setting("--packs", "packs", "规则包，逗号分隔（如 device-national,hainan；默认全部规则，目录级别）。"
                "mdwatch packs 列出可用的规则包。", envvar="MDWATCH_PACKS", metavar="PACK[,PACK]"),
        Setting("--ocr-engine", "ocr_engine", "识别页面图片文字（证照、宣传图）的 OCR 引擎；none 为不下载、不识别图片。",
                envvar="MDWATCH_OCR_ENGINE", default="rapidocr", type=click.Choice(OCR_ENGINES)),
        Setting("--no-browser", "no_browser", "不使用无头浏览器（需要 JavaScript 渲染的页面按静态 HTML 分析）。",
                is_flag=True),
        Setting("--timeout", "timeout", "单页抓取超时（秒）。", default=20.0, type=Seconds()),
        Setting("--tz", "tz", f"时区（默认：环境变量 {ENV_TZ}，否则 {DEFAULT_TZ}）。", envvar=ENV_TZ),
        Setting("--json", "as_json", "以 JSON 输出（字段见 docs/json.md）。", is_flag=True),
        Setting("--tsa", "tsa_url", "可信时间戳服务（RFC 3161 TSA）的 URL：导出证据包时为清单申请时间戳"
                "（manifest.tsr）；不设置则用本机密钥签名，时间为本机时间、未经可信时间戳。", envvar="MDWATCH_TSA_URL",
                metavar="URL"),
        Setting("--operator", "operator", "保管链中记录的操作人（默认：当前系统用户名）。",
                envvar="MDWATCH_OPERATOR", metavar="NAME"),
        Setting("--redis", "redis_url", "分布式巡查：共享抓取队列所在的 Redis（如 redis://127.0.0.1:6379/0）。",
                envvar="MDWATCH_REDIS_URL"),
        Setting("--scan-allow", "scan_allow", "工作台扫描白名单：在线检测表单默认拒绝内网、本机回环和链路本地地址；"
                "此处列出允许检测的来源（http://10.1.2.3:8080 或 10.1.2.3:8080：仅该主机和端口）或主机名"
                "（intranet.example：任意端口及其子域名），逗号分隔。", envvar="MDWATCH_CONSOLE_SCAN_ALLOW",
                metavar="ORIGIN[,ORIGIN]"),
    )
}


def option(name: str, *, required: bool = False) -> Callable[[F], F]:
    """The click option of the shared setting ``name`` (``"db"``, ``"packs"`` …); ``required``
    where a command cannot run without it (a campaign's packs)."""
    return SETTINGS[name].decorator(required)
