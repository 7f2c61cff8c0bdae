"""Triggers: crontab expressions (crontab's day-of-week numbering) and fixed intervals."""

from __future__ import annotations

from datetime import tzinfo
from typing import Any

from mdwatch.scheduler.service.errors import ScheduleError

_WEEKDAYS = ("sun", "mon", "tue", "wed", "thu", "fri", "sat")


def _dow_to_apscheduler(field_: str) -> str:
    """A crontab day-of-week field (0/7 = Sunday) as APScheduler 3.x names (its 0 is Monday)."""
    if field_ == "*":
        return "*"
    names = {name: i for i, name in enumerate(_WEEKDAYS)}
    days: set[int] = set()

    def day(token: str) -> int:
        token = token.lower()
        if token in names:
            return names[token]
        if token.isdigit() and 0 <= int(token) <= 7:
            return int(token) % 7
        raise ScheduleError(f"无效的星期字段：{field_}")

    for part in field_.split(","):
        base, _, step_s = part.partition("/")
        step = int(step_s) if step_s.isdigit() and int(step_s) > 0 else None
        if step_s and step is None:
            raise ScheduleError(f"无效的星期字段：{field_}")
        if base == "*":
            first, last = 0, 6
        elif "-" in base:
            a, b = base.split("-", 1)
            first, last = day(a), int(b) if b == "7" else day(b)
        else:
            first = last = day(base)
            if step:
                last = 6
        if last < first:
            raise ScheduleError(f"无效的星期字段：{field_}")
        days.update(d % 7 for d in range(first, last + 1, step or 1))
    return ",".join(_WEEKDAYS[d] for d in sorted(days))


def parse_cron(expr: str, tz: tzinfo) -> Any:
    """A ``CronTrigger`` from a crontab expression.

    Five fields (minute hour day month day-of-week) as in crontab, or six with seconds first
    (second minute hour day month day-of-week). Day of week follows crontab (0 or 7 = Sunday).
    """
    from apscheduler.triggers.cron import CronTrigger

    fields = expr.split()
    if len(fields) == 5:
        fields = ["0", *fields]
    if len(fields) != 6:
        raise ScheduleError(f"cron 表达式应有 5 个字段（分 时 日 月 周）或 6 个字段（秒 分 时 日 月 周）：{expr}")
    second, minute, hour, day, month, dow = fields
    try:
        return CronTrigger(second=second, minute=minute, hour=hour, day=day, month=month,
                           day_of_week=_dow_to_apscheduler(dow), timezone=tz)
    except ValueError as exc:
        raise ScheduleError(f"无效的 cron 表达式：{expr}（{exc}）") from exc


def make_trigger(cron: str | None, every: int | None, tz: tzinfo) -> tuple[Any, str]:
    """The trigger and its plan as shown to users (``cron：0 2 * * *（Asia/Shanghai）``)."""
    if (cron is None) == (every is None):
        raise ScheduleError("请给出 --cron 或 --every 之一。")
    if cron is not None:
        return parse_cron(cron, tz), f"cron：{' '.join(cron.split())}（{tz}）"
    from apscheduler.triggers.interval import IntervalTrigger

    assert every is not None
    if every < 1:
        raise ScheduleError("--every 至少为 1 秒。")
    return IntervalTrigger(seconds=every, timezone=tz), f"每 {every} 秒"
