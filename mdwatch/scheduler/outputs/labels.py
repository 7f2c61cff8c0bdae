"""The Chinese words the outputs use for severities, page kinds and run kinds, defined once, so
the terminal, a report and the notification that announces it read the same."""

from __future__ import annotations

__all__ = ["KIND_ZH", "RUN_KIND_ZH", "SEVERITIES", "SEVERITY_STYLE", "SEVERITY_ZH"]

SEVERITIES: tuple[str, ...] = ("critical", "high", "medium", "low", "info")  # most severe first
SEVERITY_ZH = {"critical": "严重", "high": "高", "medium": "中", "low": "低", "info": "提示"}
SEVERITY_STYLE = {"critical": "bold red", "high": "red", "medium": "yellow", "low": "cyan", "info": "dim"}
KIND_ZH = {"platform": "平台首页", "shop": "店铺页", "product": "商品页", "listing": "列表页", "navigation": "导航页"}
RUN_KIND_ZH = {"sweep": "巡查", "scan": "扫描", "demo": "演示", "campaign": "专项监测"}
