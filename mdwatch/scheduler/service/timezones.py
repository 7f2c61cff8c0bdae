"""The scheduler's time zone and how times are shown to users."""

from __future__ import annotations

import os
from datetime import datetime, tzinfo
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from mdwatch.scheduler.service.errors import ScheduleError
from mdwatch.scheduler.settings import DEFAULT_TZ, ENV_TZ


def resolve_tz(name: str | None = None) -> ZoneInfo:
    """``name``, else ``$MDWATCH_TZ``, else Asia/Shanghai."""
    key = (name or os.environ.get(ENV_TZ, "").strip() or DEFAULT_TZ).strip()
    try:
        return ZoneInfo(key)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ScheduleError(f"未知的时区：{key}") from exc


def _fmt_time(value: datetime | None, tz: tzinfo) -> str:
    if value is None:
        return "—"
    return value.astimezone(tz).strftime("%Y-%m-%d %H:%M:%S")
