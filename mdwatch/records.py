"""Plain record types that cross the analyzers/storage boundary, defined once.

The analyzers (pure) and storage never import each other; both import these. A registration as the
registration database holds it is the same value whether storage returns it or an analyzer reads
it; a listing's history snapshot likewise.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

__all__ = ["ListingSnapshot", "Registration"]


@dataclass(frozen=True, slots=True)
class Registration:
    """One registration certificate or class I filing, as the registration database holds it."""

    number: str
    product_name: str = ""
    registrant: str = ""
    manufacturer: str = ""
    model_specs: tuple[str, ...] = ()
    structure: str = ""
    scope: str = ""
    device_class: int | None = None
    category_code: str = ""
    approved_on: date | None = None
    valid_until: date | None = None
    status: str = "valid"  # valid | cancelled | revoked | expired
    brand_names: tuple[str, ...] = ()
    source: str = ""  # csv | udid


@dataclass(frozen=True, slots=True)
class ListingSnapshot:
    """What history needs to remember of one capture of one listing.

    ``warnings``: the mandated warnings shown ("retail", "fitting", "rx"); ``claims``: canonical
    claim terms found; ``rules``: every rule that fired. ``seen_until``: the last time the same
    content (same ``sha256``) was seen again, if later than ``fetched_at`` (storage keeps an
    unchanged page once and only moves this forward).
    """

    url: str
    fetched_at: datetime
    sha256: str
    price: float | None
    original_price: float | None
    rules: frozenset[str]
    warnings: frozenset[str]
    claims: frozenset[str]
    seen_until: datetime | None = None

    @property
    def last_seen(self) -> datetime:
        return self.seen_until if self.seen_until is not None else self.fetched_at
