"""Parameter checks shared by the ``mdwatch`` commands: seconds and URLs (issue 10, item 7).

Both fail as a click usage error (exit 2) with one Chinese line that names the option and
what it accepts; a URL's password is never shown.
"""

from __future__ import annotations

import math
from typing import Any

import click

from mdwatch.crawler.urlcheck import shown_url, url_problem

__all__ = ["LATEST", "MAX_SECONDS", "RunRef", "Seconds", "check_url"]

MAX_SECONDS = 3600.0


class Seconds(click.FloatRange):
    """A positive, finite number of seconds, at most ``max`` (``min`` allowed only if ``min_open`` is off).

    Unlike :class:`click.FloatRange` it refuses ``nan`` and ``inf`` (a comparison with ``nan`` is
    always false, so FloatRange lets it through) and says so in Chinese.
    """

    name = "seconds"

    def __init__(self, min: float = 0.0, max: float = MAX_SECONDS, min_open: bool = True) -> None:
        super().__init__(min=min, max=max, min_open=min_open)

    def _accepted(self) -> str:
        low = f"大于 {self.min:g}" if self.min_open else f"不小于 {self.min:g}"
        return f"{low}、不超过 {self.max:g} 的秒数"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        name = "/".join(param.opts) if param is not None and param.opts else "秒数"
        shown = str(value)[:40]
        try:
            seconds = float(value)
        except (TypeError, ValueError):
            raise click.UsageError(f"{name} 的值无效：{shown} 不是数字，须为{self._accepted()}。", ctx) from None
        assert self.min is not None and self.max is not None
        too_low = seconds <= self.min if self.min_open else seconds < self.min
        if not math.isfinite(seconds) or too_low or seconds > self.max:
            raise click.UsageError(f"{name} 的值无效：{shown}，须为{self._accepted()}。", ctx)
        return seconds


def check_url(url: str) -> str:
    """``url`` if it can be fetched; else a usage error (exit 2) in one Chinese line, credentials hidden."""
    problem = url_problem(url)
    if problem is not None:
        raise click.UsageError(f"网址无效：{shown_url(url, 80)}：{problem}。")
    return url


LATEST = "latest"


class RunRef(click.ParamType):
    """A run: its number, or ``latest`` (the newest run of the kind the option names), so cron can
    run ``sweep`` → ``report --sweep latest`` → ``notify latest`` without knowing the number."""

    name = "run"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        if isinstance(value, int):
            return value
        text = str(value).strip()
        if text.lower() == LATEST:
            return LATEST
        if text.isdigit() and int(text) > 0:
            return int(text)
        name = "/".join(param.opts) if param is not None and param.opts else "运行编号"
        raise click.UsageError(f"{name} 的值无效：{text[:40]}，须为正整数或 latest。", ctx)
