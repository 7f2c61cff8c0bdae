"""Detection quality on the format corpus: listings in formats the developers did not write.

``tests/corpus/formats/<half>/<writer>/`` (``dev`` for tuning, ``heldout`` never looked at while
tuning; see ``tests/corpus/README.md``) holds a writer's pages, their labels (``labels.yaml``)
and the registrations they refer to (``registry.csv``). Each writer's folder is served on
127.0.0.1 and its pages go through ``mdwatch scan``'s own path (``scan_urls``: fetch, browser for
pages that need it, extraction with page-kind detection, registry look-ups, analyzers), without
OCR: the corpus has no image files, an image counts as what its alt text or caption says.
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from mdwatch.models.scanned_pages import serve_folder

FORMATS = Path(__file__).resolve().parents[1] / "tests" / "corpus" / "formats"
HALVES = ("dev", "heldout")
#: the rules the format corpus is labelled for (tests/corpus/formats/INSTRUCTIONS.md)
FORMAT_RULES: tuple[str, ...] = (
    "PRODUCT_CERT_MISSING", "PRODUCT_REGNO_MISSING", "PRODUCT_REGNO_INVALID", "PRODUCT_UNREGISTERED",
    "PRODUCT_REG_INVALID_STATUS", "PRODUCT_INFO_MISMATCH", "PRODUCT_WARNING_RETAIL_MISSING",
    "PRODUCT_WARNING_FITTING_MISSING", "PRODUCT_DETAIL_INCOMPLETE", "PRODUCT_RETAIL_BANNED",
    "CLAIM_ABSOLUTE", "CLAIM_GUARANTEE", "CLAIM_ENDORSEMENT", "CLAIM_COMPARATIVE", "CLAIM_SCOPE_EXCEEDED",
    "CLAIM_NONDEVICE_MEDICAL",
    "SHOP_QUALIFICATION_MISSING", "SHOP_LICENSE_NO_INVALID", "SHOP_CONTACT_MISSING",
    "SHOP_BUSINESS_LICENSE_MISSING", "SHOP_SCOPE_EXCEEDED", "SHOP_LICENSE_EXPIRED",
    "PLATFORM_FILING_MISSING",
    "DRUG_RX_WARNING_MISSING", "DRUG_RX_NOT_DISTINGUISHED", "DRUG_RX_INFO_BEFORE_REVIEW", "DRUG_PROMOTION_BANNED",
)
SCORED_KINDS = ("product", "shop", "platform")
#: acceptance on the held-out half (micro-averaged over FORMAT_RULES)
TARGET_PRECISION = 0.95
TARGET_RECALL = 0.9
RULE_PRECISION_FLOOR = 0.9  # for every rule that fired at least RULE_MIN_FIRED times
RULE_MIN_FIRED = 5


@dataclass(frozen=True, slots=True)
class FormatItem:
    """One labelled page and what mdwatch found on it."""

    id: str  # half/writer/file
    format: str
    kind: str  # as labelled
    detected_kind: str  # as mdwatch's page-kind detection saw it ("" when the fetch failed)
    expected: frozenset[str]
    predicted: frozenset[str]


def writers(half: str, root: Path = FORMATS) -> list[Path]:
    base = root / half
    if not base.is_dir():
        return []
    return sorted(p for p in base.iterdir() if (p / "labels.yaml").is_file())


def load_labels(folder: Path) -> list[dict[str, Any]]:
    data = yaml.safe_load((folder / "labels.yaml").read_text(encoding="utf-8")) or []
    return [entry for entry in data if isinstance(entry, dict) and entry.get("file")]


def writer_items(folder: Path, browser: bool = True) -> list[FormatItem]:
    """Scan one writer's pages as ``mdwatch scan`` would (no OCR) and pair them with their labels."""
    from mdwatch.crawler.capture import FetchSettings
    from mdwatch.scheduler.jobs.scan import scan_urls
    from mdwatch.storage.registry_import import import_paths

    entries = [e for e in load_labels(folder) if e.get("kind") in SCORED_KINDS]
    if not entries:
        return []
    half = folder.parent.name
    with tempfile.TemporaryDirectory() as tmp, serve_folder(folder) as base:
        db_url = f"sqlite:///{Path(tmp) / 'eval.sqlite3'}"
        registry = folder / "registry.csv"
        if registry.is_file():
            import_paths(db_url, [registry])
        urls = [f"{base}/{e['file']}" for e in entries]
        result = scan_urls(urls, db_url=db_url, store=False, settings=FetchSettings(timeout_s=15),
                           ocr_engine=None, browser=browser)
    items = []
    for entry, outcome in zip(entries, result.outcomes, strict=True):
        predicted = frozenset(f.rule for f in outcome.findings) if outcome.ok else frozenset({"<抓取失败>"})
        detected = outcome.page.kind if outcome.page is not None else ""
        expected = frozenset(str(r) for r in entry.get("rules") or [])
        items.append(FormatItem(f"{half}/{folder.name}/{entry['file']}", str(entry.get("format", "")),
                                str(entry["kind"]), detected, expected, predicted))
    return items


def half_items(half: str, root: Path = FORMATS, browser: bool = True) -> list[FormatItem]:
    return [item for folder in writers(half, root) for item in writer_items(folder, browser)]


@dataclass(frozen=True, slots=True)
class Micro:
    tp: int
    fp: int
    fn: int

    @property
    def precision(self) -> float:
        return self.tp / (self.tp + self.fp) if self.tp + self.fp else 1.0

    @property
    def recall(self) -> float:
        return self.tp / (self.tp + self.fn) if self.tp + self.fn else 1.0


def micro(items: list[FormatItem]) -> Micro:
    tp = fp = fn = 0
    for item in items:
        for rule in FORMAT_RULES:
            hit, want = rule in item.predicted, rule in item.expected
            tp += hit and want
            fp += hit and not want
            fn += want and not hit
    return Micro(tp, fp, fn)


def acceptance_problems(items: list[FormatItem]) -> list[str]:
    """Why ``items`` (the held-out half) misses the targets; empty when it meets them."""
    from devtools.evaluation import score

    problems = []
    total = micro(items)
    if total.precision < TARGET_PRECISION:
        problems.append(f"微平均精确率 {total.precision:.3f} < {TARGET_PRECISION}")
    if total.recall < TARGET_RECALL:
        problems.append(f"微平均召回率 {total.recall:.3f} < {TARGET_RECALL}")
    scores = score(((i.id, set(i.expected), set(i.predicted)) for i in items), FORMAT_RULES)
    for rule, s in scores.items():
        if s.tp + s.fp >= RULE_MIN_FIRED and s.precision < RULE_PRECISION_FLOOR:
            problems.append(f"{rule} 精确率 {s.precision:.3f} < {RULE_PRECISION_FLOOR}（触发 {s.tp + s.fp} 次）")
    return problems
