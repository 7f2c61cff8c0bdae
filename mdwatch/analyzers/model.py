"""The analyzers' data model: Page (the only input), Context, Finding and Evidence.

Plain frozen dataclasses, no I/O. ``scheduler`` converts crawler captures into Pages and
Findings into storage rows; analyzers never see either.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Literal, Protocol

from mdwatch.records import ListingSnapshot, Registration

if TYPE_CHECKING:
    from mdwatch.analyzers.claim_model import ClaimScorer

# platform / shop / product pages are judged by the rules (RULES.md "Page kinds"). listing (a list
# of listings: category, search-result, filter or paginated index page) and navigation (a shop
# directory, a calendar, a site map) only lead to them: stored as crawled navigation, judged by
# no rule, never a listing themselves (lexicons/page_kinds.yaml).
PageKind = Literal["platform", "shop", "product", "listing", "navigation"]
PAGE_KINDS: tuple[PageKind, ...] = ("platform", "shop", "product", "listing", "navigation")
NAVIGATION_KINDS: tuple[PageKind, ...] = ("listing", "navigation")
Severity = Literal["critical", "high", "medium", "low", "info"]
SEVERITIES: tuple[Severity, ...] = ("critical", "high", "medium", "low", "info")
EvidenceSource = Literal["text", "ocr", "structure"]


@dataclass(frozen=True, slots=True)
class TextBlock:
    """One visible run of text, as it stood on the page (after whitespace collapsing)."""

    text: str
    tag: str = "p"
    # shown only after a click: an inactive tab, a closed fold (<details>), a pop-up opened by a
    # button. Its information is on the page; a notice that must be shown continuously at a
    # prominent position (the mandated warnings) is not shown by it
    folded: bool = False


@dataclass(frozen=True, slots=True)
class ImageRef:
    src: str
    alt: str = ""
    caption: str = ""


@dataclass(frozen=True, slots=True)
class Link:
    href: str
    text: str = ""


@dataclass(frozen=True, slots=True)
class ImageText:
    """Text read from an image by OCR (filled by the OCR stage; empty until then)."""

    image_url: str
    text: str


@dataclass(frozen=True, slots=True)
class Page:
    """What an analyzer sees of one captured page.

    ``related`` holds pages judged together with this one: for a shop, its qualification page
    (资质 / 证照 / 营业执照 / 亮照) one link away.
    """

    url: str
    kind: PageKind
    title: str = ""
    blocks: tuple[TextBlock, ...] = ()
    images: tuple[ImageRef, ...] = ()
    links: tuple[Link, ...] = ()
    price: str | None = None
    fields: Mapping[str, str] = field(default_factory=dict)
    encoding: str = "utf-8"
    related: tuple[Page, ...] = ()
    image_texts: tuple[ImageText, ...] = ()
    # a traditional-Chinese page is analysed in simplified characters; this is its visible text
    # as shown (same length as ``text``, character for character), for quoting in evidence
    original_text: str | None = None
    # joined texts, computed once on first use (several analyzers read them)
    _text: str | None = field(default=None, init=False, repr=False, compare=False)
    _all_text: str | None = field(default=None, init=False, repr=False, compare=False)
    # what pure functions derive from the page once and several analyzers read (its numbers)
    _memo: dict[object, object] = field(default_factory=dict, init=False, repr=False, compare=False)

    @property
    def text(self) -> str:
        """All visible text of this page, one block per line (title first)."""
        if self._text is None:
            parts = [self.title] if self.title else []
            parts.extend(b.text for b in self.blocks)
            object.__setattr__(self, "_text", "\n".join(parts))
        return self._text  # type: ignore[return-value]

    def all_text(self) -> str:
        """Visible text of this page and of its related pages."""
        if self._all_text is None:
            joined = self.text if not self.related else "\n".join([self.text, *(p.text for p in self.related)])
            object.__setattr__(self, "_all_text", joined)
        return self._all_text  # type: ignore[return-value]

    def shown_text(self) -> str:
        """The text shown without a click (``text`` without folded blocks), and the related pages'."""
        pages = (self, *self.related)
        if not any(b.folded for p in pages for b in p.blocks):
            return self.all_text()
        parts: list[str] = []
        for p in pages:
            parts.extend([p.title] if p.title else [])
            parts.extend(b.text for b in p.blocks if not b.folded)
        return "\n".join(parts)

    def all_images(self) -> tuple[ImageRef, ...]:
        return self.images + tuple(i for p in self.related for i in p.images)

    def all_links(self) -> tuple[Link, ...]:
        return self.links + tuple(link for p in self.related for link in p.links)


@dataclass(frozen=True, slots=True)
class Evidence:
    source: EvidenceSource
    snippet: str
    match: str = ""
    image_url: str | None = None
    page_url: str | None = None
    detail: Mapping[str, str] = field(default_factory=dict)

    def to_json(self) -> dict[str, object]:
        out: dict[str, object] = {"source": self.source, "snippet": self.snippet, "match": self.match}
        if self.image_url:
            out["image_url"] = self.image_url
        if self.page_url:
            out["page_url"] = self.page_url
        if self.detail:
            out["detail"] = dict(self.detail)
        return out


@dataclass(frozen=True, slots=True)
class Finding:
    rule: str
    severity: Severity
    article: str
    message: str
    evidence: tuple[Evidence, ...] = ()

    def to_json(self) -> dict[str, object]:
        return {
            "rule": self.rule,
            "severity": self.severity,
            "article": self.article,
            "message": self.message,
            "evidence": [e.to_json() for e in self.evidence],
        }


@dataclass(frozen=True, slots=True)
class RegistrySnapshot:
    """The registry as far as one page needs it, looked up by the composition root beforehand.

    Analyzers stay pure: ``records`` maps each number looked up for this page to its record;
    a number in ``looked_up`` but not in ``records`` was not found. ``description`` says which
    registry was consulted (source, size, date) so a finding can say what "not found" means.
    """

    records: Mapping[str, Registration]
    looked_up: frozenset[str]
    loaded: bool
    complete: bool
    description: str


class RegistryLookup(Protocol):
    """Registration-database look-up (storage side), used by the composition root only."""

    def lookup(self, number: str) -> Registration | None: ...


@dataclass(frozen=True, slots=True)
class ListingHistory:
    """This capture of a listing and the listing's earlier captures (newest first), loaded by the
    composition root beforehand: what the history rules compare."""

    url: str  # the listing's address as requested (redirects keep one listing one history)
    fetched_at: datetime
    sha256: str
    previous: tuple[ListingSnapshot, ...] = ()


@dataclass(frozen=True, slots=True)
class Context:
    """Everything an analyzer may consult besides the page. No I/O behind it at call time."""

    now: datetime
    enabled_rules: frozenset[str] | None = None  # None: every rule
    registry: RegistrySnapshot | None = None  # None: no registry loaded; registry rules skip
    history: ListingHistory | None = None  # None: no earlier captures consulted (a one-off scan)
    # what the analyzers before this one found on the page (for analyzers that judge findings,
    # such as the history rules); set by the registry
    prior: tuple[Finding, ...] = ()
    # the trained claim classifier (loaded once per process by the page pipeline); None: the claim
    # rules run on their lexicons only (analyzers/claim_model.py)
    claim_model: ClaimScorer | None = None

    def enabled(self, rule: str) -> bool:
        return self.enabled_rules is None or rule in self.enabled_rules


Analyzer = Callable[[Page, Context], list[Finding]]
