"""Chinese labels, the order of severities, times in Beijing time and the platform of a page.

Shared by the report builder, its renderers and the notifications (``notify.py``), so a label
reads the same in a report and in the e-mail that announces it.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

from mdwatch.scheduler.outputs.labels import KIND_ZH as KIND_ZH
from mdwatch.scheduler.outputs.labels import RUN_KIND_ZH as RUN_KIND_ZH
from mdwatch.scheduler.outputs.labels import SEVERITIES
from mdwatch.scheduler.outputs.labels import SEVERITY_ZH as SEVERITY_ZH
from mdwatch.scheduler.settings import BEIJING

SHANGHAI = BEIJING  # one definition: scheduler.settings
SEVERITY_ORDER: tuple[str, ...] = SEVERITIES
NO_SHOP = "（无店铺）"


def shanghai(when: datetime | None) -> str:
    """``2026-05-01 10:00:00`` in Asia/Shanghai ('' for None)."""
    if when is None:
        return ""
    if when.tzinfo is None:  # the database hands back naive UTC (SQLite keeps no zone)
        when = when.replace(tzinfo=UTC)
    return when.astimezone(SHANGHAI).strftime("%Y-%m-%d %H:%M:%S")


def severity_rank(severity: str) -> int:
    """Position in :data:`SEVERITY_ORDER` (most severe first); an unknown severity sorts last."""
    return SEVERITY_ORDER.index(severity) if severity in SEVERITY_ORDER else len(SEVERITY_ORDER)


def platform_of(stats: dict[str, Any], url: str) -> str:
    """The sweep's platform profile (``runs.stats["profile"]``) if it has one, else the URL's host."""
    profile = stats.get("profile")
    if isinstance(profile, str) and profile:
        return profile
    return urlsplit(url).netloc or url
