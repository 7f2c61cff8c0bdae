"""What the sweep's spider hands to its pipeline: a captured page (:class:`SweepItem`) or a page
that could not be captured (:class:`SweepFailure`).

Apart from the spider so that the analysis worker processes, which receive these items pickled,
import neither Scrapy nor Twisted to read them (≈ 40 MB in every worker).
"""

from __future__ import annotations

from dataclasses import dataclass

from .capture import Capture
from .images import ImageCapture
from .profile import KindHint

__all__ = ["SweepFailure", "SweepItem"]


@dataclass(frozen=True, slots=True)
class SweepItem:
    """One captured page of a sweep (docs/design/sweeps.md)."""

    capture: Capture
    role: str  # platform | shop | product | page
    kind_hint: KindHint | None  # page kind for extraction; None: the heuristic decides
    shop_url: str | None = None  # the shop a product / listing page was found on
    related: tuple[Capture, ...] = ()  # qualification pages of a shop, one hop away
    via_browser: bool = False
    images: tuple[ImageCapture, ...] = ()  # images of the page and its related pages (fetch_images)


@dataclass(frozen=True, slots=True)
class SweepFailure:
    """A page of the sweep that could not be captured."""

    url: str
    role: str
    kind: str  # one of capture.ERROR_KINDS
    message: str  # one Chinese sentence
