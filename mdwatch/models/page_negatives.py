"""Ordinary listing text as training negatives for the claim classifier (model card: README.md).

The writers' sentences hold claims and claim look-alikes but hardly any plain listing text, so a
model trained on them alone fired on ordinary prose in real pages (「很多城里的顾客买回去是给父母用的」
as an endorsement). Here the sentences the model would read on labelled product pages — cut and
selected exactly as the analyzer does (``analyzers.claim_model.model_sentences`` over
``analyzers.voices.page_seller_text``) — become negatives:

- a page labelled with no CLAIM_* rule: every sentence is a negative for every class (for
  ``disease`` see below);
- a page labelled with some claim rules: a sentence is a negative only for the classes the page is
  not labelled with, and only if the lexicons find (or rule out) nothing in it;
- ``disease`` (CLAIM_NONDEVICE_MEDICAL, and CLAIM_SCOPE_EXCEEDED, which also needs a disease
  claim): only from pages CLAIM_NONDEVICE_MEDICAL judges (no drug listing, no device number: the
  only pages where the model's disease class is used), and never a sentence in which the scope
  lexicon finds any indication or effect term. On a registered device's page a label without
  CLAIM_SCOPE_EXCEEDED says the claims stay within the registered scope, not that there are none,
  while the writers label every claimed effect on a disease (「一个月颈椎病就能好利索」) ``disease``.

Sources (read-only, in a source checkout): the format corpus's DEVELOPMENT half
(``tests/corpus/formats/dev``; its held-out half is never read), each page read as ``mdwatch scan``
and ``make eval`` read it (``models.scanned_pages``: rendered where the scan renders), and the demo
site (``mdwatch/demo/site``, labels in ``tests/corpus/pages.yaml``; JS twins are skipped, they
repeat a static page). These sentences are training data only: they never enter the held-out split.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mdwatch.analyzers.claim_model import CLASSES, lexicon_view, model_sentences

if TYPE_CHECKING:
    from mdwatch.analyzers.model import Page

__all__ = ["CLASS_LABEL_RULES", "PageSource", "checkout_sources", "harvest", "page_negatives"]

#: the page labels that say a page carries a claim of a class
CLASS_LABEL_RULES: dict[str, frozenset[str]] = {
    "guarantee": frozenset({"CLAIM_GUARANTEE"}),
    "absolute": frozenset({"CLAIM_ABSOLUTE"}),
    "endorsement": frozenset({"CLAIM_ENDORSEMENT"}),
    "comparative": frozenset({"CLAIM_COMPARATIVE"}),
    "disease": frozenset({"CLAIM_NONDEVICE_MEDICAL", "CLAIM_SCOPE_EXCEEDED"}),
}
WRITER = "pages"  # the Sentence.writer of every harvested negative


@dataclass(frozen=True, slots=True)
class LabelledPage:
    path: Path
    where: str  # provenance: the page's path relative to the checkout
    rules: frozenset[str]
    encoding: str | None = None
    # the folder the page is scanned from, as make eval scans the format corpus (models.scanned_pages:
    # rendered where the scan renders); None: the file is read as it is (the demo site's static pages)
    served_from: Path | None = None


@dataclass(frozen=True, slots=True)
class PageSource:
    """A labelled page corpus: its name (the cross-validation group of its sentences) and pages."""

    name: str
    pages: tuple[LabelledPage, ...] = field(default_factory=tuple)


def _checkout() -> Path:
    return Path(__file__).resolve().parents[2]


def checkout_sources(root: Path | None = None) -> list[PageSource]:
    """The format corpus's development writers (one source each) and the demo site, as labelled in
    a source checkout; empty outside one."""
    import yaml

    root = root or _checkout()
    out: list[PageSource] = []
    dev = root / "tests" / "corpus" / "formats" / "dev"
    for folder in sorted(p for p in dev.iterdir() if (p / "labels.yaml").is_file()) if dev.is_dir() else ():
        entries = yaml.safe_load((folder / "labels.yaml").read_text(encoding="utf-8")) or []
        pages = tuple(
            LabelledPage(folder / str(e["file"]), str((folder / str(e["file"])).relative_to(root)),
                         frozenset(str(r) for r in e.get("rules") or []), served_from=folder)
            for e in entries if isinstance(e, dict) and e.get("kind") == "product" and e.get("file"))
        out.append(PageSource(f"formats/dev/{folder.name}", pages))
    site, labels = root / "mdwatch" / "demo" / "site", root / "tests" / "corpus" / "pages.yaml"
    if site.is_dir() and labels.is_file():
        manifest = {str(e["path"]): e for e in json.loads((site / "manifest.json").read_text(encoding="utf-8"))}
        spec = yaml.safe_load(labels.read_text(encoding="utf-8")) or {}
        pages = tuple(
            LabelledPage(site / path.lstrip("/"), str((site / path.lstrip("/")).relative_to(root)),
                         frozenset(str(r) for r in entry.get("rules") or []),
                         manifest.get(path, {}).get("encoding"))
            for path, entry in sorted(spec.items())
            if isinstance(entry, dict) and entry.get("kind") == "product" and not entry.get("js")
            and (site / path.lstrip("/")).is_file())
        out.append(PageSource("demo", pages))
    return [s for s in out if s.pages]


def negative_classes(rules: Iterable[str]) -> frozenset[str]:
    """The classes a page labelled with ``rules`` holds no claim of."""
    labelled = set(rules)
    return frozenset(c for c in CLASSES if not CLASS_LABEL_RULES[c] & labelled)


def read_page(labelled: LabelledPage) -> Page | None:
    """The labelled page as the evaluation reads it: scanned from its folder, or its file extracted."""
    from mdwatch.analyzers.extract import ExtractError, extract_page
    from mdwatch.models.scanned_pages import scanned_pages

    if labelled.served_from is not None:
        folder = labelled.served_from
        return scanned_pages(folder, _product_files(folder)).get(str(labelled.path.relative_to(folder)))
    try:
        return extract_page(f"http://127.0.0.1/{labelled.path.name}", labelled.path.read_bytes(),
                            encoding=labelled.encoding, kind="product")
    except (OSError, ExtractError):
        return None


@cache
def _product_files(folder: Path) -> list[str]:
    """The files a writer's ``labels.yaml`` labels as product pages (one scan per folder; the file is
    read once, not once per page)."""
    import yaml

    entries = yaml.safe_load((folder / "labels.yaml").read_text(encoding="utf-8")) or []
    return [str(e["file"]) for e in entries if isinstance(e, dict) and e.get("kind") == "product" and e.get("file")]


def page_negatives(page: Page, rules: frozenset[str]) -> Iterator[tuple[str, frozenset[str]]]:
    """``(sentence, classes it is a negative for)`` of each sentence the model would read on the
    product page ``page`` labelled with ``rules`` (none when it is a negative for nothing)."""
    from datetime import UTC, datetime

    from mdwatch.analyzers.domain import is_drug_listing
    from mdwatch.analyzers.model import Context
    from mdwatch.analyzers.scope import _shows_device_number
    from mdwatch.analyzers.scope import find_claims as find_indication_claims
    from mdwatch.analyzers.voices import page_seller_text

    negative = negative_classes(rules)
    claim_labelled = any(r.startswith("CLAIM_") for r in rules)
    judged = not is_drug_listing(page) and not _shows_device_number(page, Context(now=datetime.now(UTC)))
    text = page_seller_text(page)
    for start, end, _norm in model_sentences(text, prose_only=True, title=page.title):
        sentence = text[start:end]
        _found, off = lexicon_view(sentence)
        if claim_labelled and off:
            continue  # on a page with claims, a sentence the lexicon has anything to say about is not safe
        classes = set(negative)
        if "disease" in classes and (not judged or find_indication_claims(sentence)):
            classes.discard("disease")
        if classes:
            yield sentence, frozenset(classes)


def harvest(sources: Sequence[PageSource], exclude: Iterable[str] = ()) -> tuple[list[Any], dict[str, Any]]:
    """The harvested negatives as training ``Sentence``s (writer ``pages``, deduplicated by
    normalised text, the classes a sentence is a negative for in ``known``; a text in ``exclude``
    — the writers' normalised sentences, whose labels win — is left out), and a summary for the
    model card (per source: pages, sentences; a digest of the pages read)."""
    from mdwatch.models.claim_training import Sentence

    excluded = set(exclude)
    seen: dict[str, int] = {}
    out: list[Sentence] = []
    digest = hashlib.sha256()
    summary: dict[str, Any] = {"sources": {}, "dropped_as_writer_text": 0, "duplicates": 0}
    for source in sources:
        counted = {"pages": 0, "sentences": 0, "all_classes": 0}
        for page in source.pages:
            counted["pages"] += 1
            digest.update(page.where.encode())
            digest.update(page.path.read_bytes())
            read = read_page(page)
            if read is None:
                continue
            for n, (sentence, classes) in enumerate(page_negatives(read, page.rules), 1):
                s = Sentence(f"{page.where}#{n}", WRITER, sentence, frozenset(), False, "page", "",
                             f"{source.name}:{page.where}", _norm(sentence), known=classes, group=source.name)
                if s.norm in excluded:
                    summary["dropped_as_writer_text"] += 1
                    continue
                if s.norm in seen:  # the same line on several pages: once, negative for what all agree on
                    i = seen[s.norm]
                    out[i] = Sentence(out[i].id, WRITER, out[i].text, frozenset(), False, "page", "", out[i].source,
                                      out[i].norm, known=out[i].known & classes, group=out[i].group)
                    summary["duplicates"] += 1
                    continue
                seen[s.norm] = len(out)
                out.append(s)
                counted["sentences"] += 1
                counted["all_classes"] += classes == frozenset(CLASSES)
        summary["sources"][source.name] = counted
    out = [s for s in out if s.known]
    summary["sentences"] = len(out)
    summary["per_class"] = {c: sum(c in s.known for s in out) for c in CLASSES}
    summary["pages_sha256"] = digest.hexdigest()
    return sorted(out, key=lambda s: s.id), summary


def _norm(sentence: str) -> str:
    from mdwatch.analyzers.claim_model import model_text

    return model_text(sentence)
