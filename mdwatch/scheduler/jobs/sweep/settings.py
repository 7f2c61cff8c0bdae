"""The Scrapy settings of a sweep and the size of its analysis pool."""

from __future__ import annotations

import os
from typing import Any

from mdwatch.crawler.capture import FetchSettings
from mdwatch.scheduler.jobs.sweep.model import SweepOptions

__all__ = ["PIPELINE_PATH", "default_workers", "sweep_settings"]

# the package re-exports the pipeline, so this path stays valid wherever the class lives
PIPELINE_PATH = "mdwatch.scheduler.pipeline.sweep.SweepPipeline"


def default_workers() -> int:
    """Analysis processes: one per CPU beyond the crawl's own, at least one, at most four."""
    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    return max(1, min(cpus - 1, 4))


def _browser_settings() -> dict[str, Any]:
    """The browser's Scrapy settings (crawler/browser.py), or none while it is unavailable."""
    try:
        from mdwatch.crawler.browser import browser_settings
    except ImportError:
        return {}
    try:
        import scrapy_playwright  # noqa: F401
    except ImportError:
        return {}
    return dict(browser_settings())


def sweep_settings(options: SweepOptions) -> dict[str, Any]:
    """The Scrapy settings of a sweep (also used by the benchmark's bare spider, minus the pipeline)."""
    fetch = FetchSettings(timeout_s=options.timeout_s, user_agent=options.user_agent)
    concurrency = max(int(options.concurrency), 1)
    settings: dict[str, Any] = {
        "LOG_ENABLED": True,
        "LOG_LEVEL": "ERROR",
        "TELNETCONSOLE_ENABLED": False,  # no local remote-control endpoint
        "REMOTE_CONTROL_ENABLED": False,
        "COOKIES_ENABLED": False,
        "HTTPCACHE_ENABLED": False,
        "ROBOTSTXT_OBEY": options.obey_robots,
        "USER_AGENT": options.user_agent,
        "DOWNLOAD_TIMEOUT": options.timeout_s,
        "DNS_TIMEOUT": options.timeout_s,
        "DOWNLOAD_MAXSIZE": fetch.max_bytes,
        "DOWNLOAD_WARNSIZE": 0,
        "RETRY_ENABLED": options.retries > 0,
        "RETRY_TIMES": max(options.retries, 0),
        "REDIRECT_MAX_TIMES": fetch.max_redirects,
        "METAREFRESH_ENABLED": False,
        # politeness per domain; the global cap only keeps several platforms' slots apart
        "CONCURRENT_REQUESTS": concurrency * 4,
        "CONCURRENT_REQUESTS_PER_DOMAIN": concurrency,
        "DOWNLOAD_DELAY": 0,
        "AUTOTHROTTLE_ENABLED": options.autothrottle,
        "AUTOTHROTTLE_START_DELAY": 0.0,
        "AUTOTHROTTLE_MAX_DELAY": 10.0,
        "AUTOTHROTTLE_TARGET_CONCURRENCY": float(concurrency),
        # each response yields at most one item plus its links: a few parallel tasks suffice
        # (the default starts 100 per response)
        "CONCURRENT_ITEMS": 8,
        "EXTENSIONS": {
            "scrapy.extensions.telnet.TelnetConsole": None,
            "scrapy.extensions.memusage.MemoryUsage": None,
            "scrapy.extensions.logstats.LogStats": None,
        },
        "ITEM_PIPELINES": {PIPELINE_PATH: 300},
    }
    if options.browser:
        for key, value in _browser_settings().items():
            if key == "DOWNLOADER_MIDDLEWARES":
                settings.setdefault(key, {}).update(value)
            else:
                settings[key] = value
    settings.update(dict(options.extra_settings))
    return settings
