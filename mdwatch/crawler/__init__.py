"""mdwatch.crawler: fetches pages and captures them as immutable evidence.

Public surface: ``fetch_pages`` and the data types in :mod:`mdwatch.crawler.capture`.
Importing this package does not import Scrapy; ``fetch_pages`` does, on first call.
"""

from __future__ import annotations

from .capture import ERROR_KINDS, Capture, FetchError, FetchResult, FetchSettings, FrozenHeaders
from .fetch import fetch_pages
from .images import ImageCapture

__all__ = ["ERROR_KINDS", "Capture", "FetchError", "FetchResult", "FetchSettings", "FrozenHeaders", "ImageCapture",
           "fetch_pages"]
