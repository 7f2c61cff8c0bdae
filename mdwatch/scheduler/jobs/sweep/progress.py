"""The sweep's live progress line on the console."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from rich.console import Console
from rich.live import Live
from rich.text import Text

if TYPE_CHECKING:
    from mdwatch.scheduler.pipeline.sweep import SweepRuntime

__all__ = ["ProgressLine"]


class ProgressLine:
    """One live line: pages, findings, errors, pages/s."""

    def __init__(self, console: Console | None, already: int) -> None:
        self.console = console
        self.already = already
        self._live: Live | None = None
        self._last = 0.0

    def __enter__(self) -> ProgressLine:
        if self.console is not None and self.console.is_terminal:
            self._live = Live(Text("准备中……"), console=self.console, refresh_per_second=4, transient=False)
            self._live.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        if self._live is not None:
            self._live.__exit__(None, None, None)

    def line(self, rt: SweepRuntime) -> Text:
        done = rt.pages + self.already
        resumed = f"（含续扫前 {self.already} 页）" if self.already else ""
        return Text.assemble(
            ("巡查中 ", "bold"),
            f"已完成 {done} 页{resumed} · ",
            (f"发现 {rt.findings} 项", "red" if rt.findings else ""),
            f"（{rt.flagged} 页） · ",
            (f"错误 {rt.errors}", "yellow" if rt.errors else ""),
            f" · {rt.rate():.1f} 页/秒",
        )

    def update(self, rt: SweepRuntime) -> None:
        if self.console is None:
            return
        now = time.monotonic()
        if now - self._last < (0.2 if self._live is not None else 10.0):
            return
        self._last = now
        if self._live is not None:
            self._live.update(self.line(rt))
        else:  # not a terminal: a line every 10 s
            self.console.print(self.line(rt), soft_wrap=True)

    def final(self, rt: SweepRuntime) -> None:
        if self._live is not None:
            self._live.update(self.line(rt))
        elif self.console is not None:
            self.console.print(self.line(rt), soft_wrap=True)
